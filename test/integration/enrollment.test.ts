import { execFileSync } from 'node:child_process';
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq, inArray, sql } from 'drizzle-orm';
import { Value } from '@sinclair/typebox/value';
import { ProvisioningQr } from '../../agent-protocol/src';
import { auditEvents, devices, deviceCertificates } from '../../server/infra/db/schema';
import { createCsr } from '../../server/infra/pki';
import { createPrincipalToken } from '../helpers/auth';
import { PNG_SIGNATURE_HEX, jsonOf, orgWithSchools } from './enrollment.helpers';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof orgWithSchools>>;
let admin: string;
let technician: string;
let director: string;

const AGENT_PACKAGE = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/files/cartable-agent.apk', signatureChecksum: 'AQ-JFbwqXp-bcoy10pS3mkcKtPrl3RS-i-o7nz-bvXI' };
const hardware = (serial: string) => ({ serial, manufacturer: 'samsung', model: 'SM-X210', androidVersion: '14', sdkInt: 34 });
const agent = { packageName: 'fr.cartable.agent', versionName: '1.0.0', versionCode: 10000 };

function ecCsr() {
  const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return createCsr({ keyPair, commonName: 'fr.cartable.agent' });
}

async function api(method: 'GET' | 'POST' | 'PATCH', url: string, token: string, payload?: object) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, payload });
}

async function newToken(body: Record<string, unknown> = {}) {
  const res = await api('POST', '/enrollment-tokens', technician, { schoolId: tree.schools[0]!.id, label: 'Chariot CM1', ...body });
  expect(res.statusCode).toBe(201);
  return res.json() as { token: string; enrollmentToken: { id: string } };
}

function enroll(token: string, csr = ecCsr(), serial = `SER${Math.random().toString(36).slice(2, 10)}`) {
  return t.app.inject({ method: 'POST', url: '/agent/v1/enroll', payload: { token, csr, hardware: hardware(serial), agent } });
}

beforeAll(async () => {
  env = await createTestEnv({ CARTABLE_PUBLIC_URL: 'https://mdm.example.org' });
  t = await startTestApp(env);
  tree = await orgWithSchools(t.infra.database.db);
  const orgId = tree.org.id;
  admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: orgId });
  technician = await createPrincipalToken(t.services, { role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id, organisationId: orgId });
  director = await createPrincipalToken(t.services, { role: 'director', scopeType: 'school', scopeId: tree.schools[0]!.id, organisationId: orgId });
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

