import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { appleScepEnrollments } from '../../server/infra/db/schema';
import { fetchEnrollmentProfile } from '../helpers/apple-scep-client';
import { openAppleWorld, type AppleWorld } from './apple-enrollment.helpers';

/**
 * Debian's `scepclient` (micromdm/scep, package `scep`, installed by scripts/setup.sh) against
 * Cartable's SCEP endpoint: an independent implementation, in Go, of the client side. It sends
 * DES-CBC envelopes and SHA-1 signatures, and re-encodes the answer's signed attributes to
 * check them, which an unsorted SET would fail.
 */

const SCEPCLIENT = process.env.SCEPCLIENT_PATH ?? '/usr/bin/scepclient';

/**
 * One run in a folder of its own, with its key and certificate: scepclient keeps the CSR and
 * self-signed certificate it made beside them, and reuses them when it finds them.
 */
function scepclient(args: string[]): Promise<{ code: number; output: string; certificate: string }> {
  const cwd = mkdtempSync(join(dir, 'run-'));
  const certificate = join(cwd, 'cert.pem');
  return new Promise((resolve) => {
    execFile(SCEPCLIENT, [...args, '-private-key', join(cwd, 'key.pem'), '-certificate', certificate], { cwd, timeout: 60_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}`, certificate });
    });
  });
}

let world: AppleWorld;
let dir: string;

beforeAll(async () => {
  if (!existsSync(SCEPCLIENT)) throw new Error(`${SCEPCLIENT} is missing: install Debian's scep package (scripts/setup.sh does it as root)`);
  world = await openAppleWorld();
  dir = mkdtempSync(join(tmpdir(), 'cartable-scepclient-'));
});
afterAll(async () => {
  await world.close();
  rmSync(dir, { recursive: true, force: true });
});

async function challenge(): Promise<{ url: string; challenge: string }> {
  const created = await world.createToken();
  const { scep } = await fetchEnrollmentProfile(created.apple.enrollmentUrl);
  return { url: scep.URL, challenge: scep.Challenge };
}

it("obtains a certificate with the enrollment profile's challenge", async () => {
  const { url, challenge: secret } = await challenge();
  const result = await scepclient(['-server-url', url, '-challenge', secret, '-cn', 'DMPXK0002', '-keySize', '2048']);
  expect(result).toMatchObject({ code: 0 });

  const cert = new X509Certificate(readFileSync(result.certificate));
  expect(cert.checkIssued(new X509Certificate(world.t.services.pki.caCertPem()))).toBe(true);
  expect(cert.keyUsage).toContain('1.3.6.1.5.5.7.3.2');
  const check = world.t.services.pki.verifyDeviceCertificate(cert.toString());
  if (!check.ok) throw new Error(check.reason);
  const [row] = await world.t.infra.database.db.select().from(appleScepEnrollments).where(eq(appleScepEnrollments.fingerprintSha256, check.fingerprintSha256));
  expect(row?.deviceId).toBe(check.deviceId);
});

it('is refused with failInfo badRequest for a wrong challenge', async () => {
  const { url } = await challenge();
  const result = await scepclient(['-server-url', url, '-challenge', '0'.repeat(40), '-cn', 'DMPXK0003']);
  expect(result.code).not.toBe(0);
  expect(result.output).toMatch(/failInfo: badRequest/);
  expect(existsSync(result.certificate)).toBe(false);
});
