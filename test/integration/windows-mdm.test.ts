import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { commands, communes, deviceCertificates, devices, enrollmentTokens, organisations, schools, windowsCommandReplies, windowsDevices, windowsEnrollmentPins } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { el } from '../../server/platforms/windows/xml';
import { WindowsDevice, type Transport } from '../helpers/windows-device';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

const THUMBPRINT_HEADER = 'X-Client-Cert-Thumbprint';
let env: TestEnv;
let t: TestApp;
let admin: string;
let org: { id: string };
let school: { id: string; code: string };
let base = '';
const db = () => t.infra.database.db;

const transport: Transport = async (method, url, body, headers) => {
  const r = await fetch(`${base}${url}`, { method, body, headers });
  return { status: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) };
};

function api(method: 'GET' | 'POST', url: string, payload?: unknown) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

async function newToken(maxUses: number | null = 5): Promise<string> {
  const created = await api('POST', '/enrollment-tokens', { schoolId: school.id, label: `Chariot ${randomUUID().slice(0, 4)}`, maxUses });
  expect(created.statusCode).toBe(201);
  return created.json().enrollmentToken.id as string;
}

async function newPin(tokenId?: string): Promise<{ userName: string; pin: string; tokenId: string }> {
  const id = tokenId ?? (await newToken());
  const created = await api('POST', `/enrollment-tokens/${id}/windows-pin`);
  expect(created.statusCode).toBe(201);
  return { ...created.json(), tokenId: id };
}

const faultCode = (body: string) => /<s:Subcode><s:Value>([^<]+)<\/s:Value>/.exec(body)?.[1];

async function enrolled(): Promise<{ device: WindowsDevice; deviceId: string }> {
  const { userName, pin } = await newPin();
  const device = new WindowsDevice(transport, base);
  device.nodes = {
    './DevDetail/SwV': '10.0.22631.2428',
    './DevDetail/OEM': 'Microsoft Corporation',
    './DevDetail/Ext/Microsoft/SMBIOSSerialNumber': `SN${randomUUID().slice(0, 8)}`,
    './DevDetail/Ext/Microsoft/TotalStorage': '65536',
    './DevDetail/Ext/Microsoft/FreeStorage': '30000',
    './Vendor/MSFT/DeviceStatus/Battery/EstimatedChargeRemaining': '77',
    './Vendor/MSFT/DeviceStatus/Battery/Status': '2',
    './Vendor/MSFT/DeviceStatus/OS/Edition': '121',
  };
  const answer = await device.enroll(userName, pin);
  expect(answer.status).toBe(200);
  const [row] = await db().select().from(windowsDevices).where(eq(windowsDevices.windowsDeviceId, device.windowsDeviceId));
  return { device, deviceId: row!.deviceId };
}

beforeAll(async () => {
  env = await createTestEnv({ WINDOWS_MDM_CERT_THUMBPRINT_HEADER: THUMBPRINT_HEADER, CARTABLE_PUBLIC_URL: 'https://mdm.agglo.example.fr' });
  t = await startTestApp(env, { listen: true });
  const address = t.app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const tag = randomUUID().slice(0, 8);
  org = (await db().insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning())[0]!;
  const [commune] = await db().insert(communes).values({ organisationId: org.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  school = (await db().insert(schools).values({ organisationId: org.id, communeId: commune!.id, code: `E${tag}`, name: 'École Jaurès' }).returning())[0]!;
  admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: org.id });
}, 60_000);

afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

