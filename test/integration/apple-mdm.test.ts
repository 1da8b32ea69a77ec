import { createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import plist from 'plist';
import { appleDevices, auditEvents, commands, deviceCertificates, devices } from '../../server/infra/db/schema';
import { createCa, issueDeviceCertificate } from '../../server/infra/pki';
import { type AppleDevice, newDeviceKey, signDetached, type Transport } from '../helpers/apple-device';
import { signPushCsr, type FakeApns } from '../helpers/fake-apns';
import { verifyMdmSignature } from '../../server/platforms/apple/mdm/mdm-signature';
import { createAppleDevicesService } from '../../server/modules/apple-mdm/apple-devices.service';
import type { TestApp } from '../helpers/test-env';
import { openAppleMdmWorld, type AppleMdmWorld } from '../helpers/apple-world';

let w: AppleMdmWorld;
let t: TestApp;
let apns: FakeApns;
let admin: string;
let transport: Transport;
let org: { id: string };
let school: { id: string };
let topic: string;
const db = () => t.infra.database.db;


function api(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
}


const enrolled = () => w.enrolled();

async function commandsOf(deviceId: string) {
  return db().select().from(commands).where(eq(commands.deviceId, deviceId));
}

async function until<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, what: string, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  w = await openAppleMdmWorld('École Jaurès');
  ({ t, apns, admin, transport, org, school, topic } = w);
}, 60_000);

afterAll(async () => w?.close());