describe('enrollment tokens', () => {
  it('creates a token in scope, refuses other schools with 404 and directors with 403', async () => {
    const { token, enrollmentToken } = await newToken({ maxUses: 30 });
    expect(token).toMatch(/^cet_[A-Za-z0-9_-]{32}$/);
    expect(enrollmentToken).toMatchObject({ state: 'active', uses: 0, maxUses: 30 });
    expect(JSON.stringify(enrollmentToken)).not.toContain(token);
    expect((await api('POST', '/enrollment-tokens', technician, { schoolId: tree.schools[1]!.id, label: 'x' })).statusCode).toBe(404);
    expect((await api('POST', '/enrollment-tokens', director, { schoolId: tree.schools[0]!.id, label: 'x' })).statusCode).toBe(403);
    expect((await api('POST', '/enrollment-tokens', technician, { schoolId: tree.schools[0]!.id, label: 'x', extra: 1 })).statusCode).toBe(400);
    const list = await api('GET', '/enrollment-tokens', technician);
    expect(list.json().items.map((i: { id: string }) => i.id)).toContain(enrollmentToken.id);
    const [audit] = await t.infra.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'enrollment_token.create'), eq(auditEvents.targetId, enrollmentToken.id)));
    expect(audit).toBeDefined();
  });

  it('renders the provisioning QR code once the agent package is set by an administrator', async () => {
    const { token, enrollmentToken } = await newToken();
    expect((await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr`, technician)).json().code).toBe('agent_package_missing');
    expect((await api('PATCH', '/organisation/settings/agent-package', technician, AGENT_PACKAGE)).statusCode).toBe(403);
    expect((await api('PATCH', '/organisation/settings/agent-package', admin, { ...AGENT_PACKAGE, downloadUrl: 'http://insecure' })).statusCode).toBe(400);
    expect((await api('PATCH', '/organisation/settings/agent-package', admin, AGENT_PACKAGE)).statusCode).toBe(200);

    const json = await api('POST', `/enrollment-tokens/${enrollmentToken.id}/qr`, technician, { format: 'json', wifi: { ssid: 'ECOLE-PEDAGO', securityType: 'WPA', password: 'secret' } });
    const payload = jsonOf(json.body);
    expect(payload['android.app.extra.PROVISIONING_DEVICE_ADMIN_SIGNATURE_CHECKSUM']).toBe(AGENT_PACKAGE.signatureChecksum);
    expect(payload['android.app.extra.PROVISIONING_WIFI_SSID']).toBe('ECOLE-PEDAGO');
    expect(payload['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE']).toEqual({ 'fr.cartable.agent.SERVER_URL': 'https://mdm.example.org', 'fr.cartable.agent.ENROLLMENT_TOKEN': token });

    const png = await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=png`, technician);
    expect(png.headers['content-type']).toBe('image/png');
    expect(png.rawPayload.subarray(0, 8).toString('hex')).toBe(PNG_SIGNATURE_HEX);
    const svg = await api('GET', `/enrollment-tokens/${enrollmentToken.id}/qr?format=svg`, technician);
    expect(svg.body).toMatch(/^<svg/);
  });

  it('carries an 802.1X network with its proxy, the locale, the time zone and the setup options, as the protocol defines them', async () => {
    const { token, enrollmentToken } = await newToken();
    expect((await api('PATCH', '/organisation/settings/agent-package', admin, AGENT_PACKAGE)).statusCode).toBe(200);
    const wifi = { ssid: 'ECOLE-8021X', securityType: 'EAP', eapMethod: 'PEAP', phase2Auth: 'MSCHAPV2', identity: 'tablettes', anonymousIdentity: 'anonymous@ecoles.example.org', password: 'pw', domain: 'radius.ecoles.example.org', caCertificate: 'MIIBxjCCAW2g', proxyHost: 'proxy.ecoles.example.org', proxyPort: 3128, proxyBypass: 'mdm.example.org' };
    const res = await api('POST', `/enrollment-tokens/${enrollmentToken.id}/qr`, technician, { format: 'json', wifi, locale: 'fr_FR', timeZone: 'Europe/Paris', allowOffline: true, skipEducationScreens: true });
    expect(res.statusCode).toBe(200);
    const payload = jsonOf(res.body);
    expect(Value.Check(ProvisioningQr, payload)).toBe(true);
    expect(payload).toMatchObject({
      'android.app.extra.PROVISIONING_WIFI_SECURITY_TYPE': 'EAP',
      'android.app.extra.PROVISIONING_WIFI_EAP_METHOD': 'PEAP',
      'android.app.extra.PROVISIONING_WIFI_PHASE2_AUTH': 'MSCHAPV2',
      'android.app.extra.PROVISIONING_WIFI_DOMAIN': 'radius.ecoles.example.org',
      'android.app.extra.PROVISIONING_WIFI_PROXY_PORT': 3128,
      'android.app.extra.PROVISIONING_LOCALE': 'fr_FR',
      'android.app.extra.PROVISIONING_TIME_ZONE': 'Europe/Paris',
      'android.app.extra.PROVISIONING_ALLOW_OFFLINE': true,
      'android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE': { 'fr.cartable.agent.SERVER_URL': 'https://mdm.example.org', 'fr.cartable.agent.ENROLLMENT_TOKEN': token, 'fr.cartable.agent.SKIP_EDUCATION_SCREENS': 'true' },
    });
    // Combinations Android would reject, or that would weaken the network's security, are refused.
    const qr = (body: object) => api('POST', `/enrollment-tokens/${enrollmentToken.id}/qr`, technician, { format: 'json', ...body });
    expect((await qr({ wifi: { ssid: 'X', securityType: 'EAP' } })).json().code).toBe('wifi_eap_method_missing');
    expect((await qr({ wifi: { ...wifi, domain: undefined } })).json().code).toBe('wifi_domain_missing');
    expect((await qr({ wifi: { ssid: 'X', proxyHost: 'p' } })).json().code).toBe('wifi_proxy_incomplete');
    expect((await qr({ locale: 'French' })).statusCode).toBe(400);
  });
});