describe('Windows enrollment', () => {
  test('discovery answers an empty GET, then OnPremise with the policy and enrollment services on this host', async () => {
    const device = new WindowsDevice(transport, base);
    const answer = (await device.discover("eleve@ecole.example.fr", "5.0")) as { status: number; body: string; headers: Record<string, string> };
    expect(answer.status).toBe(200);
    expect(answer.headers['content-length']).toBe(String(Buffer.byteLength(answer.body)));
    expect(answer.body).toContain('<AuthPolicy>OnPremise</AuthPolicy><EnrollmentVersion>5.0</EnrollmentVersion><EnrollmentPolicyServiceUrl>https://mdm.agglo.example.fr/EnrollmentServer/Policy.svc</EnrollmentPolicyServiceUrl>');
  });

  test('the real capture\u2019s Discover request is understood', async () => {
    const body = readFileSync(join(__dirname, '../fixtures/windows/capture-discover.xml'), 'utf8');
    const answer = await transport('POST', '/EnrollmentServer/Discovery.svc', body, { 'content-type': 'application/soap+xml; charset=utf-8' });
    expect(answer.status).toBe(200);
    expect(answer.body).toContain('<a:RelatesTo>urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478</a:RelatesTo>');
    expect(answer.body).toContain('<EnrollmentVersion>4.0</EnrollmentVersion>');
  });

  test('school code and PIN enroll a tablet: certificate from our CA for clientAuth, DM account, poll schedule, one use of the token taken', async () => {
    const { userName, pin, tokenId } = await newPin();
    expect(userName).toBe(school.code);
    const device = new WindowsDevice(transport, base);
    expect((await device.enroll(userName, pin)).status).toBe(200);
    const p = device.provisioned!;
    expect(p.caThumbprint).toBe(new (await import('node:crypto')).X509Certificate(t.services.pki.caCertPem()).fingerprint.replaceAll(':', ''));
    expect(p.addr).toBe('https://mdm.agglo.example.fr/ManagementServer/MDM.svc');
    expect(p.providerId).toBe('Cartable');
    expect(p.store).toBe('User');
    expect(p.poll).toMatchObject({ IntervalForFirstSetOfRetries: '3', IntervalForRemainingScheduledRetries: '120', PollOnLogin: 'true' });
    const { X509Certificate } = await import('node:crypto');
    const certificate = new X509Certificate(p.certificatePem);
    expect(certificate.checkIssued(new X509Certificate(t.services.pki.caCertPem()))).toBe(true);
    expect(certificate.keyUsage).toContain('1.3.6.1.5.5.7.3.2');

    const [windows] = await db().select().from(windowsDevices).where(eq(windowsDevices.windowsDeviceId, device.windowsDeviceId));
    expect(windows).toMatchObject({ certificateSha1: p.certificateThumbprint, hwDevId: device.hwDevId, enrollmentType: 'Full', digestUser: p.digestUser });
    expect(windows!.digestHashEncrypted).not.toContain(p.digestSecret);
    const [row] = await db().select().from(devices).where(eq(devices.id, windows!.deviceId));
    expect(row).toMatchObject({ platform: 'windows', schoolId: school.id, status: 'active' });
    const [cert] = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, row!.id));
    expect(cert!.fingerprintSha256).toBe(certificate.fingerprint256.replaceAll(':', '').toLowerCase());
    const [token] = await db().select().from(enrollmentTokens).where(eq(enrollmentTokens.id, tokenId));
    expect(token!.uses).toBe(1);

    // The PIN served once.
    const again = new WindowsDevice(transport, base);
    const second = await again.enroll(userName, pin);
    expect(second.status).toBe(400);
    expect(faultCode(second.body)).toBe('s:authentication');
  });

  test('a wrong PIN, an expired token and a revoked token are refused with SOAP faults and change nothing', async () => {
    const devicesBefore = (await db().select().from(devices)).length;
    const { userName, pin, tokenId } = await newPin();
    const wrong = await new WindowsDevice(transport, base).enroll(userName, `${pin.slice(0, -1)}${(Number(pin.at(-1)) + 1) % 10}`);
    expect(wrong.status).toBe(400);
    expect(faultCode(wrong.body)).toBe('s:authentication');

    // The token expires after the PIN was given: the token decides, at the enrollment service.
    await db().update(enrollmentTokens).set({ expiresAt: new Date(Date.now() - 1000) }).where(eq(enrollmentTokens.id, tokenId));
    await db().update(windowsEnrollmentPins).set({ expiresAt: new Date(Date.now() + 3_600_000) }).where(eq(windowsEnrollmentPins.tokenId, tokenId));
    const device = new WindowsDevice(transport, base);
    await device.discover();
    const expired = await device.requestSecurityToken(userName, pin);
    expect(expired.status).toBe(400);
    expect(faultCode(expired.body)).toBe('s:authorization');
    expect(expired.body).toContain('expired');

    const revoked = await newPin();
    expect((await api('POST', `/enrollment-tokens/${revoked.tokenId}/revoke`)).statusCode).toBe(200);
    const refused = await new WindowsDevice(transport, base).enroll(revoked.userName, revoked.pin);
    expect(faultCode(refused.body)).toBe('s:authorization');

    expect((await db().select().from(devices)).length).toBe(devicesBefore);
    const [token] = await db().select().from(enrollmentTokens).where(eq(enrollmentTokens.id, tokenId));
    expect(token!.uses).toBe(0);
    // A refused enrollment gives the PIN back.
    const [pinRow] = await db().select().from(windowsEnrollmentPins).where(eq(windowsEnrollmentPins.tokenId, tokenId));
    expect(pinRow!.usedAt).toBeNull();
  });

  test('a reset tablet enrolling again replaces its earlier record, which is retired and whose certificate is refused', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    const { userName, pin } = await newPin();
    device.nonce = null;
    expect((await device.enroll(userName, pin)).status).toBe(200);
    const [old] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(old!.status).toBe('retired');
    const [oldCert] = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(oldCert!.revokedAt).not.toBeNull();
    const [current] = await db().select().from(windowsDevices).where(eq(windowsDevices.windowsDeviceId, device.windowsDeviceId));
    expect(current!.deviceId).not.toBe(deviceId);
    const log = await device.session();
    expect(log.headerCodes.slice(0, 2)).toEqual([407, 212]);
  });

  test('malformed SOAP and a bad certificate request are refused with their fault codes', async () => {
    const notXml = await transport('POST', '/EnrollmentServer/Enrollment.svc', '<s:Envelope><oops', { 'content-type': 'application/soap+xml' });
    expect(notXml.status).toBe(400);
    expect(faultCode(notXml.body)).toBe('s:messageformat');
    const { userName, pin } = await newPin();
    const device = new WindowsDevice(transport, base);
    await device.discover();
    const badCsr = await device.requestSecurityToken(userName, pin, { csrB64: Buffer.from('not a request').toString('base64') });
    expect(faultCode(badCsr.body)).toBe('s:certificaterequest');
  });
});

