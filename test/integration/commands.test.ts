import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { auditEvents, commands, communes, deviceCertificates, devices, organisations, schools } from '../../server/infra/db/schema';
import { Nudges } from '../../server/infra/nudges';
import { Presence } from '../../server/infra/presence';
import type { CommandOutcome } from '../../server/domain/platform-ports';
import { createPrincipalToken } from '../helpers/auth';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof orgTree>>;
let admin: string;
let techA: string;
let director: string;

const db = () => t.infra.database.db;

/** An organisation, one commune and `n` schools, with codes unique whatever the process id. */
async function orgTree(n: number) {
  const tag = randomUUID().slice(0, 8);
  const [org] = await db().insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning();
  const [commune] = await db().insert(communes).values({ organisationId: org!.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  const rows = await db()
    .insert(schools)
    .values(Array.from({ length: n }, (_, i) => ({ organisationId: org!.id, communeId: commune!.id, code: `${tag}${i}`, name: `École ${i + 1}` })))
    .returning();
  return { org: org!, schools: rows };
}

async function addDevice(schoolIndex = 0, extra: Partial<typeof devices.$inferInsert> = {}) {
  const [d] = await db()
    .insert(devices)
    .values({ organisationId: tree.org.id, schoolId: tree.schools[schoolIndex]!.id, platform: 'android', name: `Tablette ${randomUUID().slice(0, 8)}`, serial: randomUUID(), ...extra })
    .returning();
  return d!;
}

function api(token: string, method: 'GET' | 'POST', url: string, payload?: unknown) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
}

async function commandRow(id: string) {
  const [row] = await db().select().from(commands).where(eq(commands.id, id));
  return row!;
}

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await orgTree(2);
  admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: tree.org.id });
  techA = await createPrincipalToken(t.services, { role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id, organisationId: tree.org.id });
  director = await createPrincipalToken(t.services, { role: 'director', scopeType: 'school', scopeId: tree.schools[0]!.id, organisationId: tree.org.id });
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const queue = () => t.services.commandQueue;
const handOut = async (deviceId: string, newSession = true) => (await queue().next(deviceId, { newSession })).commands.map((c) => c.id);
const report = (deviceId: string, commandId: string, status: CommandOutcome['status'], extra: Partial<CommandOutcome> = {}) =>
  queue().report(deviceId, { commandId, status, raw: { test: status }, ...extra });

