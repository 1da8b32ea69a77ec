import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import plist from 'plist';
import { buildOnce, npxCartable, type CliResult } from '../helpers/cli';
import { queryDatabase } from '../helpers/databases';
import { createTestEnv, startTestApp, type TestEnv } from '../helpers/test-env';

const TEMPLATES = join(__dirname, '..', '..', 'profiles');
const TEMPLATE = join(TEMPLATES, 'mode-examen.json');
const GOLDEN = join(__dirname, '..', 'fixtures', 'profiles', 'golden', 'templates');
const scratch = mkdtempSync(join(tmpdir(), 'cartable-profile-cli-'));
let env: TestEnv;

// Each npx start costs seconds on a busy machine; a test makes several.
jest.setTimeout(120_000);

beforeAll(async () => {
  await buildOnce();
  env = await createTestEnv();
}, 300_000);
afterAll(async () => {
  await env.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const cartable = (...args: string[]): Promise<CliResult> => npxCartable(['profile', ...args], { env: env.env });
const warningPaths = (stderr: string, platform: string) => stderr.trim().split('\n').map((line) => new RegExp(`^warning \\(${platform}\\): (\\S+): `).exec(line)?.[1]);

describe('npx cartable profile', () => {
  it('validates a template, and reports each problem of a broken profile with its JSON path', async () => {
    expect(await cartable('validate', TEMPLATE)).toMatchObject({ code: 0, stdout: `${TEMPLATE}: valid\n` });

    const broken = join(scratch, 'broken.json');
    writeFileSync(broken, JSON.stringify({ schemaVersion: 1, id: 'essai', version: 1, name: 'Essai', wifi: [{ ssid: 'Ecole', security: 'wpa2' }], restrictions: { camra: false } }));
    const res = await cartable('validate', broken);
    expect(res.code).toBe(1);
    expect(res.stdout).toBe(`${broken}: /restrictions/camra: Unexpected property\n${broken}: 1 problem(s)\n`);
    writeFileSync(broken, JSON.stringify({ schemaVersion: 1, id: 'essai', version: 1, name: 'Essai', wifi: [{ ssid: 'Ecole', security: 'wpa2' }] }));
    expect((await cartable('validate', broken)).stdout).toBe(`${broken}: /wifi/0/password: is required for security wpa2\n${broken}: 1 problem(s)\n`);

    writeFileSync(broken, '{ "schemaVersion": 1,');
    expect(await cartable('validate', broken)).toMatchObject({ code: 1, stdout: expect.stringMatching(/^.*broken\.json: \/: not JSON: /) });
    const compiled = await cartable('compile', broken, '--platform', 'android');
    expect(compiled).toMatchObject({ code: 1, stdout: '' });
    expect(compiled.stderr).toMatch(/broken\.json: \/: not JSON/);
  });

  it('exits 2 when called the wrong way', async () => {
    expect((await cartable('compile', TEMPLATE)).code).toBe(2);
    expect((await cartable('compile', TEMPLATE, '--platform', 'blackberry')).stderr).toBe('cartable: --platform must be one of ios, android, windows, amapi\n');
    expect((await cartable('validate')).code).toBe(2);
    expect((await cartable('frobnicate', TEMPLATE)).code).toBe(2);
  });

  it('prints the agent policy as JSON and the SyncML body, with the warnings on stderr', async () => {
    const android = await cartable('compile', TEMPLATE, '--platform', 'android');
    expect(android.code).toBe(0);
    const state = JSON.parse(android.stdout) as { version: number; policy: { applications: Array<{ installType?: string }>; cameraDisabled: boolean } };
    expect(state).toMatchObject({ version: 1, policy: { cameraDisabled: true, applications: [{ packageName: 'fr.education.evaluation.exemple', installType: 'KIOSK' }] } });
    expect(warningPaths(android.stderr, 'android')).toEqual(['/kiosk/autoLock', '/kiosk/rotation']);

    const windows = await cartable('compile', TEMPLATE, '--platform', 'windows');
    expect(windows.code).toBe(0);
    expect(windows.stdout).toMatch(/^<SyncBody>\n[\s\S]*<LocURI>\.\/Vendor\/MSFT\/AssignedAccess\/Configuration<\/LocURI>[\s\S]*<Final\/>\n<\/SyncBody>\n$/);
    expect(warningPaths(windows.stderr, 'windows')).toEqual(['/restrictions/screenshots', '/kiosk/volumeButtons', '/kiosk/autoLock', '/kiosk/rotation']);
  });

  it('prints the Android Management API policy of every template, as its reviewed golden file holds it', async () => {
    const templates = readdirSync(TEMPLATES).filter((f) => f.endsWith('.json'));
    expect(templates.length).toBeGreaterThan(0);
    for (const file of templates) {
      const compiled = await cartable('compile', join(TEMPLATES, file), '--platform', 'amapi');
      expect(compiled.code).toBe(0);
      const golden = JSON.parse(readFileSync(join(GOLDEN, file.replace(/\.json$/, '.amapi.json')), 'utf8')) as { policy: unknown; warnings: { path: string }[] };
      expect(JSON.parse(compiled.stdout)).toEqual(golden.policy);
      expect(warningPaths(compiled.stderr, 'amapi').filter(Boolean)).toEqual(golden.warnings.map((w) => w.path));
    }
  });

  it('signs the .mobileconfig with an identity issued by the server’s CA, which openssl verifies', async () => {
    const noCa = await cartable('compile', TEMPLATE, '--platform', 'ios');
    expect(noCa).toMatchObject({ code: 1, stdout: '' });
    expect(noCa.stderr).toMatch(/^cartable: no master secret: .*\(run this where the server's secret is\)\n$/);
    const unsigned = await cartable('compile', TEMPLATE, '--platform', 'ios', '--unsigned');
    expect(plist.parse(unsigned.stdout)).toMatchObject({ PayloadType: 'Configuration', PayloadIdentifier: 'fr.cartable.profile.mode-examen' });

    const server = await startTestApp(env);
    await server.close();
    const [ca] = await queryDatabase<{ cert_pem: string }>(env.config.DATABASE_URL, "select cert_pem from certificate_authorities where name = 'device'");
    writeFileSync(join(scratch, 'ca.pem'), ca!.cert_pem);

    const signed = await cartable('compile', TEMPLATE, '--platform', 'ios');
    expect(signed.code).toBe(0);
    expect(warningPaths(signed.stderr, 'ios')).toEqual(['/kiosk']);
    writeFileSync(join(scratch, 'mode-examen.mobileconfig'), signed.stdoutBytes);
    execFileSync('openssl', ['cms', '-verify', '-CAfile', join(scratch, 'ca.pem'), '-inform', 'DER', '-in', join(scratch, 'mode-examen.mobileconfig'), '-out', join(scratch, 'content.xml')], { stdio: 'pipe' });
    expect(readFileSync(join(scratch, 'content.xml'), 'utf8')).toBe(unsigned.stdout);
    const signer = execFileSync('openssl', ['cms', '-cmsout', '-print', '-inform', 'DER', '-in', join(scratch, 'mode-examen.mobileconfig')]).toString();
    expect(signer).toMatch(/Cartable profile signing/);
  });
});