describe('Apple MDM', () => {
  test('an enrolled iPad is pushed, reports its inventory and apps, and shows in its school', async () => {
    const { device, deviceId } = await enrolled();
    const [row] = await db().select().from(appleDevices).where(eq(appleDevices.deviceId, deviceId));
    expect(row).toMatchObject({ udid: device.udid, topic, enrollmentState: 'enrolled', tokenHex: device.token.toString('hex'), pushMagic: device.pushMagic });
    expect(row!.unlockTokenEncrypted).toMatch(/^v1\./);

    // Enrollment asks for the inventory and wakes the iPad through APNs with the push certificate.
    const push = await until(() => apns.pushes.find((p) => p.tokenHex === device.token.toString('hex')), 'the enrollment push');
    expect(push.body).toEqual({ mdm: device.pushMagic });
    expect(push.topic).toBe(topic);
    expect(push.clientSubject).toContain(topic);

    expect(await device.connect()).toEqual([200, 200, 200]);
    expect(device.executed.map((c) => c.Command.RequestType)).toEqual(['DeviceInformation', 'InstalledApplicationList']);

    const detail = await api('GET', `/devices/${deviceId}`);
    expect(detail.statusCode).toBe(200);
    expect(detail.json()).toMatchObject({ schoolId: school.id, platform: 'ios', model: 'iPad13,18', osVersion: '18.1', serial: device.serial, batteryLevel: 82, storageTotalBytes: 64e9 });
    const apps = await api('GET', `/devices/${deviceId}/apps`);
    expect(apps.json().items.map((a: { identifier: string }) => a.identifier).sort()).toEqual(['com.apple.mobilesafari', 'fr.ecole.lecture']);
    const [after] = await db().select().from(appleDevices).where(eq(appleDevices.deviceId, deviceId));
    expect(after!.supervised).toBe(true);
    for (const c of await commandsOf(deviceId)) expect(c).toMatchObject({ status: 'succeeded', origin: 'system' });
  });

  test('a lock issued through the REST API is pushed and executed; NotNow is offered again at a later connection', async () => {
    const { device, deviceId } = await enrolled();
    await device.connect();
    device.notNow.add('DeviceLock');
    const woken: Promise<number[]>[] = [];
    apns.onPush(device.token.toString('hex'), () => woken.push(device.connect()));

    const issued = await api('POST', `/devices/${deviceId}/commands`, { kind: 'lock', params: { message: 'Tablette de l’école' } });
    expect(issued.statusCode).toBe(201);
    const id = issued.json().id as string;
    await until(() => woken.length > 0 && woken[0], 'the push');
    // The first connection puts the lock off, and is not offered it again on that connection.
    expect(await woken[0]!).toEqual([200, 200]);
    expect(device.locked).toBe(false);
    const [notNow] = await db().select().from(commands).where(eq(commands.id, id));
    expect(notNow!.status).toBe('not_now');

    expect(await device.connect()).toEqual([200, 200]);
    expect(device.locked).toBe(true);
    const lock = device.executed.find((c) => c.Command.RequestType === 'DeviceLock')!;
    expect(lock).toMatchObject({ CommandUUID: id, Command: { Message: 'Tablette de l’école' } });
    const [done] = await db().select().from(commands).where(eq(commands.id, id));
    expect(done).toMatchObject({ status: 'succeeded' });
    expect(done!.resultRaw).toMatchObject({ Status: 'Acknowledged', CommandUUID: id });
  });

  test('an Error is stored with its raw report and does not block the queue', async () => {
    const { device, deviceId } = await enrolled();
    await device.connect();
    device.failing.add('ProfileList');
    const first = await api('POST', `/devices/${deviceId}/commands`, { kind: 'profile_list' });
    const second = await api('POST', `/devices/${deviceId}/commands`, { kind: 'refresh_apps' });
    await device.connect();
    const [failed] = await db().select().from(commands).where(eq(commands.id, first.json().id));
    expect(failed).toMatchObject({ status: 'failed', errorCode: 'MCMDMErrorDomain:12021', errorMessage: 'Unknown command' });
    expect(failed!.resultRaw).toMatchObject({ Status: 'Error' });
    const [next] = await db().select().from(commands).where(eq(commands.id, second.json().id));
    expect(next!.status).toBe('succeeded');
  });

  test('a profile is sent compiled and signed; removing it names its identifier', async () => {
    const { device, deviceId } = await enrolled();
    await device.connect();
    const profile = JSON.parse(readFileSync(join(__dirname, '../../profiles/restrictions-eleves.json'), 'utf8'));
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'install_profile', params: { profile } })).statusCode).toBe(201);
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'remove_profile', params: { profileId: profile.id } })).statusCode).toBe(201);
    await device.connect();
    const [install, remove] = device.executed.slice(-2);
    expect(install!.Command.RequestType).toBe('InstallProfile');
    const payload = install!.Command.Payload as Buffer;
    // A CMS SignedData our verifier reads, signed by a certificate of our CA, holding the mobileconfig.
    const signed = verifyMdmSignature(payload.toString('base64'), Buffer.from(payload.toString('latin1').slice(payload.indexOf('<?xml'), payload.indexOf('</plist>') + 8), 'latin1'));
    expect(signed.ok).toBe(true);
    if (signed.ok) expect(signed.certificate.checkIssued(new X509Certificate(t.services.pki.caCertPem()))).toBe(true);
    expect(payload.toString('utf8')).toContain('<string>fr.cartable.profile.restrictions-eleves</string>');
    expect(remove!.Command).toEqual({ RequestType: 'RemoveProfile', Identifier: 'fr.cartable.profile.restrictions-eleves' });
  });

  test('supervision-only commands are refused up front for an unsupervised iPad', async () => {
    const { device, deviceId } = await enrolled();
    device.supervised = false;
    await device.connect();
    const refused = await api('POST', `/devices/${deviceId}/commands`, { kind: 'lost_mode_on', params: { message: 'Perdue' } });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'capability_not_announced' });
    expect(refused.json().detail).toBe('The lost_mode_on command needs a supervised iPad (Apple School Manager or Apple Configurator); this iPad is not supervised');
    const message = await api('POST', `/devices/${deviceId}/commands`, { kind: 'message', params: { text: 'Bonjour' } });
    expect(message.json()).toMatchObject({ code: 'kind_not_supported_on_platform' });
  });

  test('lost mode and DeviceLocation on a supervised iPad: the position is kept for the locate command', async () => {
    const { device, deviceId } = await enrolled();
    await device.connect();
    const on = await api('POST', `/devices/${deviceId}/commands`, { kind: 'lost_mode_on', params: { message: 'Rapportez-moi à l’école', phone: '0102030405' } });
    expect(on.statusCode).toBe(201);
    const locate = await api('POST', `/devices/${deviceId}/commands`, { kind: 'locate' });
    expect(locate.statusCode).toBe(201);
    await device.connect();
    expect(device.executed.map((c) => c.Command.RequestType).slice(-2)).toEqual(['EnableLostMode', 'DeviceLocation']);
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(row).toMatchObject({ lostMode: true, lostModeMessage: 'Rapportez-moi à l’école' });
    const position = await api('GET', `/devices/${deviceId}/location`);
    expect(position.statusCode).toBe(200);
    expect(position.json()).toMatchObject({ lat: 48.8566, lon: 2.3522, accuracyM: 25, commandId: locate.json().id });
  });

  test('a wipe the iPad acknowledges makes its certificate refused afterwards', async () => {
    const { device, deviceId } = await enrolled();
    await device.connect();
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    const wipe = await api('POST', `/devices/${deviceId}/commands`, { kind: 'wipe', confirm: row!.name });
    expect(wipe.statusCode).toBe(201);
    await device.connect();
    expect(device.wiped).toBe(true);
    const [wiped] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(wiped!.status).toBe('wiped');
    expect((await device.report({ Status: 'Idle' })).status).toBe(403);
    expect((await device.authenticate()).status).toBe(403);
  });

  test('CheckOut retires the iPad, revokes its certificate and is audited', async () => {
    const { device, deviceId } = await enrolled();
    expect((await device.checkOut()).status).toBe(200);
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(row!.status).toBe('retired');
    const [cert] = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(cert!.revokedAt).not.toBeNull();
    const audit = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'device.apple.checkout'), eq(auditEvents.targetId, deviceId)));
    expect(audit).toHaveLength(1);
    expect((await device.report({ Status: 'Idle' })).status).toBe(403);
  });

  test('an iPad is pushed again only for a new command or after a while; a token APNs says is gone is not pushed again', async () => {
    const { device, deviceId } = await enrolled();
    const tokenHex = device.token.toString('hex');
    const pushes = () => apns.pushes.filter((p) => p.tokenHex === tokenHex).length;
    await until(() => pushes() === 1, 'the enrollment push');
    // The reconciler asks again and again for devices whose commands wait: no new command, no new push.
    await t.services.edges.apple.adapter.wake([deviceId]);
    expect(pushes()).toBe(1);

    apns.gone.add(tokenHex);
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'lock' })).statusCode).toBe(201);
    await until(async () => (await db().select().from(appleDevices).where(eq(appleDevices.deviceId, deviceId)))[0]!.tokenInvalidAt, 'the token marked invalid');
    expect(pushes()).toBe(2);
    expect((await api('POST', `/devices/${deviceId}/commands`, { kind: 'refresh_apps' })).statusCode).toBe(201);
    await t.services.edges.apple.adapter.wake([deviceId]);
    expect(pushes()).toBe(2);
    // A new TokenUpdate makes it reachable again.
    expect((await device.tokenUpdate()).status).toBe(200);
    apns.gone.delete(tokenHex);
    await t.services.edges.apple.adapter.wake([deviceId]);
    expect(pushes()).toBe(3);
  });

  test('a renewed push certificate must keep the topic', async () => {
    const request = await api('POST', '/apple/push-certificate/request');
    const other = await api('PUT', '/apple/push-certificate', { certificatePem: signPushCsr(request.json().csrPem, `com.apple.mgmt.External.${randomUUID()}`) });
    expect(other.statusCode).toBe(409);
    expect(other.json()).toMatchObject({ code: 'push_topic_mismatch' });
    const same = await api('PUT', '/apple/push-certificate', { certificatePem: signPushCsr(request.json().csrPem, topic, 200) });
    expect(same.statusCode).toBe(200);
    expect(same.json()).toMatchObject({ topic, requestPending: false });
    expect(new Date(same.json().notAfter).getTime()).toBeLessThan(Date.now() + 201 * 24 * 3600 * 1000);
  });
});