describe('POST /agent/v1/enroll', () => {
  it('creates the device in the token school and returns a certificate chaining to the CA', async () => {
    const { token } = await newToken();
    const res = await enroll(token, ecCsr(), 'R9TW30ABCDE');
    expect(res.statusCode).toBe(201);
    const body = res.json();
    expect(body.endpoints).toEqual({ ws: 'wss://mdm.example.org/agent/v1/ws', http: 'https://mdm.example.org/agent/v1' });
    const cert = new X509Certificate(body.certificate);
    const ca = new X509Certificate(body.chain[0]);
    expect(cert.verify(ca.publicKey)).toBe(true);
    expect(cert.subject).toContain(`CN=${body.deviceId}`);
    const [device] = await t.infra.database.db.select().from(devices).where(eq(devices.id, body.deviceId));
    expect(device).toMatchObject({ schoolId: tree.schools[0]!.id, serial: 'R9TW30ABCDE', model: 'SM-X210', platform: 'android', status: 'active' });
  });

  it('answers a retry of the same key and token with the same device even when the token is used up', async () => {
    const { token } = await newToken({ maxUses: 1 });
    const csr = ecCsr();
    const first = await enroll(token, csr, 'RETRY0001');
    const second = await enroll(token, csr, 'RETRY0001');
    expect(second.statusCode).toBe(201);
    expect(second.json().deviceId).toBe(first.json().deviceId);
    const third = await enroll(token, ecCsr(), 'RETRY0002');
    expect(third.json()).toMatchObject({ status: 403, code: 'token_exhausted' });
  });

  it('retires the previous record of a re-enrolled serial and revokes its certificate', async () => {
    const { token } = await newToken();
    const first = (await enroll(token, ecCsr(), 'RESET0001')).json();
    const second = (await enroll(token, ecCsr(), 'RESET0001')).json();
    expect(second.deviceId).not.toBe(first.deviceId);
    const [old] = await t.infra.database.db.select().from(devices).where(eq(devices.id, first.deviceId));
    expect(old!.status).toBe('retired');
    const [cert] = await t.infra.database.db.select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, first.deviceId));
    expect(cert!.revokedAt).not.toBeNull();
  });

  it('replaces a silent record only within the token school, audited; another school cannot take it over', async () => {
    const { token } = await newToken();
    const first = (await enroll(token, ecCsr(), 'CART0042')).json();
    // A token of another school (a leaked QR code) claims the serial of the silent tablet.
    const other = await api('POST', '/enrollment-tokens', admin, { schoolId: tree.schools[1]!.id, label: 'Autre école' });
    const claim = await enroll(other.json().token, ecCsr(), 'CART0042');
    expect(claim.statusCode).toBe(409);
    expect(claim.json()).toMatchObject({ code: 'serial_in_use' });
    const [still] = await t.infra.database.db.select().from(devices).where(eq(devices.id, first.deviceId));
    expect(still!.status).toBe('active');
    // The tablet's own school re-enrolls it after a factory reset: the old record is retired, and it is audited.
    const again = (await enroll(token, ecCsr(), 'CART0042')).json();
    const [replaced] = await t.infra.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'device.replaced'), eq(auditEvents.targetId, first.deviceId)));
    expect(replaced).toMatchObject({ outcome: 'success', schoolId: tree.schools[0]!.id, details: expect.objectContaining({ by: again.deviceId, serial: 'CART0042' }) });
  });

  it('validates strictly, as over the WebSocket: a number sent as a string is refused', async () => {
    const { token } = await newToken();
    const res = await t.app.inject({ method: 'POST', url: '/agent/v1/enroll', payload: { token, csr: ecCsr(), hardware: { ...hardware('STRICT01'), sdkInt: '34' }, agent } });
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed' });
  });

  it('refuses to take over the serial of a device that is still in contact', async () => {
    const { token } = await newToken();
    const first = (await enroll(token, ecCsr(), 'LIVE0001')).json();
    await t.infra.database.db.update(devices).set({ lastSeenAt: new Date() }).where(eq(devices.id, first.deviceId));
    const claim = await enroll(token, ecCsr(), 'LIVE0001');
    expect(claim.statusCode).toBe(409);
    expect(claim.json()).toMatchObject({ code: 'serial_in_use' });
    const [still] = await t.infra.database.db.select().from(devices).where(eq(devices.id, first.deviceId));
    expect(still!.status).toBe('active');
    const [cert] = await t.infra.database.db.select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, first.deviceId));
    expect(cert!.revokedAt).toBeNull();
  });

  it.each([
    ['unknown', 'token_unknown', async (): Promise<string> => 'not-a-token'],
    ['expired', 'token_expired', async (): Promise<string> => {
      const { token, enrollmentToken } = await newToken();
      await t.infra.database.pool.query(`update enrollment_tokens set expires_at = now() - interval '1 second' where id = $1`, [enrollmentToken.id]);
      return token;
    }],
    ['revoked', 'token_revoked', async (): Promise<string> => {
      const { token, enrollmentToken } = await newToken();
      expect((await api('POST', `/enrollment-tokens/${enrollmentToken.id}/revoke`, technician)).json().state).toBe('revoked');
      return token;
    }],
    ['used up', 'token_exhausted', async (): Promise<string> => {
      const { token } = await newToken({ maxUses: 1 });
      expect((await enroll(token)).statusCode).toBe(201);
      return token;
    }],
  ] as const)('refuses a %s token with 403 %s', async (_label, code, make) => {
    const res = await enroll(await make());
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 403, code });
  });

  it('refuses a CSR whose signature is wrong, a garbage CSR and a small RSA key', async () => {
    const { token } = await newToken();
    const good = ecCsr();
    const b64 = good.split('\n').filter((l) => !l.startsWith('-----')).join('');
    const der = Buffer.from(b64, 'base64');
    der.writeUInt8(der[der.length - 5]! ^ 0xff, der.length - 5);
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect((await enroll(token, tampered)).json()).toMatchObject({ status: 400, code: 'csr_bad_signature' });
    expect((await enroll(token, 'garbage')).json()).toMatchObject({ status: 400, code: 'csr_invalid' });
    const smallKey = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyFile = join(mkdtempSync(join(tmpdir(), 'csr-')), 'key.pem');
    writeFileSync(keyFile, smallKey);
    const small = execFileSync('openssl', ['req', '-new', '-key', keyFile, '-subj', '/CN=x', '-sha256'], { encoding: 'utf8' });
    expect((await enroll(token, small)).json()).toMatchObject({ status: 400, code: 'csr_invalid' });
    const invalid = await t.app.inject({ method: 'POST', url: '/agent/v1/enroll', payload: { token, csr: good, hardware: { serial: 'x' }, agent } });
    expect(invalid.json()).toMatchObject({ status: 400, code: 'validation_failed' });
  });
});

