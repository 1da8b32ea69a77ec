import { createSign, generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { startFakeAmapi, type FakeAmapi } from '../helpers/fake-amapi';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Tablets managed through Google's Android Management API, end to end against a local fake of
 * Google's REST API and Pub/Sub: binding, enrollment of 50 tablets, one shared policy and its
 * compliance, commands through operations, a wipe, quota errors, pushes refused or ignored,
 * reconciliation after a missed notification.
 */
let env: TestEnv;
let t: TestApp;
let fake: FakeAmapi;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let admin: string;
const waits: number[] = [];
const pushKeys = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUSH_ACCOUNT = 'pubsub-push@agglo-mdm.iam.gserviceaccount.com';
const AUDIENCE = 'https://mdm.agglo.example/amapi/v1/pubsub';

const db = () => t.infra.database.db;
const api = async (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.body ? res.json() : null };
};
const org = () => tree.org.id;
const amapi = () => t.services.amapi;
const pull = () => amapi().devices.pull(org());
const amapiDeviceIds = async () => (await db().execute<{ id: string }>(sql`select id from devices where channel = 'amapi' and status = 'active' order by id`)).rows.map((r) => r.id);
const commandStatus = async (id: string) => (await db().execute<{ status: string; error_code: string | null }>(sql`select status, error_code from commands where id = ${id}`)).rows[0]!;

function signPush(claims: Record<string, unknown>, key = pushKeys.privateKey): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const body = `${enc({ alg: 'RS256', typ: 'JWT', kid: 'k1' })}.${enc({ iss: 'https://accounts.google.com', aud: AUDIENCE, email: PUSH_ACCOUNT, email_verified: true, iat: now, exp: now + 600, ...claims })}`;
  const signature = createSign('RSA-SHA256').update(body).sign(key).toString('base64url');
  return `${body}.${signature}`;
}

beforeAll(async () => {
  fake = await startFakeAmapi();
  env = await createTestEnv({ AMAPI_ROOT_URL: fake.rootUrl, AMAPI_PUBSUB_ROOT_URL: fake.rootUrl });
  t = await startTestApp(env, {
    amapi: {
      authFor: () => fake.authClient(),
      sleep: async (ms: number) => void waits.push(ms),
      pushCerts: { k1: pushKeys.publicKey.export({ type: 'spki', format: 'pem' }).toString() },
    },
  });
  tree = await createOrgTree(db());
  admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
  await fake?.close();
});

