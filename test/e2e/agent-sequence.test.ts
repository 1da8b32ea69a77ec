import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { createMessage, type Envelope } from '../../agent-protocol/src';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { deviceSequences, devices } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, rawHello, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * Sequence numbers and report requests (§14.5, §12.7), the device clock (§21) and unreadable
 * Wi-Fi names (§12.6), as the server sees them through real sockets.
 */
let w: AgentWorld;
let bearer: string;
const agents: SimulatedAgent[] = [];

beforeAll(async () => {
  // A short acknowledgement delay, to see an unacknowledged report request sent again.
  w = await startAgentWorld({ COMMAND_ACK_TIMEOUT_SEC: '2' });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

const db = () => w.t.infra.database.db;
const deviceRow = async (id: string) => (await db().select().from(devices).where(eq(devices.id, id)))[0]!;
const api = (url: string) => w.t.app.inject({ method: 'GET', url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` } });

async function online(options: Parameters<typeof newAgent>[1] = {}): Promise<SimulatedAgent> {
  const agent = newAgent(w, { reportOnConnect: false, ...options });
  agents.push(agent);
  await agent.enroll();
  await agent.connect();
  await until(() => agent.state.outbox.length === 0);
  return agent;
}

const events = () => createMessage('report.events', { events: [{ kind: 'boot', at: new Date().toISOString() }] });

/** Loses three numbered messages for good, then reconnects with the next one as its oldest. */
async function loseMessages(agent: SimulatedAgent): Promise<number> {
  await agent.close();
  const lostFrom = agent.state.nextSeq!;
  agent.state.nextSeq = lostFrom + 3;
  agent.queue(events());
  await agent.connect();
  return lostFrom;
}

describe('sequence numbers and report requests', () => {
  it('records messages lost for good and asks the agent for a fresh inventory and app list, until it acknowledges', async () => {
    const agent = await online();
    const requests: Envelope[] = [];
    agent.on('message', (m: Envelope) => m.type === 'report.request' && requests.push(m));
    const lostFrom = await loseMessages(agent);
    await until(() => requests.length > 0);
    expect(requests[0]!.body).toEqual({ kinds: ['inventory', 'apps'], reason: 'sequence_gap' });
    await until(async () => (await deviceRow(agent.deviceId!)).reportRequest === null);
    const row = await deviceRow(agent.deviceId!);
    expect(row.facts.sequenceGap).toMatchObject({ from: lostFrom, to: lostFrom + 2 });
    const [sequence] = await db().select().from(deviceSequences).where(eq(deviceSequences.deviceId, agent.deviceId!));
    expect(sequence!.maxSeq).toBeGreaterThanOrEqual(lostFrom + 3);
    await until(async () => (await deviceRow(agent.deviceId!)).inventoryAt !== null);

    // A later jump within the same connection is not a loss.
    agent.state.nextSeq! += 2;
    agent.queue(events());
    await until(() => agent.state.outbox.length === 0);
    await new Promise((r) => setTimeout(r, 200));
    expect(requests).toHaveLength(1);
  });

  it('records the loss but sends no report request to an agent that did not announce report_request', async () => {
    const agent = await online({ capabilities: ['lock'] });
    const requests: Envelope[] = [];
    agent.on('message', (m: Envelope) => m.type === 'report.request' && requests.push(m));
    await loseMessages(agent);
    await until(async () => (await deviceRow(agent.deviceId!)).facts.sequenceGap !== undefined);
    await until(() => agent.state.outbox.length === 0);
    expect(requests).toHaveLength(0);
    expect((await deviceRow(agent.deviceId!)).reportRequest).toBeNull();
  });

  it('asks for a full app list again when it discards an invalid one, over HTTPS too', async () => {
    const agent = await online({ transport: 'https' });
    const requests: Envelope[] = [];
    agent.on('message', (m: Envelope) => m.type === 'report.request' && requests.push(m));
    agent.queue({ type: 'report.apps', id: randomUUID(), body: { full: true, apps: 'none' } } as unknown as Envelope);
    await until(() => requests.length > 0, 10_000);
    expect(requests[0]!.body).toEqual({ kinds: ['apps'], reason: 'invalid_report' });
    await until(async () => (await deviceRow(agent.deviceId!)).reportRequest === null, 10_000);
  });
});

describe('an unacknowledged report request', () => {
  it('is sent again on the same socket after the acknowledgement delay, and no more once acknowledged', async () => {
    const agent = await online();
    const identity = { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
    await agent.close();
    // A bare socket that announces report_request and never acknowledges anything by itself.
    const { session, answer } = await rawHello(w.url, identity, { capabilities: ['lock', 'report_request'] });
    expect(answer.type).toBe('welcome');
    const requests = () => session.messages.filter((m) => m.type === 'report.request');
    session.send({ type: 'report.apps', id: randomUUID(), body: { full: true, apps: 'none' } });
    await until(() => requests().length === 1, 5000);
    const first = requests()[0]!;
    expect(first.body).toEqual({ kinds: ['apps'], reason: 'invalid_report' });
    // Not acknowledged: the same request again, well before any new session.
    await until(() => requests().length >= 2, 8000);
    expect(requests()[1]!.id).toBe(first.id);
    session.send(createMessage('ack', {}, { ref: first.id }));
    await until(async () => (await deviceRow(agent.deviceId!)).reportRequest === null, 5000);
    const sent = requests().length;
    await new Promise((r) => setTimeout(r, 3000));
    expect(requests()).toHaveLength(sent);
    session.ws.close();
  }, 30_000);
});

describe('device clock and Wi-Fi name', () => {
  it('shows an unverified or future time by when it was received, and keeps what the device reported', async () => {
    const agent = await online();
    const past = new Date(Date.now() - 3600_000).toISOString();
    const future = new Date(Date.now() + 24 * 3600_000).toISOString();
    agent.queue(
      createMessage('report.events', {
        events: [
          { kind: 'boot', at: past },
          { kind: 'shutdown', at: past, timeUnverified: true },
          { kind: 'clock_skew', at: future, data: { offsetSec: -86400 } },
        ],
      }),
    );
    await until(() => agent.state.outbox.length === 0);
    const items = (await api(`/devices/${agent.deviceId}/events`)).json().items as { kind: string; at: string; receivedAt: string; shownAt: string; timeUnverified: boolean; data: object }[];
    const byKind = Object.fromEntries(items.map((e) => [e.kind, e]));
    expect(byKind.boot).toMatchObject({ at: past, shownAt: past, timeUnverified: false });
    expect(byKind.shutdown).toMatchObject({ at: past, timeUnverified: true, shownAt: byKind.shutdown!.receivedAt });
    expect(byKind.clock_skew).toMatchObject({ at: future, shownAt: byKind.clock_skew!.receivedAt, data: { offsetSec: -86400 } });
  });

  it('keeps the reason an SSID could not be read, never an empty network name', async () => {
    const agent = await online();
    agent.queue(createMessage('report.status', { batteryLevel: 50, charging: 'none', storageFreeBytes: 1e9, wifi: { ssid: 'ECOLE', rssi: -50 } }));
    await until(() => agent.state.outbox.length === 0);
    agent.queue(createMessage('report.status', { batteryLevel: 50, charging: 'none', storageFreeBytes: 1e9, wifi: { ssid: '', rssi: -58, ssidUnavailable: 'location_off' } }));
    await until(() => agent.state.outbox.length === 0);
    expect((await deviceRow(agent.deviceId!)).facts.network).toMatchObject({ wifi: { rssi: -58, ssidUnavailable: 'location_off' } });
    expect(((await deviceRow(agent.deviceId!)).facts.network as { wifi: object }).wifi).not.toHaveProperty('ssid');
  });
});
