import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createMessage, type Envelope } from '../../agent-protocol/src';
import { CountingAgent } from '../../agent-protocol/simulator/counting-agent';
import { commands, devices } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { rawHello, rawSession, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * Where the server and the agent protocol specification must agree: cancellation, presence,
 * capabilities, the HTTPS fallback's limits and error references. Heartbeats are short here so
 * that liveness can be observed.
 */
let w: AgentWorld;
let bearer: string;
const agents: CountingAgent[] = [];

beforeAll(async () => {
  w = await startAgentWorld({ AGENT_HEARTBEAT_SEC: '5', AGENT_MIN_VERSION_CODE: '10100' });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

async function online(options: Partial<ConstructorParameters<typeof CountingAgent>[0]> = {}): Promise<CountingAgent> {
  const agent = new CountingAgent({ serverUrl: w.url, token: w.token, index: 500 + agents.length, reportOnConnect: false, ...options });
  agents.push(agent);
  await agent.enroll();
  await agent.connect();
  return agent;
}

const api = (method: 'GET' | 'POST', url: string, payload?: object) => w.t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` }, payload });
const statusOf = async (id: string) => (await w.t.infra.database.db.select({ status: commands.status }).from(commands).where(eq(commands.id, id)))[0]!.status;

describe('agent protocol conformance of the server', () => {
  it('sends command.cancel to a tablet holding the command: it never runs it, and the command stays cancelled', async () => {
    const agent = await online();
    agent.holdMs = 1500;
    const cancels: Envelope[] = [];
    agent.on('message', (m: Envelope) => m.type === 'command.cancel' && cancels.push(m));
    const created = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'message', params: { text: 'Annulé en route' } });
    expect([created.statusCode, created.json().code]).toEqual([201, undefined]);
    const cmd = created.json();
    await until(() => agent.frames.has(cmd.id), 10_000);
    expect((await api('POST', `/commands/${cmd.id}/cancel`)).statusCode).toBe(200);
    await until(() => cancels.length > 0, 5000);
    expect(cancels[0]!.body).toEqual({ commandId: cmd.id });
    // The cancellation is acknowledged, so it is not sent again.
    await until(async () => (await w.t.infra.database.db.select({ at: commands.cancelNotifiedAt }).from(commands).where(eq(commands.id, cmd.id)))[0]!.at !== null, 5000);
    await new Promise((r) => setTimeout(r, 2000));
    expect(agent.executions.has(cmd.id)).toBe(false);
    expect(await statusOf(cmd.id)).toBe('cancelled');
    expect((await api('GET', `/commands/${cmd.id}`)).json()).toMatchObject({ status: 'cancelled', lateResult: null });
  });

  it('keeps what a tablet announces, refuses up front a kind it did not announce, and sends it what it did', async () => {
    const agent = await online();
    const [row] = await w.t.infra.database.db.select({ capabilities: devices.capabilities }).from(devices).where(eq(devices.id, agent.deviceId!));
    expect(row!.capabilities).toEqual(agent.helloBody().capabilities);
    // As if the tablet had announced only these two at its hello.
    await w.t.infra.database.db.update(devices).set({ capabilities: ['lock', 'message'] }).where(eq(devices.id, agent.deviceId!));
    const refused = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'locate' });
    expect(refused.statusCode).toBe(422);
    expect(refused.json().code).toBe('capability_not_announced');
    const lock = (await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'lock' })).json();
    await until(async () => (await statusOf(lock.id)) === 'succeeded', 5000);
  });

  it('counts only the agent’s own messages as alive: a socket that just answers pings goes offline', async () => {
    const agent = await online();
    const deviceId = agent.deviceId!;
    await agent.close();
    // A raw socket that authenticates like the agent, then never sends anything (its library answers pings by itself).
    const session = rawSession(w.url);
    const challenge = await session.challenge;
    session.send(createMessage('hello', { ...agent.helloBody(), signature: agent.signNonce(String(challenge.body.nonce)) }));
    await until(() => session.messages.some((m) => m.type === 'welcome'), 5000);
    const isOnline = async () => (await api('GET', `/devices/${deviceId}`)).json().online as boolean;
    expect(await isOnline()).toBe(true);
    const closed = await session.closed;
    expect(closed.code).toBe(4408);
    expect(session.messages.find((m) => m.type === 'error')?.body).toMatchObject({ code: 'heartbeat_timeout' });
    await until(async () => !(await isOnline()), 5000);
  }, 30_000);

  it('answers an oversize HTTPS exchange with message_too_big, and leaves out a reference that is not a message id', async () => {
    const agent = await online({ transport: 'https' });
    const challenge = (await (await fetch(`${w.url}/agent/v1/challenge`)).json()) as { nonce: string };
    const { deviceId, certificate, capabilities, agent: version } = agent.helloBody();
    const session = (await (await fetch(`${w.url}/agent/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId, certificate, capabilities, agent: version, nonce: challenge.nonce, signature: agent.signNonce(challenge.nonce) }),
    })).json()) as { token: string };
    const exchange = (body: string) => fetch(`${w.url}/agent/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` }, body });

    const huge = await exchange(JSON.stringify({ messages: [{ type: 'report.events', id: randomUUID(), body: { pad: 'x'.repeat(1_100_000) } }] }));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as { code: string }).code).toBe('message_too_big');

    const broken = await exchange(JSON.stringify({ messages: [{ type: 'report.status', id: 'not-a-uuid', body: {} }] }));
    expect(broken.status).toBe(200);
    const [error] = ((await broken.json()) as { messages: Envelope[] }).messages.filter((m) => m.type === 'error');
    expect(error).toBeDefined();
    expect(error!.ref).toBeUndefined();
  });

  it('announces the minimum agent version and the server clock at enrollment, welcome, session and exchange, and shows older agents outdated', async () => {
    const agent = new CountingAgent({ serverUrl: w.url, token: w.token, index: 900, reportOnConnect: false });
    agents.push(agent);
    const enrolled = await agent.enroll();
    expect(enrolled.minAgentVersionCode).toBe(10100);
    expect(Math.abs(Date.parse(enrolled.serverTime!) - Date.now())).toBeLessThan(5000);
    const identity = { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
    const device = async () => (await api('GET', `/devices/${identity.deviceId}`)).json() as { agentVersionCode: number | null; agentOutdated: boolean };

    const old = await rawHello(w.url, identity, { agent: { versionName: '1.0.0', versionCode: 10000 } });
    expect(old.answer.body).toMatchObject({ minAgentVersionCode: 10100, serverTime: expect.any(String) });
    old.session.ws.close();
    expect(await device()).toMatchObject({ agentVersionCode: 10000, agentOutdated: true });
    const listed = (await api('GET', '/devices?limit=200')).json() as { items: { id: string; agentOutdated: boolean }[] };
    expect(listed.items.find((d) => d.id === identity.deviceId)?.agentOutdated).toBe(true);

    const challenge = (await (await fetch(`${w.url}/agent/v1/challenge`)).json()) as { nonce: string };
    const session = (await (await fetch(`${w.url}/agent/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ deviceId: identity.deviceId, certificate: identity.certificate, nonce: challenge.nonce, signature: agent.signNonce(challenge.nonce), agent: { versionName: '1.1.0', versionCode: 10100 } }),
    })).json()) as { token: string; minAgentVersionCode: number; serverTime: string };
    expect(session.minAgentVersionCode).toBe(10100);
    expect(await device()).toMatchObject({ agentVersionCode: 10100, agentOutdated: false });
    const exchange = (await (await fetch(`${w.url}/agent/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${session.token}` }, body: '{"messages":[]}' })).json()) as { serverTime?: string };
    expect(Math.abs(Date.parse(exchange.serverTime!) - Date.now())).toBeLessThan(5000);
  });

  it('does not hand out again, at a new session, a command the tablet says it already holds', async () => {
    const agent = await online();
    const identity = { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
    await agent.close();
    const first = await rawHello(w.url, identity, { capabilities: ['lock', 'message'] });
    const cmd = (await api('POST', `/devices/${identity.deviceId}/commands`, { kind: 'message', params: { text: 'Une fois' } })).json();
    await until(() => first.session.messages.some((m) => m.type === 'command'), 5000);
    first.session.ws.close();
    await first.session.closed;
    expect(await statusOf(cmd.id)).toBe('sent');

    const second = await rawHello(w.url, identity, { capabilities: ['lock', 'message'], lastCommandIds: [cmd.id] });
    await new Promise((r) => setTimeout(r, 500));
    expect(second.session.messages.filter((m) => m.type === 'command')).toHaveLength(0);
    expect(await statusOf(cmd.id)).toBe('acknowledged');
    second.session.ws.close();
  });

  it('lists the events a tablet reported', async () => {
    const agent = await online();
    agent.queue(createMessage('report.events', { events: [{ kind: 'boot', at: new Date().toISOString() }] }));
    await until(() => agent.state.outbox.length === 0, 5000);
    const events = (await api('GET', `/devices/${agent.deviceId}/events`)).json();
    expect(events.items.map((e: { kind: string }) => e.kind)).toEqual(expect.arrayContaining(['boot', 'enrollment_complete']));
  });
});