describe('the first Authenticate of a certificate SCEP issued', () => {
  test('creates the device with its reserved id, in the school of the enrollment, and claims the enrollment once', async () => {
    const key = await newDeviceKey();
    const deviceId = randomUUID();
    const issued = await t.services.pki.issueDeviceCertificate(createPublicKey(key).export({ type: 'spki', format: 'der' }), deviceId);
    // The SCEP side's record (its table is the Apple enrollment module's), as it hands it to the check-in.
    const pending = { id: randomUUID(), organisationId: org.id, schoolId: school.id, groupId: null, deviceId, serialHex: issued.serialHex, fingerprintSha256: issued.fingerprintSha256, spkiSha256: null, certPem: issued.certPem, notBefore: issued.notBefore, notAfter: issued.notAfter, claimedAt: null as Date | null };
    const scep = {
      pendingEnrollment: async (fp: string) => (fp === pending.fingerprintSha256 ? { ...pending } : undefined),
      claim: async (_tx: unknown, id: string) => {
        if (id !== pending.id || pending.claimedAt) return false;
        pending.claimedAt = new Date();
        return true;
      },
    };
    const service = createAppleDevicesService({ db: db(), secrets: t.infra.secrets, scep });
    const before = await service.enrollmentOfCertificate(issued.fingerprintSha256);
    expect(before).toMatchObject({ deviceId, schoolId: school.id, udid: null, pendingScep: { id: pending.id } });
    const facts = { udid: randomUUID(), topic, serial: 'DMPSCEP1', imei: null, model: null, osVersion: '18.1', buildVersion: null, productName: 'iPad13,18', deviceName: 'iPad CM1' };
    await service.authenticate(before!, facts);
    const [row] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(row).toMatchObject({ schoolId: school.id, platform: 'ios', name: 'iPad CM1', serial: 'DMPSCEP1', udid: facts.udid, status: 'active' });
    expect(await service.enrollmentOfCertificate(issued.fingerprintSha256)).toMatchObject({ deviceId, udid: facts.udid, revoked: false });
    await expect(service.authenticate(before!, facts)).rejects.toMatchObject({ code: 'enrollment_claimed' });
  });
});