describe('enrollments racing for a token', () => {
  it('gives a token of N uses to exactly N of the tablets enrolling at once, and to no more', async () => {
    const { token, enrollmentToken } = await newToken({ maxUses: 3 });
    const results = await Promise.all(Array.from({ length: 8 }, () => enroll(token)));
    expect(results.map((r) => r.statusCode).sort()).toEqual([201, 201, 201, 403, 403, 403, 403, 403]);
    expect(new Set(results.filter((r) => r.statusCode === 403).map((r) => r.json().code))).toEqual(new Set(['token_exhausted']));
    const created = await t.infra.database.db.select().from(devices).where(sql`${devices.facts}->'enrollment'->>'tokenId' = ${enrollmentToken.id}`);
    expect(created).toHaveLength(3);
    const view = (await api('GET', `/enrollment-tokens/${enrollmentToken.id}`, technician)).json();
    expect(view).toMatchObject({ uses: 3, state: 'exhausted' });
    const certificates = await t.infra.database.db.select().from(deviceCertificates).where(inArray(deviceCertificates.deviceId, created.map((d) => d.id)));
    expect(certificates).toHaveLength(3);
  });

  it('enrolls a cart arriving at once together, each tablet still getting its own answer', async () => {
    const { token, enrollmentToken } = await newToken({ maxUses: 30 });
    const live = (await enroll(token, ecCsr(), 'BURST-LIVE')).json();
    await t.infra.database.db.update(devices).set({ lastSeenAt: new Date() }).where(eq(devices.id, live.deviceId));
    // 24 new tablets, one claiming the serial of a tablet still in contact, two sharing a serial.
    const serials = [...Array.from({ length: 21 }, (_, i) => `BURST-${i}`), 'BURST-LIVE', 'BURST-TWIN', 'BURST-TWIN'];
    const results = await Promise.all(serials.map((serial) => enroll(token, ecCsr(), serial)));
    const codes = results.map((r) => r.statusCode);
    expect(codes.slice(0, 21)).toEqual(Array(21).fill(201));
    expect(results[21]!.json()).toMatchObject({ status: 409, code: 'serial_in_use' });
    // Twins in one burst enroll in turn: the second replaces the first, which never got in contact.
    expect(codes.slice(22)).toEqual([201, 201]);
    const [firstTwin] = await t.infra.database.db.select().from(devices).where(eq(devices.id, results[22]!.json().deviceId));
    expect(firstTwin!.status).toBe('retired');
    const ids = results.filter((r) => r.statusCode === 201).map((r) => r.json().deviceId as string);
    expect(new Set(ids).size).toBe(23);
    const view = (await api('GET', `/enrollment-tokens/${enrollmentToken.id}`, technician)).json();
    expect(view.uses).toBe(24);
    const events = await t.infra.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'device.enroll'), inArray(auditEvents.targetId, ids)));
    expect(events).toHaveLength(23);
    expect((await t.services.auditChain.verify({ organisationIds: [tree.org.id] })).intact).toBe(true);
  });
});
