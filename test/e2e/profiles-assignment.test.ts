import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq, sql } from 'drizzle-orm';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { commands } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * Profiles carried to real simulated tablets: a school of N agents online, a template assigned,
 * edited, assigned twice, unassigned; the commands counted in PostgreSQL, the outcome read back
 * through the API the way a technician would.
 */
const N = 200;
const TEMPLATES = join(__dirname, '..', '..', 'profiles');
const template = (name: string) => JSON.parse(readFileSync(join(TEMPLATES, `${name}.json`), 'utf8')) as Record<string, unknown>;

let world: AgentWorld;
let bearer: string;
let schoolId: string;
const agents: SimulatedAgent[] = [];
/** The first agent refuses every policy while this is set. */
let refuse = false;

const db = () => world.t.infra.database.db;
const api = async (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) => {
  const res = await world.t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
};
const policyCommands = async (rolloutId: string) =>
  (await db().select({ n: sql<number>`count(*)::int` }).from(commands).where(and(eq(commands.batchId, rolloutId), eq(commands.kind, 'apply_policy'))))[0]!.n;
const allPolicyCommands = async () => (await db().select({ n: sql<number>`count(*)::int` }).from(commands).where(eq(commands.kind, 'apply_policy')))[0]!.n;
const compliance = async (profileId: string) => (await api('GET', `/profiles/${profileId}/compliance`)).body as { devices: number; compliant: number; pending: number; failed: number; version: number };

beforeAll(async () => {
  world = await startAgentWorld();
  const organisationId = world.tree.org.id;
  schoolId = world.tree.schools[0]!.id;
  bearer = await createPrincipalToken(world.t.services, { role: 'technician', scopeType: 'organisation', organisationId });
  const { token } = await world.t.services.enrollment.createToken({ all: true, organisationId }, SYSTEM_ACTOR, { schoolId, label: 'profiles', maxUses: null });
  for (let i = 0; i < N; i++) {
    agents.push(newAgent(world, { token, index: i, reportOnConnect: false, policyVerdict: () => (i === 0 && refuse ? { rejected: ['/cameraDisabled: refused by the test'] } : undefined) }));
  }
  await Promise.all(agents.map((a) => a.enroll()));
  await Promise.all(agents.map((a) => a.connect()));
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await world.close();
});

