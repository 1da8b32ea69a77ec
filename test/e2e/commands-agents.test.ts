import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { eq } from 'drizzle-orm';
import { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { MemoryStateStore } from '../../agent-protocol/simulator/state';
import { commands, communes, deviceCertificates, devices, organisations, schools } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { createPrincipalToken } from '../helpers/auth';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let serverUrl: string;
let enrollToken: string;
let bearer: string;
const agents: SimulatedAgent[] = [];

const db = () => t.infra.database.db;

async function waitFor<T>(check: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function onlineAgent(): Promise<SimulatedAgent> {
  const agent = new SimulatedAgent({ serverUrl, token: enrollToken, index: agents.length, reportOnConnect: false });
  agents.push(agent);
  await agent.enroll();
  // The server advertises CARTABLE_PUBLIC_URL; this test server listens on a random port.
  agent.state.endpoints = { ws: `${serverUrl.replace(/^http/, 'ws')}/agent/v1/ws`, http: `${serverUrl}/agent/v1` };
  await agent.connect();
  return agent;
}

async function issue(deviceId: string, body: Record<string, unknown>) {
  const res = await t.app.inject({ method: 'POST', url: `/api/v1/devices/${deviceId}/commands`, headers: { authorization: `Bearer ${bearer}` }, payload: body });
  expect(res.statusCode).toBe(201);
  return res.json() as { id: string };
}

async function statusOf(id: string) {
  const [row] = await db().select().from(commands).where(eq(commands.id, id));
  return row!.status;
}

const statusBecomes = (id: string, status: string) => waitFor(async () => (await statusOf(id)) === status);

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env, { listen: true });
  serverUrl = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`;
  const tag = randomUUID().slice(0, 8);
  const [org] = await db().insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning();
  const [commune] = await db().insert(communes).values({ organisationId: org!.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  const [school] = await db().insert(schools).values({ organisationId: org!.id, communeId: commune!.id, code: `${tag}A`, name: 'École' }).returning();
  ({ token: enrollToken } = await t.services.enrollment.createToken({ all: true, organisationId: org!.id }, SYSTEM_ACTOR, { schoolId: school!.id, label: 'e2e', maxUses: null }));
  bearer = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: org!.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await t.close();
  await env.cleanup();
});

describe('every kind, end to end with a simulated agent', () => {
  it.each([
    ['lock', { message: 'Verrouillée', phone: '0476000000' }],
    ['message', { title: 'Rangement', text: 'Tablettes en charge avant 16 h 30' }],
    ['refresh_inventory', {}],
    ['refresh_apps', {}],
  ])('%s is executed once and succeeds', async (kind, params) => {
    const agent = await onlineAgent();
    const cmd = await issue(agent.deviceId!, { kind, params });
    await statusBecomes(cmd.id, 'succeeded');
    expect(agent.executions.get(cmd.id)).toBe(1);
  });

  it('locate returns a fix that is stored and readable', async () => {
    const agent = await onlineAgent();
    const cmd = await issue(agent.deviceId!, { kind: 'locate' });
    await statusBecomes(cmd.id, 'succeeded');
    const res = await t.app.inject({ url: `/api/v1/devices/${agent.deviceId}/location`, headers: { authorization: `Bearer ${bearer}` } });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ commandId: cmd.id, source: 'locate', accuracyM: expect.any(Number), fixTime: expect.any(String) });
  });

  it('lost mode goes on and off, visible on the device, and sounds only while on', async () => {
    const agent = await onlineAgent();
    const early = await issue(agent.deviceId!, { kind: 'lost_mode_sound' });
    await statusBecomes(early.id, 'failed');
    expect((await db().select({ errorCode: commands.errorCode }).from(commands).where(eq(commands.id, early.id)))[0]!.errorCode).toBe('INVALID_VALUE');
    const on = await issue(agent.deviceId!, { kind: 'lost_mode_on', params: { message: 'Tablette perdue : appelez l’école', footnote: 'Agglo' } });
    await statusBecomes(on.id, 'succeeded');
    expect((await db().select().from(devices).where(eq(devices.id, agent.deviceId!)))[0]).toMatchObject({ lostMode: true, lostModeMessage: 'Tablette perdue : appelez l’école' });
    const sound = await issue(agent.deviceId!, { kind: 'lost_mode_sound' });
    await statusBecomes(sound.id, 'succeeded');
    const off = await issue(agent.deviceId!, { kind: 'lost_mode_off' });
    await statusBecomes(off.id, 'succeeded');
    expect((await db().select().from(devices).where(eq(devices.id, agent.deviceId!)))[0]!.lostMode).toBe(false);
  });

  it.each(['reboot', 'shutdown'])('%s is confirmed before acting, then succeeds after the restart', async (kind) => {
    const agent = await onlineAgent();
    const cmd = await issue(agent.deviceId!, { kind });
    await waitFor(() => agent.executions.get(cmd.id) === 1);
    await statusBecomes(cmd.id, 'succeeded');
    expect(agent.executions.get(cmd.id)).toBe(1);
  });

  it('wipe retires the device and revokes it: its identity is refused afterwards', async () => {
    const agent = await onlineAgent();
    const deviceId = agent.deviceId!;
    // A copy of the tablet's identity, as a thief restoring a backup would have it.
    const stolen = new MemoryStateStore();
    await stolen.save(agent.state);
    const wiped = new Promise((resolve) => agent.once('wiped', resolve));
    const cmd = await issue(deviceId, { kind: 'wipe', confirm: (await db().select().from(devices).where(eq(devices.id, deviceId)))[0]!.name });
    await wiped;
    await statusBecomes(cmd.id, 'succeeded');
    const [device] = await db().select().from(devices).where(eq(devices.id, deviceId));
    expect(device!.status).toBe('wiped');
    const certs = await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(certs.length).toBeGreaterThan(0);
    expect(certs.every((c) => c.revokedAt)).toBe(true);
    expect(agent.executions.get(cmd.id)).toBe(1);

    const ghost = new SimulatedAgent({ serverUrl, state: stolen, reportOnConnect: false, reconnect: false });
    agents.push(ghost);
    const revoked = new Promise((resolve) => ghost.once('revoked', resolve));
    const closed = new Promise<number>((resolve) => ghost.once('disconnected', resolve));
    await ghost.connect().catch(() => undefined);
    expect(await Promise.race([closed, revoked.then(() => 4403)])).toBe(4403);
  });
});

describe('exactly once, expiry and cancel', () => {
  it('executes a command delivered twice only once', async () => {
    const agent = await onlineAgent();
    const cmd = await issue(agent.deviceId!, { kind: 'lock' });
    await statusBecomes(cmd.id, 'succeeded');
    // Delivery is at least once: make the server believe it never got through, and deliver again.
    await db().update(commands).set({ status: 'sent' }).where(eq(commands.id, cmd.id));
    const received = new Promise((resolve) => agent.on('message', (m: { type: string; body: { commandId?: string } }) => m.type === 'command' && m.body.commandId === cmd.id && resolve(m)));
    await t.services.reconciler.reconcile();
    await db().update(commands).set({ sentAt: new Date(0) }).where(eq(commands.id, cmd.id));
    await t.services.reconciler.reconcile();
    await received;
    // The agent acknowledges the duplicate and re-sends its stored result, without executing again.
    await waitFor(async () => (await statusOf(cmd.id)) !== 'sent');
    await statusBecomes(cmd.id, 'succeeded');
    await new Promise((r) => setTimeout(r, 200));
    expect(agent.executions.get(cmd.id)).toBe(1);
  });

  it('does not execute a command that expired while the tablet was offline', async () => {
    const agent = await onlineAgent();
    await agent.close();
    const cmd = await issue(agent.deviceId!, { kind: 'message', params: { text: 'trop tard' }, expiresInSec: 1 });
    await new Promise((r) => setTimeout(r, 1200));
    await agent.connect();
    await statusBecomes(cmd.id, 'expired');
    await new Promise((r) => setTimeout(r, 300));
    expect(agent.executions.has(cmd.id)).toBe(false);
  });

  it('cancels before acknowledgement (never executed) and refuses after', async () => {
    const agent = await onlineAgent();
    await agent.close();
    const cmd = await issue(agent.deviceId!, { kind: 'reboot' });
    const cancel = (id: string) => t.app.inject({ method: 'POST', url: `/api/v1/commands/${id}/cancel`, headers: { authorization: `Bearer ${bearer}` } });
    expect((await cancel(cmd.id)).statusCode).toBe(200);
    await agent.connect();
    const later = await issue(agent.deviceId!, { kind: 'lock' });
    await statusBecomes(later.id, 'succeeded');
    expect(agent.executions.has(cmd.id)).toBe(false);
    expect(await statusOf(cmd.id)).toBe('cancelled');
    const refused = await cancel(later.id);
    expect(refused.statusCode).toBe(409);
  });
});
