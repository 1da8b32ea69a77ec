import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { validateSchema } from '../../agent-protocol/src';
import { renderQr } from '../../server/infra/qr';
import { provisioningPayload } from '../../server/platforms/agent/provisioning-qr';
import { orgWithSchools } from '../integration/enrollment.helpers';
import { createPrincipalToken } from '../helpers/auth';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * The agent APK that `npm run build:agent` built (scripts/setup.sh builds it, so that tests do not
 * pay for the build): Debian's tools check it, its signing certificate gives the checksum a
 * provisioning QR code must carry, and a school's QR code served by a real server carries it once
 * the organisation settings name that APK.
 */
const ROOT = join(__dirname, '../..');
const APK = join(ROOT, 'dist/agent/cartable-agent.apk');

/** The provisioning checksum as Android computes it: base64url of the signing certificate's SHA-256. */
function signatureChecksum(): string {
  const certs = execFileSync('apksigner', ['verify', '--print-certs', APK], { encoding: 'utf8' });
  const digest = /SHA-256 digest: ([0-9a-f]{64})/.exec(certs)?.[1];
  expect(digest).toBeDefined();
  return Buffer.from(digest!, 'hex').toString('base64url');
}

let env: TestEnv | undefined;
let t: TestApp | undefined;
beforeAll(() => {
  if (!existsSync(APK)) throw new Error(`${APK} is missing: build it with npm run build:agent (scripts/setup.sh does)`);
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

describe('the Android agent APK', () => {
  it('is signed, aligned, a device admin, and ships only the agent’s own classes', () => {
    const out = execFileSync('bash', [join(ROOT, 'agent-protocol/android/check-apk.sh'), APK], { encoding: 'utf8' });
    expect(out).toContain('APK checks passed');
  });

  it('gives the provisioning checksum the build printed, which makes a valid QR code with the agent’s component', () => {
    const checksum = signatureChecksum();
    expect(readFileSync(`${APK}.checksum`, 'utf8').trim()).toBe(checksum);
    expect(execFileSync('aapt', ['dump', 'badging', APK], { encoding: 'utf8' })).toContain("package: name='fr.cartable.agent'");

    const payload = provisioningPayload('https://mdm.example.org', {
      agentPackage: { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/files/cartable-agent.apk', signatureChecksum: checksum },
      token: 'Zk9q3vR2xW8pL4nB6yT1cH5jM0aS7dFe',
      extras: {},
    });
    expect(validateSchema('ProvisioningQr', payload).ok).toBe(true);
  });

  it('is what a school’s QR code carries once the organisation settings are given its address and checksum', async () => {
    env = await createTestEnv({ CARTABLE_PUBLIC_URL: 'https://mdm.example.org' });
    t = await startTestApp(env);
    const tree = await orgWithSchools(t.infra.database.db);
    const admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: tree.org.id });
    const api = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: object) => t!.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, payload });

    const checksum = readFileSync(`${APK}.checksum`, 'utf8').trim();
    expect(checksum).toBe(signatureChecksum());
    const agentPackage = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/files/cartable-agent.apk', signatureChecksum: checksum };
    expect((await api('PATCH', '/organisation/settings/agent-package', agentPackage)).json()).toEqual(agentPackage);
    const created = await api('POST', '/enrollment-tokens', { schoolId: tree.schools[0]!.id, label: 'Tablettes CM1' });
    expect(created.statusCode).toBe(201);
    const { token, enrollmentToken } = created.json() as { token: string; enrollmentToken: { id: string } };

    const json = await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=json`);
    expect(json.statusCode).toBe(200);
    const payload = json.json() as Record<string, unknown>;
    expect(validateSchema('ProvisioningQr', payload).ok).toBe(true);
    expect(payload).toMatchObject({
      'android.app.extra.PROVISIONING_DEVICE_ADMIN_COMPONENT_NAME': 'fr.cartable.agent/.AdminReceiver',
      'android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION': agentPackage.downloadUrl,
      'android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM': checksum,
      'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'fr.cartable.agent.SERVER_URL': 'https://mdm.example.org', 'fr.cartable.agent.ENROLLMENT_TOKEN': token },
    });
    // The images served encode that very payload.
    expect((await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=svg`)).body).toBe(String(await renderQr(JSON.stringify(payload), 'svg')));
    expect((await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=png`)).rawPayload.equals(Buffer.from(await renderQr(JSON.stringify(payload), 'png')))).toBe(true);

    // Named by its catalog version instead, the checksum is read from the APK by the server, and the QR code's address serves that very file.
    const apk = readFileSync(APK);
    const uploaded = await t!.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/vnd.android.package-archive' }, payload: apk });
    expect(uploaded.statusCode).toBe(201);
    const fromCatalog = await api('PATCH', '/organisation/settings/agent-package', { appVersionId: uploaded.json().version.id });
    expect(fromCatalog.statusCode).toBe(200);
    expect(fromCatalog.json()).toMatchObject({ componentName: 'fr.cartable.agent/.AdminReceiver', signatureChecksum: signatureChecksum() });
    const qr = (await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=json`)).json() as Record<string, string>;
    expect(qr['android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM']).toBe(signatureChecksum());
    const location = new URL(qr['android.app.extra.PROVISIONING_DEVICE_ADMIN_PACKAGE_DOWNLOAD_LOCATION']!);
    expect(location.origin).toBe('https://mdm.example.org');
    const served = await t!.app.inject({ method: 'GET', url: location.pathname + location.search });
    expect(served.statusCode).toBe(200);
    expect(served.rawPayload.equals(apk)).toBe(true);
  }, 60_000);
});