describe('a profile assigned to a school of simulated agents', () => {
  let profileId: string;
  let assignmentId: string;

  it('refuses an invalid profile with each problem and its JSON path', async () => {
    const body = { ...template('wifi-ecole'), wifi: [{ ssid: 'ECOLE', security: 'wpa2' }], restrictions: { camera: 'no' } };
    const res = await api('POST', '/profiles', body);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('invalid_profile');
    const paths = (res.body.problems as { path: string }[]).map((p) => p.path);
    expect(paths).toEqual(expect.arrayContaining(['/restrictions/camera']));
    const rules = await api('POST', '/profiles', { ...template('wifi-ecole'), wifi: [{ ssid: 'ECOLE', security: 'wpa2' }] });
    expect(rules.status).toBe(400);
    expect(rules.body.problems).toEqual([{ path: '/wifi/0/password', message: expect.any(String) }]);
  });

  it('queues exactly one policy command per device of the school, and the agents apply it', async () => {
    const created = await api('POST', '/profiles', template('restrictions-eleves'));
    expect(created.status).toBe(201);
    profileId = created.body.profile.id;
    expect(created.body.profile.version).toBe(1);

    const assigned = await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: schoolId });
    expect(assigned.status).toBe(201);
    assignmentId = assigned.body.assignment.id;
    expect(assigned.body.rollout).toMatchObject({ state: 'done', changed: N, commands: N });
    expect(await policyCommands(assigned.body.rollout.id)).toBe(N);

    await until(async () => (await compliance(profileId)).compliant === N, 30_000);
    const state = await api('GET', `/devices/${agents[1]!.deviceId}/desired-state`);
    expect(state.body).toMatchObject({ status: 'compliant', mismatches: [], desired: { profiles: [{ id: profileId, version: 1, status: 'applied' }] } });
    expect(state.body.applied.version).toBe(state.body.desired.version);
    expect(agents[1]!.state.policy!.policy).toMatchObject({ cameraDisabled: expect.any(Boolean) });
  });

  it('queues nothing when the same assignment is made again', async () => {
    const before = await allPolicyCommands();
    const again = await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: schoolId });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ created: false, rollout: null, assignment: { id: assignmentId } });
    expect(await allPolicyCommands()).toBe(before);
  });

  it('gives a tablet that enrolls now its school\u2019s profiles at once', async () => {
    const { token } = await world.t.services.enrollment.createToken({ all: true, organisationId: world.tree.org.id }, SYSTEM_ACTOR, { schoolId, label: 'late', maxUses: 1 });
    const late = newAgent(world, { token, index: N + 1, reportOnConnect: false });
    const enrolled = await late.enroll();
    expect(enrolled.desiredState.version).toBeGreaterThan(0);
    expect(late.state.policy!.version).toBe(enrolled.desiredState.version);
    // Taken out of the school again so that the counts below stay N.
    await db().execute(sql`update devices set status = 'retired' where id = ${late.deviceId}`);
  });

  it('queues one update per device when the profile is edited, and the agents apply the new version', async () => {
    const edited = await api('PUT', `/profiles/${profileId}`, { ...template('restrictions-eleves'), restrictions: { camera: false, screenshots: false } });
    expect(edited.status).toBe(200);
    expect(edited.body.profile.version).toBe(2);
    expect(edited.body.rollout).toMatchObject({ state: 'done', changed: N, commands: N });
    await until(async () => {
      const c = await compliance(profileId);
      return c.version === 2 && c.compliant === N;
    }, 30_000);
    expect(agents[2]!.state.policy!.policy).toMatchObject({ cameraDisabled: true, screenCaptureDisabled: true });
  });

  it('shows an agent that refuses a policy as failed, with its error', async () => {
    refuse = true;
    const other = await api('POST', '/profiles', template('message-verrouillage'));
    expect(other.status).toBe(201);
    const assigned = await api('POST', `/profiles/${other.body.profile.id}/assignments`, { scopeType: 'school', scopeId: schoolId });
    expect(assigned.body.rollout).toMatchObject({ commands: N });
    await until(async () => {
      const c = await compliance(other.body.profile.id);
      return c.failed === 1 && c.compliant === N - 1;
    }, 30_000);
    const state = await api('GET', `/devices/${agents[0]!.deviceId}/desired-state`);
    expect(state.body.status).toBe('failed');
    expect(state.body.rejected.errors).toEqual(['/cameraDisabled: refused by the test']);
    expect(state.body.mismatches).toEqual([expect.objectContaining({ reason: 'rejected' })]);
    refuse = false;
    await api('DELETE', `/profiles/${other.body.profile.id}`);
  });

  it('queues one command per device when unassigned: a policy without the profile', async () => {
    const removed = await api('DELETE', `/profiles/${profileId}/assignments/${assignmentId}`);
    expect(removed.status).toBe(200);
    expect(removed.body.rollout).toMatchObject({ state: 'done', changed: N, commands: N });
    const [command] = await db().select().from(commands).where(and(eq(commands.batchId, removed.body.rollout.id), eq(commands.deviceId, agents[3]!.deviceId!)));
    expect(command!.params).toEqual({ version: expect.any(Number), policy: {} });
    await until(async () => {
      const states = await Promise.all(agents.map((a) => api('GET', `/devices/${a.deviceId}/desired-state`)));
      return states.every((s) => s.body.status === 'compliant' && s.body.desired.profiles.length === 0 && s.body.mismatches.length === 0);
    }, 30_000);
    expect(agents[3]!.state.policy!.policy).toEqual({});
  });
});