describe('Windows management sessions', () => {
  test('the first session asks for the digest, then brings the inventory: the tablet shows in its school with its facts', async () => {
    const { device, deviceId } = await enrolled();
    const log = await device.session();
    expect(log.headerCodes.slice(0, 2)).toEqual([407, 212]);
    expect(log.executed.map((c) => c.verb)).toEqual(['Get']);
    const detail = await api('GET', `/devices/${deviceId}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({ schoolId: school.id, platform: 'windows', osVersion: '10.0.22631.2428', manufacturer: 'Microsoft Corporation', model: 'Surface Go 3', batteryLevel: 77 });
    const [inventory] = await db().select().from(commands).where(eq(commands.deviceId, deviceId));
    expect(inventory).toMatchObject({ kind: 'refresh_inventory', status: 'succeeded' });
    const replies = await db().select().from(windowsCommandReplies).where(eq(windowsCommandReplies.commandId, inventory!.id));
    expect(replies.map((r) => r.element).sort()).toEqual(['Results', 'Status']);
    expect(replies.find((r) => r.element === 'Results')!.raw).toContain('./DevDetail/SwV');

    // The next session uses the nonce the last one gave: no challenge, nothing queued, one message.
    const quiet = await device.session();
    expect(quiet.headerCodes).toEqual([212]);
    expect(quiet.messages).toBe(1);
    // Sessions are counted in memory and written every few seconds.
    await t.app.services.edges.windows.sessionsOpened.flush();
    const [counted] = await db().select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
    expect(counted).toMatchObject({ sessions: 2, lastSessionId: String(device.sessionId) });
  });

  test('a reboot and a compiled Wi-Fi profile run in the next session and succeed; an existing network is replaced after 418; the profile is removed by its id', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    const profile = JSON.parse(readFileSync(join(__dirname, '../../profiles/wifi-ecole.json'), 'utf8'));
    device.existing.add(`./Vendor/MSFT/WiFi/Profile/${encodeURIComponent(profile.wifi[0].ssid)}/WlanXml`);
    const reboot = await api('POST', `/devices/${deviceId}/commands`, { kind: 'reboot' });
    expect(reboot.statusCode).toBe(201);
    const install = await api('POST', `/devices/${deviceId}/commands`, { kind: 'install_profile', params: { profile } });
    expect(install.statusCode).toBe(201);

    const log = await device.session();
    const verbs = log.executed.map((c) => `${c.verb} ${c.items[0]!.locUri}`);
    expect(verbs[0]).toBe('Exec ./Device/Vendor/MSFT/Reboot/RebootNow');
    expect(verbs).toContain(`Add ./Vendor/MSFT/WiFi/Profile/${encodeURIComponent(profile.wifi[0].ssid)}/WlanXml`);
    expect(verbs).toContain(`Replace ./Vendor/MSFT/WiFi/Profile/${encodeURIComponent(profile.wifi[0].ssid)}/WlanXml`);
    const wlan = log.executed.find((c) => c.verb === 'Add' && c.items[0]!.locUri.endsWith('/WlanXml'))!;
    expect(wlan.items[0]!.data).toContain('<WLANProfile');
    for (const id of [reboot.json().id, install.json().id]) {
      const [row] = await db().select().from(commands).where(eq(commands.id, id));
      expect(row!.status).toBe('succeeded');
    }
    const [state] = await db().select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
    expect(Object.keys(state!.installedProfiles)).toEqual([profile.id]);

    // The removal carries only the id: it is rendered from what the install recorded on this tablet.
    const remove = await api('POST', `/devices/${deviceId}/commands`, { kind: 'remove_profile', params: { profileId: profile.id } });
    expect(remove.statusCode).toBe(201);
    const never = await api('POST', `/devices/${deviceId}/commands`, { kind: 'remove_profile', params: { profileId: 'jamais-installe' } });
    const removal = await device.session();
    expect(removal.executed.map((c) => `${c.verb} ${c.items[0]!.locUri}`)).toEqual([`Delete ./Vendor/MSFT/WiFi/Profile/${encodeURIComponent(profile.wifi[0].ssid)}`]);
    const [removed] = await db().select().from(commands).where(eq(commands.id, remove.json().id));
    expect(removed!.status).toBe('succeeded');
    // A profile this tablet never got leaves nothing to delete: the removal holds at once, and sends nothing.
    const [nothing] = await db().select().from(commands).where(eq(commands.id, never.json().id));
    expect(nothing).toMatchObject({ status: 'succeeded', result: { removed: false } });
    const [after] = await db().select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
    expect(after!.installedProfiles).toEqual({});
  });

  test('commands Windows cannot carry are refused before anything is queued', async () => {
    const { deviceId } = await enrolled();
    for (const kind of ['locate', 'lock']) {
      const refused = await api('POST', `/devices/${deviceId}/commands`, { kind });
      expect(refused.statusCode).toBeGreaterThanOrEqual(400);
      expect(refused.json().code).toBe('kind_not_supported_on_platform');
    }
  });

  test('a wipe the tablet accepts retires its certificate: its next session is refused', async () => {
    const { device, deviceId } = await enrolled();
    device.thumbprintHeader = THUMBPRINT_HEADER;
    await device.session();
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    const wipe = await api('POST', `/devices/${deviceId}/commands`, { kind: 'wipe', confirm: row!.name });
    expect(wipe.statusCode).toBe(201);
    await device.session();
    expect(device.wiped).toBe(true);
    const [wiped] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(wiped!.status).toBe('wiped');
    const [cert] = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(cert!.revokedAt).not.toBeNull();
    const after = await device.session();
    expect(after.headerCodes).toEqual([403]);
  });

  test('unknown Source, a bad digest, a certificate not ours and malformed SyncML are refused and change nothing', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    const before = await db().select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));

    const stranger = await device.post(device.raw(1, [], { source: 'F'.repeat(32) }));
    expect(stranger.body).toContain('<Cmd>SyncHdr</Cmd><Data>403</Data>');
    const badVersion = await device.post(device.raw(1, [], { verDtd: '1.1' }));
    expect(badVersion.body).toContain('<Data>505</Data>');
    const garbage = await device.post('<SyncML><SyncHdr>');
    expect(garbage.status).toBe(400);

    // A message without credentials in a session that ended is challenged again.
    const replayed = await device.post(device.raw(1, [], { cred: null }));
    expect(replayed.body).toMatch(/<Cmd>SyncHdr<\/Cmd>(<Chal>.*<\/Chal>)?<Data>407<\/Data>/);

    const bad = await device.session({ secret: 'not-the-secret' });
    expect(bad.headerCodes).toEqual([401]);

    device.thumbprintHeader = THUMBPRINT_HEADER;
    device.provisioned = { ...device.provisioned!, certificateThumbprint: 'AB'.repeat(20) };
    const foreign = await device.post(device.raw(1, []));
    expect(foreign.body).toContain('<Data>403</Data>');

    const after = await db().select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
    expect(after[0]!.sessions).toBe(before[0]!.sessions);
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(row!.status).toBe('active');
  });

  test('an open digest session only moves forward: a message sent again out of order is refused', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'reboot' })).statusCode).toBe(201);
    device.sessionId += 1;
    const opening = [el('Alert', [el('CmdID', '2'), el('Data', '1201')])];
    const first = await device.post(device.raw(1, opening, { cred: device.credential(device.nonce!) }));
    expect(first.body).toContain('<Data>212</Data>');
    expect(first.body).toContain('./Device/Vendor/MSFT/Reboot/RebootNow');
    const again = await device.post(device.raw(1, [], { cred: null }));
    expect(again.body).toContain('<Cmd>SyncHdr</Cmd><Data>403</Data>');
    const next = await device.post(device.raw(2, [], { cred: null }));
    expect(next.body).toContain('<Cmd>SyncHdr</Cmd><Data>200</Data>');
  });

  test('a tablet retired during a session is identified once per session: that session ends, the next one is refused', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'reboot' })).statusCode).toBe(201);
    device.sessionId += 1;
    const first = await device.post(device.raw(1, [el('Alert', [el('CmdID', '2'), el('Data', '1201')])], { cred: device.credential(device.nonce!) }));
    expect(first.body).toContain('<Data>212</Data>');
    await db().update(devices).set({ status: 'retired' }).where(eq(devices.id, deviceId));
    const next = await device.post(device.raw(2, [], { cred: null }));
    expect(next.body).toContain('<Cmd>SyncHdr</Cmd><Data>200</Data>');
    const after = await device.session();
    expect(after.headerCodes).toEqual([403]);
  });

  test('Alert 1226 (the account removed on the tablet) retires it and revokes its certificate', async () => {
    const { device, deviceId } = await enrolled();
    await device.session();
    await device.session({ unenroll: true });
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(row!.status).toBe('retired');
    const [cert] = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(cert!.revokedAt).not.toBeNull();
  });
});