describe('Android Management API', () => {
  let tokenId: string;
  let names: string[];

  it('binds an enterprise: the key is sealed, the signup URL comes back, the callback creates the enterprise once', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const key = { type: 'service_account', project_id: 'agglo-mdm', client_email: 'cartable@agglo-mdm.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() };
    const started = await api('POST', '/amapi/binding', { serviceAccountKey: JSON.stringify(key), deviceCap: 60 });
    expect(started.status).toBe(200);
    expect(started.body.signupUrl).toMatch(/^https:\/\/enterprise\.google\.com\/signup/);
    const stored = (await db().execute<{ credentials_sealed: string }>(sql`select credentials_sealed from amapi_enterprises`)).rows[0]!;
    expect(stored.credentials_sealed).not.toContain('PRIVATE KEY');

    const bound = await api('GET', '/amapi/binding/callback?enterpriseToken=EAJ-token');
    expect(bound.body).toMatchObject({ state: 'bound', projectId: 'agglo-mdm', enterpriseName: expect.stringMatching(/^enterprises\//), deviceCap: 60, deviceCount: 0, capWarning: null });
    // A replayed callback is refused before Google is called again.
    expect((await api('GET', '/amapi/binding/callback?enterpriseToken=EAJ-token')).status).toBe(409);
    expect(fake.calls.filter((c) => c.path === '/v1/enterprises')).toHaveLength(1);

    const notifications = await api('PUT', '/amapi/binding/notifications', { mode: 'pull', topic: 'projects/agglo-mdm/topics/amapi', subscription: 'projects/agglo-mdm/subscriptions/cartable' });
    expect(notifications.body).toMatchObject({ notificationMode: 'pull', pubsubSubscription: 'projects/agglo-mdm/subscriptions/cartable' });
    expect([...fake.enterprises.values()][0]).toMatchObject({ pubsubTopic: 'projects/agglo-mdm/topics/amapi', enabledNotificationTypes: expect.arrayContaining(['ENROLLMENT', 'STATUS_REPORT', 'COMMAND']) });
    const audit = (await db().execute<{ action: string }>(sql`select action from audit_events where action like 'amapi.%' order by seq`)).rows.map((r) => r.action);
    expect(audit).toEqual(expect.arrayContaining(['amapi.binding.start', 'amapi.binding.complete', 'amapi.notifications.configure']));
  });

  it('makes a school’s AMAPI token from a Cartable token, with the default policy first', async () => {
    const created = await api('POST', '/enrollment-tokens', { schoolId: tree.schools[0]!.id, label: 'CM1', maxUses: 100 });
    tokenId = created.body.enrollmentToken.id;
    // Google's refusal is named, and nothing is retried behind the caller's back.
    fake.fail(/^POST .*\/enrollmentTokens$/, 500);
    const refused = await api('POST', `/enrollment-tokens/${tokenId}/amapi`);
    expect([refused.status, refused.body.code]).toEqual([503, 'amapi_google_error']);
    expect(fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/enrollmentTokens'))).toHaveLength(1);
    const token = await api('POST', `/enrollment-tokens/${tokenId}/amapi`);
    expect(token.status).toBe(201);
    expect(JSON.parse(token.body.qrCode)).toHaveProperty(['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE']);
    const google = fake.tokens.get(token.body.googleName)!;
    expect(google).toMatchObject({ allowPersonalUsage: 'PERSONAL_USAGE_DISALLOWED_USERLESS', oneTimeOnly: false, policyName: expect.stringMatching(/\/policies\/c-/) });
    expect(fake.policies.get(String(google.policyName))).toMatchObject({ statusReportingSettings: expect.objectContaining({ softwareInfoEnabled: true }) });
    // Asking again gives the same token.
    expect((await api('POST', `/enrollment-tokens/${tokenId}/amapi`)).body.googleName).toBe(token.body.googleName);
    // Reading Google's QR code, which enrolls a tablet, is audited like reading Cartable's.
    expect((await api('GET', `/enrollment-tokens/${tokenId}/amapi`)).body.qrCode).toBe(token.body.qrCode);
    const reads = await t.infra.database.db.execute<{ n: number }>(sql`select count(*)::int as n from audit_events where action = 'enrollment_token.amapi_qr' and target_id = ${tokenId}`);
    expect(reads.rows[0]!.n).toBe(1);
  });

  it('50 tablets enroll and appear in the school’s inventory, channel amapi, with their facts', async () => {
    const googleToken = [...fake.tokens.keys()][0]!;
    names = Array.from({ length: 50 }, (_, i) => fake.enroll(googleToken, `R52W${String(i).padStart(4, '0')}`));
    // Each notification delivered twice: the second is a duplicate.
    for (const { message } of [...fake.queue]) fake.queue.push({ ackId: `dup-${String(message.messageId)}`, message });
    const pulled = await pull();
    expect(pulled).toEqual({ received: 100, acknowledged: 100 });
    expect(fake.queue).toHaveLength(0);
    const list = await api('GET', `/devices?schoolId=${tree.schools[0]!.id}&limit=100`);
    expect(list.body.items).toHaveLength(50);
    expect(list.body.items[0]).toMatchObject({ platform: 'android', channel: 'amapi', model: 'SM-X200', osVersion: '14', batteryLevel: 81, storageFreeBytes: 12000000000 });
    const facts = (await db().execute<{ facts: { software: { securityPatchLevel: string } } }>(sql`select facts from devices where channel = 'amapi' limit 1`)).rows[0]!.facts;
    expect(facts.software.securityPatchLevel).toBe('2026-10-01');
    expect((await db().execute<{ uses: number }>(sql`select uses from enrollment_tokens where id = ${tokenId}`)).rows[0]!.uses).toBe(50);
    expect((await api('GET', '/amapi/binding')).body).toMatchObject({ deviceCount: 50, capWarning: null });
  });

  it('a profile assignment patches one shared policy, and every tablet reports compliance', async () => {
    const profile = await api('POST', '/profiles', { schemaVersion: 1, id: 'eleves', name: 'Élèves', restrictions: { camera: false }, lockScreenMessage: 'École 1' });
    expect(profile.status).toBe(201);
    const assigned = await api('POST', `/profiles/${profile.body.profile.id}/assignments`, { scopeType: 'school', scopeId: tree.schools[0]!.id });
    expect(assigned.status).toBe(201);
    const patchesBefore = fake.calls.filter((c) => c.method === 'PATCH' && c.path.includes('/policies/')).length;
    await amapi().commands.dispatch(await amapiDeviceIds());
    const policyPatches = fake.calls.filter((c) => c.method === 'PATCH' && c.path.includes('/policies/')).slice(patchesBefore);
    expect(policyPatches).toHaveLength(1);
    expect(policyPatches[0]!.body).toMatchObject({ cameraAccess: 'CAMERA_ACCESS_DISABLED', deviceOwnerLockScreenInfo: { defaultMessage: 'École 1' } });
    const policyName = policyPatches[0]!.path.slice('/v1/'.length);
    expect([...fake.devices.values()].every((d) => d.policyName === policyName)).toBe(true);
    const applyStatuses = (await db().execute<{ status: string; n: number }>(sql`select status, count(*)::int as n from commands where kind = 'apply_policy' group by status`)).rows;
    expect(applyStatuses).toEqual([{ status: 'succeeded', n: 50 }]);

    for (const name of names) fake.report(name);
    await pull();
    const compliance = await api('GET', `/profiles/${profile.body.profile.id}/compliance`);
    expect(compliance.body).toMatchObject({ compliant: 50, pending: 0, failed: 0 });
  });

  it('lock and lost mode go through Google’s operations to succeeded; a 429 waits a minute and loses nothing', async () => {
    const [a, b] = await amapiDeviceIds();
    fake.fail(/^POST .*:issueCommand$/, 429, 1);
    const lock = await api('POST', `/devices/${a}/commands`, { kind: 'lock' });
    const lost = await api('POST', `/devices/${b}/commands`, { kind: 'lost_mode_on', params: { message: 'Tablette de l’école', phone: '04 00 00 00 00' } });
    expect([lock.status, lost.status]).toEqual([201, 201]);
    await amapi().commands.dispatch([a!, b!]);
    expect(waits).toHaveLength(1);
    expect(waits[0]).toBeGreaterThanOrEqual(60_000);
    expect(waits[0]).toBeLessThan(75_000);
    expect((await commandStatus(lock.body.id)).status).toBe('acknowledged');
    const lostCommand = [...fake.operations.values()].find((o) => (o.metadata as { type: string }).type === 'START_LOST_MODE')!;
    expect(lostCommand.metadata).toMatchObject({ startLostModeParams: { lostMessage: { defaultMessage: 'Tablette de l’école' }, lostPhoneNumber: { defaultMessage: '04 00 00 00 00' }, lostOrganization: { defaultMessage: 'École 1' } } });

    // A second dispatch (the reconciler's re-offer) issues nothing twice.
    const issued = fake.calls.filter((c) => c.path.endsWith(':issueCommand')).length;
    await amapi().commands.dispatch([a!, b!]);
    expect(fake.calls.filter((c) => c.path.endsWith(':issueCommand')).length).toBe(issued);

    fake.finishOperations();
    await pull();
    expect((await commandStatus(lock.body.id)).status).toBe('succeeded');
    expect((await commandStatus(lost.body.id)).status).toBe('succeeded');
  });

  it('a quota error twice keeps the command for later, and it goes once Google accepts', async () => {
    const [, , c] = await amapiDeviceIds();
    fake.fail(/^POST .*:issueCommand$/, 429, 2);
    const reboot = await api('POST', `/devices/${c}/commands`, { kind: 'reboot' });
    await amapi().commands.dispatch([c!]);
    expect((await commandStatus(reboot.body.id)).status).toBe('sent');
    await db().execute(sql`update commands set sent_at = now() - interval '1 hour' where id = ${reboot.body.id}`);
    await amapi().commands.dispatch([c!]);
    expect((await commandStatus(reboot.body.id)).status).toBe('acknowledged');
    // Google forgets the operation before confirming it: once the command expires it is failed, not left pending.
    fake.forgetOperations();
    await db().execute(sql`update commands set expires_at = now() - interval '1 second' where id = ${reboot.body.id}`);
    await amapi().commands.poll(org());
    expect(await commandStatus(reboot.body.id)).toEqual({ status: 'failed', error_code: 'operation_unconfirmed' });
  });

  it('a worker that dies while Google takes a command never has Google run it twice: the re-offer finds it in the device’s operations', async () => {
    const [, , , d] = await amapiDeviceIds();
    const onTheWire = () => fake.calls.filter((c) => c.path.endsWith(':issueCommand')).length;
    const before = onTheWire();
    const held = fake.hold(/^POST .*:issueCommand$/);
    const lock = await api('POST', `/devices/${d}/commands`, { kind: 'lock' });
    // The first worker's call reaches Google, which makes the operation; the answer never comes back.
    const crashed = amapi().commands.dispatch([d!]);
    await held.reached;
    // Past the acknowledgement delay the reconciler offers the command again, to another worker.
    await db().execute(sql`update commands set sent_at = now() - interval '1 hour' where id = ${lock.body.id}`);
    await amapi().commands.dispatch([d!]);
    expect(onTheWire() - before).toBe(1);
    expect(fake.calls.filter((c) => c.method === 'GET' && c.path.endsWith('/operations'))).not.toHaveLength(0);
    expect((await commandStatus(lock.body.id)).status).toBe('acknowledged');
    const recorded = (await db().execute<{ operation_name: string }>(sql`select operation_name from amapi_operations where command_id = ${lock.body.id}`)).rows[0]!.operation_name;
    expect(fake.operations.get(recorded)?.metadata).toMatchObject({ type: 'LOCK' });

    held.drop();
    await crashed;
    fake.finishOperations();
    await pull();
    expect((await commandStatus(lock.body.id)).status).toBe('succeeded');
    expect(onTheWire() - before).toBe(1);
  });

  it('refuses up front what AMAPI cannot do', async () => {
    const [a] = await amapiDeviceIds();
    const refused = await api('POST', `/devices/${a}/commands`, { kind: 'message', params: { text: 'Bonjour' } });
    expect(refused.status).toBe(422);
    expect(refused.body.code).toBe('kind_not_supported_on_platform');
  });

  it('a wipe deletes the tablet at Google and it leaves the inventory', async () => {
    // The last tablet Google enrolled: the tests after this one report for the first ones, which must still exist at Google.
    const target = (await db().execute<{ device_id: string }>(sql`select device_id from amapi_devices where google_name = ${names[names.length - 1]!}`)).rows[0]!.device_id;
    const name = (await db().execute<{ name: string }>(sql`select name from devices where id = ${target}`)).rows[0]!.name;
    const wipe = await api('POST', `/devices/${target}/commands`, { kind: 'wipe', params: { wipeExternalStorage: true }, confirm: name });
    expect(wipe.status).toBe(201);
    await amapi().commands.dispatch([target]);
    expect((await commandStatus(wipe.body.id)).status).toBe('succeeded');
    expect(fake.calls.filter((c) => c.method === 'DELETE' && c.path.includes('/devices/')).pop()!.body).toEqual({ wipeDataFlags: ['WIPE_EXTERNAL_STORAGE'] });
    expect((await db().execute<{ status: string }>(sql`select status from devices where id = ${target}`)).rows[0]!.status).toBe('wiped');
    expect(fake.devices.size).toBe(49);
  });

  it('a policy Google refuses fails its command and does not block a corrected one', async () => {
    const [a] = await amapiDeviceIds();
    fake.fail(/^PATCH .*\/policies\//, 400, 1);
    const removal = await api('POST', `/devices/${a}/commands`, { kind: 'remove_app', params: { packageName: 'com.example.jeu' } });
    await amapi().commands.dispatch([a!]);
    expect((await commandStatus(removal.body.id)).status).toBe('failed');
    const again = await api('POST', `/devices/${a}/commands`, { kind: 'remove_app', params: { packageName: 'com.example.autre' } });
    await amapi().commands.dispatch([a!]);
    expect((await commandStatus(again.body.id)).status).toBe('succeeded');
    const googleName = (await db().execute<{ google_name: string }>(sql`select google_name from amapi_devices where device_id = ${a!}`)).rows[0]!.google_name;
    const device = fake.devices.get(googleName)!;
    const applications = fake.policies.get(String(device.policyName))!.applications as { packageName: string; installType: string }[];
    expect(applications).toEqual(expect.arrayContaining([{ packageName: 'com.example.autre', installType: 'BLOCKED' }]));
  });

  /** Runs a campaign to every tablet through one advance and one dispatch; the applications of a reached tablet's policy. */
  async function campaignToAll(plan: Record<string, unknown>): Promise<unknown[]> {
    const allDay = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '23:59' }];
    const created = await api('POST', '/campaigns', { target: {}, startAt: new Date(Date.now() - 60_000).toISOString(), windows: allDay, perSchoolCap: 100, ...plan });
    expect(created.status).toBe(201);
    expect((await api('POST', `/campaigns/${created.body.id}/start`)).status).toBe(200);
    await t.services.campaignEngine.advance(created.body.id);
    const sent = (await db().execute<{ device_id: string }>(sql`select device_id from commands where campaign_id = ${created.body.id}`)).rows.map((r) => r.device_id);
    expect(sent.length).toBeGreaterThan(0);
    await amapi().commands.dispatch(sent);
    const statuses = (await db().execute<{ status: string }>(sql`select distinct status from commands where campaign_id = ${created.body.id}`)).rows.map((r) => r.status);
    expect(statuses).toEqual(['succeeded']);
    const device = fake.devices.get((await db().execute<{ google_name: string }>(sql`select google_name from amapi_devices where device_id = ${sent[0]!}`)).rows[0]!.google_name)!;
    return fake.policies.get(String(device.policyName))!.applications as unknown[];
  }

  it('a campaign wave reaches AMAPI tablets through their policies', async () => {
    const [app] = (await db().execute<{ id: string }>(sql`insert into apps (organisation_id, platform, kind, identifier, name) values (${org()}, 'android', 'apk', 'fr.example.lecture', 'Lecture') returning id`)).rows;
    const applications = await campaignToAll({ name: 'Lecture: retrait', action: 'remove_app', appId: app!.id });
    expect(applications).toEqual(expect.arrayContaining([{ packageName: 'fr.example.lecture', installType: 'BLOCKED' }]));
  });

  it('a campaign wave installs a Play app on AMAPI tablets', async () => {
    const [app] = (await db().execute<{ id: string }>(sql`insert into apps (organisation_id, platform, kind, identifier, name) values (${org()}, 'android', 'apk', 'fr.example.calcul', 'Calcul') returning id`)).rows;
    const [version] = (
      await db().execute<{ id: string }>(
        sql`insert into app_versions (app_id, organisation_id, version, version_code, sha256, size_bytes, signing_cert_sha256) values (${app!.id}, ${org()}, '2.0', 20, ${'a'.repeat(64)}, 1024, ${'b'.repeat(64)}) returning id`,
      )
    ).rows;
    const applications = await campaignToAll({ name: 'Calcul', action: 'install_app', appVersionId: version!.id });
    expect(applications).toEqual(expect.arrayContaining([expect.objectContaining({ packageName: 'fr.example.calcul', installType: 'FORCE_INSTALLED' })]));
  });

  it('a missed notification is recovered by the reconciliation', async () => {
    const name = names[0]!;
    fake.report(name, { softwareInfo: { androidVersion: '15', securityPatchLevel: '2026-11-01' } }, { publish: false });
    const result = await amapi().devices.reconcile(org());
    expect(result).toMatchObject({ listed: 49, gone: 0 });
    const os = (await db().execute<{ os_version: string }>(sql`select d.os_version from devices d join amapi_devices a on a.device_id = d.id where a.google_name = ${name}`)).rows[0]!;
    expect(os.os_version).toBe('15');
  });

  describe('push', () => {
    const metric = async (outcome: string) => {
      const values = (await t.infra.metrics.amapiNotifications.get()).values;
      return values.find((v) => v.labels.outcome === outcome)?.value ?? 0;
    };
    const push = (token: string, message: object) => t.app.inject({ method: 'POST', url: '/amapi/v1/pubsub', headers: { authorization: `Bearer ${token}` }, payload: { message, subscription: 'projects/agglo-mdm/subscriptions/push' } });

    beforeAll(async () => {
      await api('PUT', '/amapi/binding/notifications', { mode: 'push', pushAudience: AUDIENCE, pushServiceAccount: PUSH_ACCOUNT });
    });

    it('refuses a bad signature, a wrong audience and a wrong account; ignores an unknown enterprise; counts each', async () => {
      const message = fake.report(names[1]!);
      fake.queue.length = 0;
      const forged = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;
      expect((await push(signPush({}, forged), message)).statusCode).toBe(401);
      expect((await push(signPush({ aud: 'https://elsewhere.example/' }), message)).statusCode).toBe(401);
      expect((await push(signPush({ email: 'someone@example.com' }), message)).statusCode).toBe(401);
      const stranger = { ...message, messageId: 'x1', data: Buffer.from(JSON.stringify({ name: 'enterprises/LCother/devices/d1' })).toString('base64') };
      expect((await push(signPush({}), stranger)).statusCode).toBe(204);
      expect(await metric('bad_signature')).toBe(1);
      expect(await metric('wrong_audience')).toBe(1);
      expect(await metric('wrong_account')).toBe(1);
      expect(await metric('unknown_enterprise')).toBe(1);
    });

    it('accepts a signed push once: a replayed message id is a duplicate, an older report is stale', async () => {
      const message = fake.report(names[2]!, { softwareInfo: { androidVersion: '16' } }) as { messageId: string; publishTime: string; data: string; attributes: Record<string, string> };
      expect((await push(signPush({}), message)).statusCode).toBe(204);
      // The job the push queued, run here: tests run no worker.
      expect(await amapi().devices.notification(message)).toBe('applied');
      expect(await amapi().devices.notification(message)).toBe('duplicate');
      const older = { ...message, messageId: 'older', publishTime: new Date(Date.parse(message.publishTime) - 60_000).toISOString() };
      expect(await amapi().devices.notification(older)).toBe('stale');
    });
  });

  it('refuses tokens beyond the device cap and unbinds, audited', async () => {
    await db().execute(sql`update amapi_enterprises set device_cap = 49`);
    const created = await api('POST', '/enrollment-tokens', { schoolId: tree.schools[1]!.id, label: 'CE2' });
    const refused = await api('POST', `/enrollment-tokens/${created.body.enrollmentToken.id}/amapi`);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('amapi_device_cap_reached');
    expect((await api('GET', '/amapi/binding')).body.capWarning).toMatch(/quota is reached/);
    const enterprise = (await api('GET', '/amapi/binding')).body.enterpriseName;
    expect((await api('POST', '/amapi/binding/unbind', { confirm: 'wrong' })).status).toBe(400);
    expect((await api('POST', '/amapi/binding/unbind', { confirm: enterprise })).body.state).toBe('unbound');
  });
});
