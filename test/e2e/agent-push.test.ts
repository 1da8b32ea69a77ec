import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { FakeFcmServer } from '../../agent-protocol/simulator/fake-fcm';
import { FakePushService } from '../../agent-protocol/simulator/push';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { commands, devicePush } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * The push channel (agent protocol §23): the server's real FCM sender, over real HTTP, to a fake
 * FCM endpoint that delivers to simulated tablets.
 */
let w: AgentWorld;
let bearer: string;
let dir: string;
const push = new FakePushService('cartable-ecoles');
const fcm = new FakeFcmServer(push);
const agents: SimulatedAgent[] = [];

beforeAll(async () => {
  const base = await fcm.listen();
  dir = mkdtempSync(join(tmpdir(), 'cartable-fcm-'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const account = { type: 'service_account', client_email: 'cartable@cartable-ecoles.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: `${base}/token` };
  writeFileSync(join(dir, 'service-account.json'), JSON.stringify(account));
  w = await startAgentWorld({ FCM_PROJECT_ID: 'cartable-ecoles', FCM_SERVICE_ACCOUNT_FILE: join(dir, 'service-account.json'), FCM_API_URL: base });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
  await fcm.close();
  rmSync(dir, { recursive: true, force: true });
});

const db = () => w.t.infra.database.db;
const registration = async (deviceId: string) => (await db().select().from(devicePush).where(eq(devicePush.deviceId, deviceId)))[0];
const command = (deviceId: string, kind: string, params?: object) =>
  w.t.app.inject({ method: 'POST', url: `/api/v1/devices/${deviceId}/commands`, headers: { authorization: `Bearer ${bearer}` }, payload: { kind, ...(params ? { params } : {}) } });
const statusOf = async (id: string) => (await db().select({ status: commands.status }).from(commands).where(eq(commands.id, id)))[0]!.status;

async function online(): Promise<SimulatedAgent> {
  const agent = newAgent(w, { push, reportOnConnect: false });
  agents.push(agent);
  await agent.enroll();
  await agent.connect();
  return agent;
}

describe('push wake-ups', () => {
  it('announces push and keeps the registration of the enrollment and the hello', async () => {
    const agent = await online();
    expect(agent.serverCapabilities).toContain('push');
    expect(await registration(agent.deviceId!)).toMatchObject({ provider: 'fcm', token: agent.state.pushToken, projectId: 'cartable-ecoles' });
  });

  it('wakes a sleeping tablet with a content-free data message when a command is queued for it', async () => {
    const agent = await online();
    await agent.sleep();
    await until(async () => !(await w.t.app.inject({ method: 'GET', url: `/api/v1/devices/${agent.deviceId}`, headers: { authorization: `Bearer ${bearer}` } })).json().online);
    const before = push.sent.length;
    const woken = new Promise((resolve) => agent.once('woken', resolve));
    const lock = (await command(agent.deviceId!, 'lock')).json();
    await woken;
    const [message] = push.sent.slice(before);
    expect(message).toEqual({ token: agent.state.pushToken, data: { cartable: 'wake' }, priority: 'high', ttlSec: expect.any(Number), collapseKey: 'cartable-wake' });
    expect(message!.ttlSec).toBeGreaterThan(60);
    expect(fcm.authorizations.at(-1)).toMatch(/^Bearer fake-access-\d+$/);
    await until(async () => (await statusOf(lock.id)) === 'succeeded', 10_000);
  });

  it('pushes once for a burst of commands, and not at all to a tablet that is online', async () => {
    const agent = await online();
    const before = push.sent.length;
    const message = (await command(agent.deviceId!, 'message', { text: 'En ligne' })).json();
    await until(async () => (await statusOf(message.id)) === 'succeeded', 10_000);
    expect(push.sent.length).toBe(before);

    await agent.close();
    await until(async () => !(await w.t.app.inject({ method: 'GET', url: `/api/v1/devices/${agent.deviceId}`, headers: { authorization: `Bearer ${bearer}` } })).json().online);
    await command(agent.deviceId!, 'lock');
    await until(() => push.sent.length === before + 1);
    await command(agent.deviceId!, 'message', { text: 'Deux' });
    await new Promise((r) => setTimeout(r, 500));
    expect(push.sent.length).toBe(before + 1);
  });

  it('follows a new token from push.token, and forgets a token the provider no longer knows', async () => {
    const agent = await online();
    const renewed = push.rotate(agent.state.pushToken!)!;
    await until(async () => (await registration(agent.deviceId!))?.token === renewed);

    await agent.close();
    push.unregister(renewed);
    await command(agent.deviceId!, 'lock');
    await until(async () => (await registration(agent.deviceId!)) === undefined);
  });
});
