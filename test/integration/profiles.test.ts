import { sql } from 'drizzle-orm';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * The catalog against a fleet seeded in PostgreSQL (no agents): which devices each scope reaches,
 * that a device's version moves only with its set, who may assign what, the audit trail, and a
 * rollout left half done finished by the reconciler.
 */
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let admin: string;
let scoped: string;

const db = () => t.infra.database.db;
const api = async (token: string, method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) => {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
};
const profileBody = (id: string, extra: object = {}) => ({ schemaVersion: 1, id, name: id, lockScreenMessage: `Profil ${id}`, ...extra });
const versions = async () =>
  new Map((await db().execute<{ device_id: string; version: string }>(sql`select device_id, version from device_desired_states`)).rows.map((r) => [r.device_id, Number(r.version)]));

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(db());
  const [s1, s2] = tree.schools;
  // School 1: 6 android tablets, 2 of them tagged "cm2"; school 2 (another commune): 4 tablets and 2 iPads.
  await db().execute(sql`
    insert into devices (organisation_id, school_id, platform, name, tags)
    select ${tree.org.id}::uuid, ${s1!.id}::uuid, 'android', 'A' || i, case when i <= 2 then array['cm2'] else '{}'::text[] end from generate_series(1, 6) i
    union all select ${tree.org.id}::uuid, ${s2!.id}::uuid, 'android', 'B' || i, '{}'::text[] from generate_series(1, 4) i
    union all select ${tree.org.id}::uuid, ${s2!.id}::uuid, 'ios', 'I' || i, '{}'::text[] from generate_series(1, 2) i`);
  admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: tree.org.id });
  scoped = await createPrincipalToken(t.services, { role: 'technician', scopeType: 'school', scopeId: s1!.id, organisationId: tree.org.id });
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('assignments and effective sets', () => {
  it('reaches exactly the devices of each scope, and changes a device\u2019s version only with its set', async () => {
    const tagged = (await api(admin, 'POST', '/profiles', profileBody('cm2'))).body.profile.id;
    const byTag = await api(admin, 'POST', `/profiles/${tagged}/assignments`, { scopeType: 'tag', scopeId: 'cm2' });
    expect(byTag.body.rollout).toMatchObject({ changed: 2, commands: 2 });

    const everywhere = (await api(admin, 'POST', '/profiles', profileBody('tous'))).body.profile.id;
    const byCommune = await api(admin, 'POST', `/profiles/${everywhere}/assignments`, { scopeType: 'commune', scopeId: tree.communes[0]!.id });
    expect(byCommune.body.rollout).toMatchObject({ changed: 6, commands: 6 });
    const before = await versions();
    // The school is already covered through its commune: nothing changes, nothing is queued.
    const bySchool = await api(admin, 'POST', `/profiles/${everywhere}/assignments`, { scopeType: 'school', scopeId: tree.schools[0]!.id });
    expect(bySchool.status).toBe(201);
    expect(bySchool.body.rollout).toMatchObject({ changed: 0, commands: 0 });
    expect(await versions()).toEqual(before);

    // iPads take each profile as its own install_profile (and a profile_list after, not counted).
    const ios = await api(admin, 'POST', `/profiles/${everywhere}/assignments`, { scopeType: 'platform', scopeId: 'ios' });
    expect(ios.body.rollout).toMatchObject({ changed: 2, commands: 2 });
    const after = await versions();
    expect([...after].filter(([id, v]) => before.has(id) && before.get(id) !== v)).toEqual([]);
  });

  it('cancels the queued policies a newer desired state replaces, and only those', async () => {
    const ofTagged = async (status: string) =>
      (
        await db().execute(
          sql`select 1 from commands where kind = 'apply_policy' and status = ${status} and (${status} <> 'cancelled' or error_code = 'superseded') and device_id in (select id from devices where 'cm2' = any(tags))`,
        )
      ).rows.length;
    const first = (await api(admin, 'POST', '/profiles', profileBody('cm2-a'))).body.profile.id;
    expect((await api(admin, 'POST', `/profiles/${first}/assignments`, { scopeType: 'tag', scopeId: 'cm2' })).body.rollout).toMatchObject({ changed: 2, commands: 2 });
    const queued = await ofTagged('queued');
    const cancelled = await ofTagged('cancelled');
    expect(queued).toBeGreaterThanOrEqual(2);
    const second = (await api(admin, 'POST', '/profiles', profileBody('cm2-b'))).body.profile.id;
    expect((await api(admin, 'POST', `/profiles/${second}/assignments`, { scopeType: 'tag', scopeId: 'cm2' })).body.rollout).toMatchObject({ changed: 2, commands: 2 });
    expect(await ofTagged('queued')).toBe(2);
    expect(await ofTagged('cancelled')).toBe(cancelled + queued);
  });

  it('keeps a scoped technician within reach', async () => {
    const mine = (await api(scoped, 'POST', '/profiles', profileBody('ecole-1'))).body.profile.id;
    expect((await api(scoped, 'POST', `/profiles/${mine}/assignments`, { scopeType: 'school', scopeId: tree.schools[0]!.id })).status).toBe(201);
    expect((await api(scoped, 'POST', `/profiles/${mine}/assignments`, { scopeType: 'school', scopeId: tree.schools[1]!.id })).status).toBe(404);
    expect((await api(scoped, 'POST', `/profiles/${mine}/assignments`, { scopeType: 'organisation' })).status).toBe(403);
    const wide = (await api(admin, 'POST', '/profiles', profileBody('partout'))).body.profile.id;
    await api(admin, 'POST', `/profiles/${wide}/assignments`, { scopeType: 'organisation' });
    const edit = await api(scoped, 'PUT', `/profiles/${wide}`, profileBody('partout', { lockScreenMessage: 'Autre' }));
    expect(edit).toMatchObject({ status: 403, body: { code: 'profile_assigned_beyond_reach' } });
    expect((await api(scoped, 'PUT', `/profiles/${mine}`, profileBody('ecole-1', { lockScreenMessage: 'Autre' }))).body.profile.version).toBe(2);
  });

  it('audits every change in its own transaction', async () => {
    const id = (await api(admin, 'POST', '/profiles', profileBody('audite'))).body.profile.id;
    const a = (await api(admin, 'POST', `/profiles/${id}/assignments`, { scopeType: 'school', scopeId: tree.schools[1]!.id })).body.assignment.id;
    await api(admin, 'PUT', `/profiles/${id}`, profileBody('audite', { supportMessage: 'Demandez à la maîtresse' }));
    await api(admin, 'DELETE', `/profiles/${id}/assignments/${a}`);
    await api(admin, 'DELETE', `/profiles/${id}`);
    const rows = (await db().execute<{ action: string }>(sql`select action from audit_events where target_id = ${id} order by seq`)).rows.map((r) => r.action);
    expect(rows).toEqual(['profile.create', 'profile.assign', 'profile.update', 'profile.unassign', 'profile.delete']);
  });

  it('finishes a rollout left pending through the reconciler', async () => {
    const id = (await api(admin, 'POST', '/profiles', profileBody('reprise'))).body.profile.id;
    // A rollout whose process died before its first chunk: only its outbox row exists.
    await db().execute(sql`insert into profile_assignments (organisation_id, profile_id, scope_type, scope_key) values (${tree.org.id}, ${id}, 'school', ${tree.schools[1]!.id})`);
    const [rollout] = (
      await db().execute<{ id: string }>(sql`insert into profile_rollouts (organisation_id, reason, profile_id, scope_type, scope_key) values (${tree.org.id}, 'assign', ${id}, 'school', ${tree.schools[1]!.id}) returning id`)
    ).rows;
    await t.services.reconciler.reconcile();
    const [row] = (await db().execute<{ status: string; commands: number; changed: number }>(sql`select status, commands, changed from profile_rollouts where id = ${rollout!.id}`)).rows;
    // Four agents' policies and two iPads' installs.
    expect(row).toEqual({ status: 'done', commands: 6, changed: 6 });
  });
});