describe('command lifecycle through the queue port', () => {
  it('queues, hands out, acknowledges and completes a lock exactly once', async () => {
    const device = await addDevice();
    const other = await addDevice();
    const res = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lock', params: { message: 'Rangez les tablettes', phone: '0476000000' } });
    expect(res.statusCode).toBe(201);
    const created = res.json();
    expect(created).toMatchObject({ kind: 'lock', status: 'queued', attempts: 0, origin: 'technician' });

    const first = await queue().next(device.id, { newSession: true });
    expect(first.commands).toEqual([expect.objectContaining({ id: created.id, kind: 'lock', params: { message: 'Rangez les tablettes', phone: '0476000000' } })]);
    expect(await handOut(other.id)).toEqual([]);
    // Within the session it is not handed out again before its acknowledgement is overdue; a new session takes it back.
    expect(await handOut(device.id, false)).toEqual([]);
    expect(await handOut(device.id, true)).toEqual([created.id]);
    expect(await commandRow(created.id)).toMatchObject({ status: 'sent', attempts: 2 });

    // An ack or a result sent by another device changes nothing.
    await report(other.id, created.id, 'acknowledged');
    await report(other.id, created.id, 'failed', { error: { code: 'UNKNOWN', message: 'x' } });
    expect((await commandRow(created.id)).status).toBe('sent');

    await report(device.id, created.id, 'acknowledged');
    await report(device.id, created.id, 'acknowledged');
    expect((await commandRow(created.id)).status).toBe('acknowledged');
    expect(await handOut(device.id, false)).toEqual([]);

    await report(device.id, created.id, 'succeeded', { messageId: randomUUID() });
    const done = await api(techA, 'GET', `/commands/${created.id}`);
    expect(done.json()).toMatchObject({ status: 'succeeded', error: null, lateResult: null });
    expect(done.json().completedAt).not.toBeNull();
    expect((await commandRow(created.id)).resultRaw).toEqual({ test: 'succeeded' });
  });

  it('never overwrites a final state: a re-sent result is ignored, a second one is kept beside it', async () => {
    const device = await addDevice();
    const cmd = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'message', params: { text: 'Bonjour' } })).json();
    const messageId = randomUUID();
    await report(device.id, cmd.id, 'succeeded', { messageId });
    await report(device.id, cmd.id, 'succeeded', { messageId });
    expect((await api(techA, 'GET', `/commands/${cmd.id}`)).json()).toMatchObject({ status: 'succeeded', lateResult: null });
    await report(device.id, cmd.id, 'failed', { messageId: randomUUID(), error: { code: 'UNKNOWN', message: 'second answer' } });
    const view = (await api(techA, 'GET', `/commands/${cmd.id}`)).json();
    expect(view).toMatchObject({ status: 'succeeded', error: null, lateResult: { status: 'failed', error: { code: 'UNKNOWN', message: 'second answer' } } });
  });

  it('keeps a cancelled command cancelled when the device reports it ran it anyway, and tells the device', async () => {
    const device = await addDevice();
    const cmd = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'message', params: { text: 'Trop tard' } })).json();
    expect(await handOut(device.id)).toEqual([cmd.id]);
    await report(device.id, cmd.id, 'acknowledged');
    expect((await api(techA, 'POST', `/commands/${cmd.id}/cancel`)).json().status).toBe('cancelled');
    const next = await queue().next(device.id, { newSession: false });
    expect(next).toEqual({ commands: [], cancelled: [cmd.id], redelivered: false });
    await queue().cancellationsDelivered(device.id, [cmd.id]);
    expect((await queue().next(device.id, { newSession: true })).cancelled).toEqual([]);
    await report(device.id, cmd.id, 'succeeded', { messageId: randomUUID() });
    expect((await api(techA, 'GET', `/commands/${cmd.id}`)).json()).toMatchObject({ status: 'cancelled', lateResult: { status: 'succeeded' } });
  });

  it('offers a command put off with not_now again at the next session only', async () => {
    const device = await addDevice();
    const cmd = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'refresh_inventory' })).json();
    expect(await handOut(device.id)).toEqual([cmd.id]);
    await report(device.id, cmd.id, 'not_now');
    expect((await commandRow(cmd.id)).status).toBe('not_now');
    expect(await handOut(device.id, false)).toEqual([]);
    expect(await handOut(device.id, true)).toEqual([cmd.id]);
    await report(device.id, cmd.id, 'succeeded');
    expect((await commandRow(cmd.id)).status).toBe('succeeded');
  });

  it('never hands out an expired command and marks it expired', async () => {
    const device = await addDevice();
    const res = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'message', params: { text: 'Bonjour' }, expiresInSec: 1 });
    expect(res.statusCode).toBe(201);
    await new Promise((r) => setTimeout(r, 1100));
    expect(await handOut(device.id)).toEqual([]);
    expect((await commandRow(res.json().id)).status).toBe('expired');
  });

  it('cancels before the device starts a command and refuses after', async () => {
    const device = await addDevice();
    const first = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'reboot' })).json();
    await handOut(device.id);
    const cancelled = await api(techA, 'POST', `/commands/${first.id}/cancel`);
    expect(cancelled.statusCode).toBe(200);
    expect(cancelled.json().status).toBe('cancelled');
    expect(await handOut(device.id)).toEqual([]);

    const second = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'reboot' })).json();
    await report(device.id, second.id, 'executing');
    const refused = await api(techA, 'POST', `/commands/${second.id}/cancel`);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({ code: 'not_cancellable', status: 409, commandStatus: 'executing' });
    const [audit] = await db().select().from(auditEvents).where(eq(auditEvents.targetId, first.id));
    expect(audit).toMatchObject({ action: 'command.cancel', outcome: 'success' });
  });

  it('shows a reboot executing, then succeeded', async () => {
    const device = await addDevice();
    const cmd = (await api(admin, 'POST', `/devices/${device.id}/commands`, { kind: 'reboot' })).json();
    await report(device.id, cmd.id, 'executing');
    expect((await api(admin, 'GET', `/commands/${cmd.id}`)).json().status).toBe('executing');
    await report(device.id, cmd.id, 'succeeded');
    expect((await commandRow(cmd.id)).status).toBe('succeeded');
  });

  it('refuses up front a kind the device did not announce, with the reason', async () => {
    const device = await addDevice(0, { capabilities: ['lock', 'message'] });
    expect((await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lock' })).statusCode).toBe(201);
    const refused = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'locate' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json()).toMatchObject({ code: 'capability_not_announced' });
    const windows = await addDevice(0, { platform: 'windows' });
    expect((await api(techA, 'POST', `/devices/${windows.id}/commands`, { kind: 'lock' })).json()).toMatchObject({ status: 422, code: 'kind_not_supported_on_platform' });
  });
});

