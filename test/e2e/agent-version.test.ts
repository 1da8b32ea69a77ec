import { eq } from 'drizzle-orm';
import { AGENT_CAPABILITIES } from '../../agent-protocol/simulator/command-runner';
import { CountingAgent } from '../../agent-protocol/simulator/counting-agent';
import { commands } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * Agent protocol §24.1 through real sockets and the REST API: below the minimum version a
 * tablet is connected and heard from, but given nothing but its own update.
 */
let w: AgentWorld;
let bearer: string;
const agents: CountingAgent[] = [];

beforeAll(async () => {
  w = await startAgentWorld({ AGENT_MIN_VERSION_CODE: '10100' });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

const api = (method: 'GET' | 'POST', url: string, payload?: object) => w.t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` }, payload });
const statusOf = async (id: string) => (await w.t.infra.database.db.select({ status: commands.status }).from(commands).where(eq(commands.id, id)))[0]!.status;

function tablet(index: number, versionCode: number): CountingAgent {
  // A 1.0 agent does not announce install_app or remove_app (agent protocol §19).
  const capabilities = versionCode < 10100 ? AGENT_CAPABILITIES.filter((c) => c !== 'install_app' && c !== 'remove_app') : AGENT_CAPABILITIES;
  const agent = new CountingAgent({ serverUrl: w.url, token: w.token, index, reportOnConnect: false, capabilities });
  agent.profile.agent.versionCode = versionCode;
  agent.profile.agent.versionName = versionCode < 10100 ? '1.0.0' : '1.1.0';
  agents.push(agent);
  return agent;
}

describe('an agent below the minimum version', () => {
  it('is connected but given no command, refuses new ones (single and bulk), and gets what waited once updated', async () => {
    const old = tablet(7001, 10000);
    const current = tablet(7002, 10100);
    await old.enroll();
    await current.enroll();
    // Queued before the server knew the tablet's version (it tells it at its first hello).
    const waiting = await api('POST', `/devices/${old.deviceId}/commands`, { kind: 'lock', params: { message: 'En attente' } });
    expect(waiting.statusCode).toBe(201);
    const lockId = (waiting.json() as { id: string }).id;

    await old.connect();
    await current.connect();
    const shown = (await api('GET', `/devices/${old.deviceId}`)).json() as { online: boolean; agentVersionCode: number; agentOutdated: boolean };
    // The 1.0 agent does not announce install_app: it cannot update itself.
    expect(shown).toMatchObject({ online: true, agentVersionCode: 10000, agentOutdated: true, agentSelfUpdate: 'not_announced' });

    // Refused up front, with the minimum and the device's version.
    const refused = await api('POST', `/devices/${old.deviceId}/commands`, { kind: 'lock' });
    expect(refused.statusCode).toBe(409);
    expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(refused.json()).toMatchObject({ code: 'agent_outdated', minAgentVersionCode: 10100, agentVersionCode: 10000 });

    // A bulk action skips it and says why; the up-to-date tablet gets its command.
    const bulk = await api('POST', '/commands/bulk', { kind: 'message', params: { text: 'Bonjour' }, target: { deviceIds: [old.deviceId, current.deviceId] } });
    expect(bulk.statusCode).toBe(201);
    expect(bulk.json()).toMatchObject({ created: 1, skipped: [{ deviceId: old.deviceId, reason: 'agent_outdated' }] });
    const batchId = (bulk.json() as { batchId: string }).batchId;
    const stored = await w.t.infra.database.db.select({ id: commands.id, deviceId: commands.deviceId }).from(commands).where(eq(commands.batchId, batchId));
    expect(stored.map((c) => c.deviceId)).toEqual([current.deviceId]);
    const bulkForCurrent = stored[0];
    await until(async () => (await statusOf(bulkForCurrent!.id)) === 'succeeded', 5000);

    // A nudge and a new session of the old tablet hand it nothing: the lock stays queued.
    await w.t.services.edges.agent.adapter.wake([old.deviceId!]);
    await old.close();
    await old.connect();
    await new Promise((r) => setTimeout(r, 1500));
    expect(old.frames.size).toBe(0);
    expect(await statusOf(lockId)).toBe('queued');

    // Updated, it reconnects with its new versionCode and gets what waited for it.
    await old.close();
    old.profile.agent.versionCode = 10100;
    old.profile.agent.versionName = '1.1.0';
    await old.connect();
    await until(() => old.frames.has(lockId), 5000);
    await until(async () => (await statusOf(lockId)) === 'succeeded', 5000);
    expect((await api('GET', `/devices/${old.deviceId}`)).json()).toMatchObject({ agentVersionCode: 10100, agentOutdated: false, agentSelfUpdate: null });
    expect((await api('POST', `/devices/${old.deviceId}/commands`, { kind: 'message', params: { text: 'À jour' } })).statusCode).toBe(201);
  }, 30_000);
});
