import { and, eq, sql } from 'drizzle-orm';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { commands } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { createPrincipalToken } from '../helpers/auth';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * An app assigned to a school of simulated agents, the way a technician does it through the API:
 * each tablet is sent the APK once (downloaded by signed URL, SHA-256 checked), a new version once
 * more, a removal when unassigned; the commands counted in PostgreSQL, the outcome read back per
 * device and per app.
 */
const N = 40;
const PACKAGE = 'org.example.lecture';

let world: AgentWorld;
let bearer: string;
let schoolId: string;
let appId: string;
const versions: string[] = [];
const agents: SimulatedAgent[] = [];
const signer = makeSigner('Cartable assignments');

const db = () => world.t.infra.database.db;
const api = async (method: 'GET' | 'POST' | 'DELETE', url: string, payload?: object | Buffer, contentType?: string) => {
  const headers: Record<string, string> = { authorization: `Bearer ${bearer}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await world.t.app.inject({ method, url: `/api/v1${url}`, headers, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.statusCode === 204 ? null : res.json() };
};
const appCommands = async (kind: 'install_app' | 'remove_app', batchId?: string) =>
  (await db().select({ n: sql<number>`count(*)::int` }).from(commands).where(and(eq(commands.kind, kind), batchId ? eq(commands.batchId, batchId) : sql`true`)))[0]!.n;
const compliance = async () => (await api('GET', `/apps/${appId}/compliance`)).body as { devices: number; compliant: number; pending: number; failed: number };
const installed = (agent: SimulatedAgent) => agent.appsReport().apps.find((a) => a.packageName === PACKAGE)?.versionCode ?? null;

beforeAll(async () => {
  world = await startAgentWorld();
  const organisationId = world.tree.org.id;
  schoolId = world.tree.schools[0]!.id;
  bearer = await createPrincipalToken(world.t.services, { role: 'technician', scopeType: 'organisation', organisationId });
  for (const versionCode of [10, 11]) {
    const res = await api('POST', '/apps/packages', await buildApk({ packageName: PACKAGE, versionCode, signer, label: 'Lecture' }), 'application/vnd.android.package-archive');
    expect(res.status).toBe(201);
    appId = res.body.app.id;
    versions.push(res.body.version.id);
  }
  const { token } = await world.t.services.enrollment.createToken({ all: true, organisationId }, SYSTEM_ACTOR, { schoolId, label: 'apps', maxUses: null });
  for (let i = 0; i < N; i++) agents.push(newAgent(world, { token, index: i, reportOnConnect: false }));
  await Promise.all(agents.map((a) => a.enroll()));
  await Promise.all(agents.map((a) => a.connect()));
  // The first tablet holds a newer build than the catalog: Android refuses the downgrade.
  agents[0]!.state.installedApps = [{ packageName: PACKAGE, versionName: '99', versionCode: 99, label: 'Lecture', installer: 'adb', system: false, enabled: true }];
}, 120_000);

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await world.close();
});

describe('an app assigned to a school of simulated agents', () => {
  let assignmentId: string;

  it('refuses a scope of another platform and a version of another app', async () => {
    const platform = await api('POST', `/apps/${appId}/assignments`, { scopeType: 'platform', scopeId: 'ios' });
    expect(platform.status).toBe(400);
    expect(platform.body.code).toBe('invalid_scope');
    const version = await api('POST', `/apps/${appId}/assignments`, { appVersionId: '00000000-0000-4000-8000-000000000000', scopeType: 'school', scopeId: schoolId });
    expect(version.status).toBe(404);
  });

  it('queues one install per tablet of the school; the tablets install it and the refusal shows with its reason', async () => {
    const assigned = await api('POST', `/apps/${appId}/assignments`, { appVersionId: versions[0], scopeType: 'school', scopeId: schoolId });
    expect(assigned.status).toBe(201);
    expect(assigned.body).toMatchObject({ change: 'created', assignment: { appVersionId: versions[0], version: '10', scopeType: 'school', scopeId: schoolId }, rollout: { state: 'done', commands: N } });
    assignmentId = assigned.body.assignment.id;
    expect(await appCommands('install_app', assigned.body.rollout.id)).toBe(N);

    await until(async () => {
      const c = await compliance();
      return c.compliant === N - 1 && c.failed === 1;
    }, 30_000);
    expect(installed(agents[1]!)).toBe(10);
    const ok = await api('GET', `/devices/${agents[1]!.deviceId}/desired-state`);
    expect(ok.body).toMatchObject({ status: 'compliant', mismatches: [], apps: [{ id: appId, identifier: PACKAGE, version: '10', status: 'applied' }] });
    const refused = await api('GET', `/devices/${agents[0]!.deviceId}/desired-state`);
    expect(refused.body.status).toBe('failed');
    expect(refused.body.apps).toEqual([expect.objectContaining({ id: appId, status: 'failed' })]);
    expect(refused.body.mismatches).toEqual([expect.objectContaining({ reason: 'app_failed', appId, message: expect.stringContaining('no downgrades') })]);
  });

  it('queues nothing when the same assignment is made again', async () => {
    const before = await appCommands('install_app');
    const again = await api('POST', `/apps/${appId}/assignments`, { appVersionId: versions[0], scopeType: 'school', scopeId: schoolId });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ change: 'none', rollout: null, assignment: { id: assignmentId } });
    expect(await appCommands('install_app')).toBe(before);
  });

  it('gives a tablet that enrolls now its school\u2019s apps at once', async () => {
    const { token } = await world.t.services.enrollment.createToken({ all: true, organisationId: world.tree.org.id }, SYSTEM_ACTOR, { schoolId, label: 'late', maxUses: 1 });
    const late = newAgent(world, { token, index: N + 1, reportOnConnect: false });
    await late.enroll();
    const queued = await db().select().from(commands).where(and(eq(commands.deviceId, late.deviceId!), eq(commands.kind, 'install_app')));
    expect(queued).toEqual([expect.objectContaining({ origin: 'profile', params: expect.objectContaining({ appId, packageName: PACKAGE, versionCode: 10 }) })]);
    await late.connect();
    await until(() => installed(late) === 10, 15_000);
    await late.close();
    // Taken out of the school again so that the counts below stay N.
    await db().execute(sql`update devices set status = 'retired' where id = ${late.deviceId}`);
  });

  it('moves the school to a new version with one update per tablet, and keeps an assigned version in the catalog', async () => {
    const moved = await api('POST', `/apps/${appId}/assignments`, { appVersionId: versions[1], scopeType: 'school', scopeId: schoolId });
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ change: 'version', assignment: { id: assignmentId, version: '11' }, rollout: { commands: N } });
    await until(async () => {
      const c = await compliance();
      return c.compliant === N - 1 && c.failed === 1;
    }, 30_000);
    expect(installed(agents[2]!)).toBe(11);

    const version = await api('DELETE', `/apps/${appId}/versions/${versions[1]}`);
    expect(version.status).toBe(409);
    expect(version.body.code).toBe('app_version_assigned');
    const app = await api('DELETE', `/apps/${appId}`);
    expect(app.status).toBe(409);
    expect(app.body.code).toBe('app_assigned');
  });

  it('queues one removal per tablet when unassigned; the tablets remove it and nothing differs any more', async () => {
    const removed = await api('DELETE', `/apps/${appId}/assignments/${assignmentId}`);
    expect(removed.status).toBe(200);
    expect(removed.body.rollout).toMatchObject({ state: 'done', commands: N });
    expect(await appCommands('remove_app', removed.body.rollout.id)).toBe(N);
    await until(async () => agents.every((a) => installed(a) === null), 30_000);
    await until(async () => {
      const state = await api('GET', `/devices/${agents[3]!.deviceId}/desired-state`);
      return state.body.apps.length === 0 && state.body.mismatches.length === 0;
    }, 15_000);
    expect((await api('GET', `/apps/${appId}/assignments`)).body).toEqual([]);
    expect(await compliance()).toMatchObject({ devices: 0 });

    const trail = await db().execute<{ action: string }>(sql`select action from audit_events where target_id = ${appId} and action like 'app.%assign' and outcome = 'success' order by occurred_at`);
    expect(trail.rows.map((r) => r.action)).toEqual(['app.assign', 'app.assign', 'app.unassign']);
  });
});