describe('Idempotency-Key', () => {
  it('answers a retried request with the first answer and creates nothing twice', async () => {
    const device = await addDevice();
    const send = (key: string, payload: object) =>
      t.app.inject({ method: 'POST', url: `/api/v1/devices/${device.id}/commands`, headers: { authorization: `Bearer ${techA}`, 'idempotency-key': key }, payload });
    const key = randomUUID();
    const first = await send(key, { kind: 'lock' });
    const again = await send(key, { kind: 'lock' });
    expect(first.statusCode).toBe(201);
    expect(again.statusCode).toBe(201);
    expect(again.json().id).toBe(first.json().id);
    expect(again.headers['idempotent-replayed']).toBe('true');
    expect((await api(techA, 'GET', `/devices/${device.id}/commands`)).json().items).toHaveLength(1);
    const reused = await send(key, { kind: 'reboot' });
    expect(reused.statusCode).toBe(422);
    expect(reused.json().code).toBe('idempotency_key_reused');
    // Another caller's key of the same value is another key.
    const other = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${device.id}/commands`, headers: { authorization: `Bearer ${admin}`, 'idempotency-key': key }, payload: { kind: 'lock' } });
    expect(other.json().id).not.toBe(first.json().id);
  });
});

describe('wipe', () => {
  it('asks for confirmation, then wipes, revokes and retires the device once it confirms', async () => {
    const device = await addDevice();
    await db().insert(deviceCertificates).values({ deviceId: device.id, serialHex: randomUUID(), fingerprintSha256: randomUUID(), notBefore: new Date(), notAfter: new Date(Date.now() + 1e9) });
    const ask = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'wipe' });
    expect(ask.statusCode).toBe(428);
    expect(ask.json()).toMatchObject({ code: 'confirmation_required', deviceName: device.name });
    expect(await handOut(device.id)).toEqual([]);

    const wrong = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'wipe', confirm: device.name.toUpperCase() });
    expect(wrong.statusCode).toBe(400);
    expect(wrong.json().code).toBe('confirmation_mismatch');

    const ok = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'wipe', params: { reason: 'Changement de main' }, confirm: ask.json().confirmationToken });
    expect(ok.statusCode).toBe(201);
    const wipe = ok.json();
    expect(Date.parse(wipe.expiresAt) - Date.parse(wipe.createdAt)).toBe(7 * 24 * 3600 * 1000);

    await report(device.id, wipe.id, 'executing');
    expect((await commandRow(wipe.id)).status).toBe('succeeded');
    const [after] = await db().select().from(devices).where(eq(devices.id, device.id));
    expect(after!.status).toBe('wiped');
    expect(after!.wipedAt).not.toBeNull();
    const certs = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, device.id));
    expect(certs.every((c) => c.revokedAt !== null && c.revokeReason === 'wiped')).toBe(true);
    expect(await handOut(device.id)).toEqual([]);
    const actions = (await db().select().from(auditEvents).where(eq(auditEvents.targetId, device.id))).map((a) => a.action);
    expect(actions).toEqual(expect.arrayContaining(['command.create', 'device.wiped']));

    const again = await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lock' });
    expect(again.statusCode).toBe(409);
    // The wiped device keeps its history.
    const history = await api(techA, 'GET', `/devices/${device.id}/commands`);
    expect(history.json().items.map((c: { id: string }) => c.id)).toContain(wipe.id);
  });

  it('accepts the exact device name as confirmation', async () => {
    const device = await addDevice();
    const res = await api(admin, 'POST', `/devices/${device.id}/commands`, { kind: 'wipe', confirm: device.name });
    expect(res.statusCode).toBe(201);
  });
});

describe('locate and lost mode', () => {
  it('stores the located fix, shows it only through the audited location read, and audits every read', async () => {
    const device = await addDevice();
    const none = await api(techA, 'GET', `/devices/${device.id}/location`);
    expect(none.statusCode).toBe(404);
    const cmd = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'locate' })).json();
    const location = { lat: 45.18861, lon: 5.72449, accuracyM: 9.8, altitudeM: null, speedMps: null, bearingDeg: null, provider: 'gps', fixTime: new Date('2026-01-12T10:00:00Z') };
    await report(device.id, cmd.id, 'succeeded', { result: {}, location });
    // The command's own views never carry the position, for a director as for anyone.
    for (const who of [techA, director]) {
      const views = [(await api(who, 'GET', `/commands/${cmd.id}`)).body, (await api(who, 'GET', `/devices/${device.id}/commands`)).body];
      for (const body of views) expect(body).not.toContain('45.18');
    }
    expect((await api(techA, 'GET', `/commands/${cmd.id}`)).json().result).toMatchObject({ locationFixId: expect.any(Number) });
    const res = await api(techA, 'GET', `/devices/${device.id}/location`);
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ lat: 45.18861, lon: 5.72449, accuracyM: expect.closeTo(9.8, 3), provider: 'gps', fixTime: '2026-01-12T10:00:00.000Z', source: 'locate', commandId: cmd.id });
    const reads = (await db().select().from(auditEvents).where(eq(auditEvents.targetId, device.id))).filter((a) => a.action === 'device.location.read');
    expect(reads).toHaveLength(2);
    expect((await api(director, 'GET', `/devices/${device.id}/location`)).statusCode).toBe(403);
  });

  it('shows lost mode on the device once confirmed, and clears it', async () => {
    const device = await addDevice();
    const on = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lost_mode_on', params: { message: 'Rapportez-moi à l’école', phone: '0476' } })).json();
    await report(device.id, on.id, 'succeeded');
    let [row] = await db().select().from(devices).where(eq(devices.id, device.id));
    expect(row).toMatchObject({ lostMode: true, lostModeMessage: 'Rapportez-moi à l’école' });
    const off = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lost_mode_off' })).json();
    await report(device.id, off.id, 'succeeded');
    [row] = await db().select().from(devices).where(eq(devices.id, device.id));
    expect(row).toMatchObject({ lostMode: false, lostModeMessage: null });
  });
});

describe('validation, scope and permissions', () => {
  it('refuses unknown fields, bad params and unknown kinds', async () => {
    const device = await addDevice();
    expect((await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lock', extra: 1 })).statusCode).toBe(400);
    expect((await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lost_mode_on', params: {} })).json().code).toBe('invalid_params');
    expect((await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'lock', params: { colour: 'red' } })).statusCode).toBe(400);
    expect((await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'install_app' })).statusCode).toBe(400);
  });

  it('answers 404 outside the scope and 403 without the permission', async () => {
    const elsewhere = await addDevice(1);
    expect((await api(techA, 'POST', `/devices/${elsewhere.id}/commands`, { kind: 'lock' })).statusCode).toBe(404);
    expect((await api(techA, 'GET', `/devices/${elsewhere.id}/commands`)).statusCode).toBe(404);
    const cmd = (await api(admin, 'POST', `/devices/${elsewhere.id}/commands`, { kind: 'lock' })).json();
    expect((await api(techA, 'GET', `/commands/${cmd.id}`)).statusCode).toBe(404);
    expect((await api(techA, 'POST', `/commands/${cmd.id}/cancel`)).statusCode).toBe(404);
    const mine = await addDevice(0);
    expect((await api(director, 'POST', `/devices/${mine.id}/commands`, { kind: 'lock' })).statusCode).toBe(403);
    expect((await api(director, 'GET', `/devices/${mine.id}/commands`)).statusCode).toBe(200);
  });

  it('pages the history newest first', async () => {
    const device = await addDevice();
    for (let i = 0; i < 5; i++) await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'message', params: { text: `m${i}` } });
    const first = (await api(techA, 'GET', `/devices/${device.id}/commands?limit=3`)).json();
    expect(first.items.map((c: { params: { text: string } }) => c.params.text)).toEqual(['m4', 'm3', 'm2']);
    const second = (await api(techA, 'GET', `/devices/${device.id}/commands?limit=3&cursor=${first.nextCursor}`)).json();
    expect(second.items.map((c: { params: { text: string } }) => c.params.text)).toEqual(['m1', 'm0']);
    expect(second.nextCursor).toBeNull();
  });
});

describe('bulk actions and delivery', () => {
  it('creates one command per active device of a school and reports the skipped ones', async () => {
    const school = await orgTree(1);
    const token = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: school.org.id });
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) {
      const [d] = await db().insert(devices).values({ organisationId: school.org.id, schoolId: school.schools[0]!.id, platform: 'android', name: `T${i}`, status: i === 0 ? 'wiped' : 'active' }).returning();
      ids.push(d!.id);
    }
    const res = await api(token, 'POST', '/commands/bulk', { kind: 'lock', target: { schoolId: school.schools[0]!.id } });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toMatchObject({ created: 29, mode: 'inline', skipped: [{ deviceId: ids[0], reason: 'device_wiped' }] });
    const progress = await api(token, 'GET', `/commands?batchId=${res.json().batchId}`);
    expect(progress.json()).toMatchObject({ state: 'done', eligible: 29, stored: 29, total: 29, counts: { queued: 29 } });
    // Another organisation's admin sees nothing of this batch.
    expect((await api(admin, 'GET', `/commands?batchId=${res.json().batchId}`)).json().total).toBe(0);
  });

  it('nudges the node holding an online device, and the reconciler nudges again what stays unacknowledged', async () => {
    const device = await addDevice();
    const prefix = env.config.REDIS_PREFIX;
    const presence = new Presence(t.infra.redis, prefix, 60);
    await presence.set([device.id], 'node-under-test');
    const received: string[] = [];
    const nudges = new Nudges(t.infra.redis, t.infra.subscriber, presence, prefix);
    const stop = await nudges.listen('node-under-test', (signal) => signal.kind === 'nudge' && received.push(...signal.deviceIds));
    try {
      const cmd = (await api(techA, 'POST', `/devices/${device.id}/commands`, { kind: 'locate' })).json();
      await waitFor(() => received.includes(device.id));
      received.length = 0;
      await handOut(device.id);
      await db().update(commands).set({ sentAt: new Date(Date.now() - 3600_000) }).where(eq(commands.id, cmd.id));
      const outcome = await t.services.reconciler.reconcile();
      expect(outcome.woken).toBeGreaterThanOrEqual(1);
      await waitFor(() => received.includes(device.id));
    } finally {
      await stop();
    }
  });
});

async function waitFor(check: () => boolean, timeoutMs = 2000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