describe('Apple MDM refuses bad input without changing anything', () => {
  let device: AppleDevice;
  let deviceId: string;
  let snapshot: () => Promise<unknown>;

  beforeAll(async () => {
    ({ device, deviceId } = await enrolled());
    await device.connect();
    snapshot = async () => ({
      apple: await db().select().from(appleDevices).where(eq(appleDevices.deviceId, deviceId)),
      device: (await db().select().from(devices).where(eq(devices.id, deviceId))).map(({ lastSeenAt: _seen, updatedAt: _updated, ...rest }) => rest),
      commands: await commandsOf(deviceId),
    });
  });

  const idle = () => Buffer.from(plist.build({ UDID: device.udid, Status: 'Idle' }));
  const checkinBody = () => Buffer.from(plist.build({ MessageType: 'TokenUpdate', Topic: topic, UDID: device.udid, Token: Buffer.from('00ff', 'hex'), PushMagic: 'forged' }));

  test.each([
    ['no signature', async () => transport('PUT', '/apple/checkin', checkinBody(), { 'content-type': 'application/x-apple-aspen-mdm-checkin' }), 400],
    [
      'a signature over another body',
      async () => transport('PUT', '/apple/checkin', checkinBody(), { 'content-type': 'application/x-apple-aspen-mdm-checkin', 'mdm-signature': device.headers(idle(), 'x')['mdm-signature']! }),
      400,
    ],
    ['a signature that is not CMS', async () => transport('PUT', '/apple/mdm', idle(), { 'mdm-signature': Buffer.from('not a signature').toString('base64') }), 400],
    [
      'a certificate from another CA',
      async () => {
        const ca = await createCa({ commonName: 'Other CA', organisation: 'Elsewhere', validityYears: 1 });
        const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
        const foreign = issueDeviceCertificate({ caCertPem: ca.certPem, caKey: createPrivateKey(ca.keyPem), subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }), commonName: deviceId, validityDays: 30 });
        const body = checkinBody();
        return transport('PUT', '/apple/checkin', body, { 'content-type': 'application/x-apple-aspen-mdm-checkin', 'mdm-signature': signDetached(body, foreign.certPem, privateKey) });
      },
      403,
    ],
    [
      'a malformed plist',
      async () => {
        const body = Buffer.from('<?xml version="1.0"?><plist><dict><key>Status</key>');
        return transport('PUT', '/apple/mdm', body, device.headers(body, 'application/x-apple-aspen-mdm'));
      },
      400,
    ],
    [
      'an unknown message type',
      async () => {
        const body = Buffer.from(plist.build({ MessageType: 'Teleport', Topic: topic, UDID: device.udid }));
        return transport('PUT', '/apple/checkin', body, device.headers(body, 'application/x-apple-aspen-mdm-checkin'));
      },
      400,
    ],
    [
      'an unknown report status',
      async () => {
        const body = Buffer.from(plist.build({ UDID: device.udid, Status: 'Maybe', CommandUUID: randomUUID() }));
        return transport('PUT', '/apple/mdm', body, device.headers(body, 'application/x-apple-aspen-mdm'));
      },
      400,
    ],
    [
      'another UDID than the one the certificate authenticated with',
      async () => {
        const body = Buffer.from(plist.build({ MessageType: 'TokenUpdate', Topic: topic, UDID: randomUUID(), Token: Buffer.from('00ff', 'hex'), PushMagic: 'forged' }));
        return transport('PUT', '/apple/checkin', body, device.headers(body, 'application/x-apple-aspen-mdm-checkin'));
      },
      403,
    ],
    [
      'a user channel',
      async () => {
        const body = Buffer.from(plist.build({ MessageType: 'TokenUpdate', Topic: topic, UDID: device.udid, UserID: randomUUID(), Token: Buffer.from('00ff', 'hex'), PushMagic: 'forged' }));
        return transport('PUT', '/apple/checkin', body, device.headers(body, 'application/x-apple-aspen-mdm-checkin'));
      },
      410,
    ],
    [
      'an oversize body',
      async () => {
        const body = Buffer.alloc(t.services.edges.apple.bodyLimit + 1, 0x20);
        return transport('PUT', '/apple/mdm', body, device.headers(body.subarray(0, 10), 'application/x-apple-aspen-mdm'));
      },
      413,
    ],
  ])('%s', async (_name, send, status) => {
    const before = await snapshot();
    const reply = await send();
    expect(reply.status).toBe(status);
    expect(reply.status).not.toBe(401);
    expect(await snapshot()).toEqual(before);
  });
});
