import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { users } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { createPrincipalToken, signIn } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const db = () => t.infra.database.db;

describe('the first administrator', () => {
  it('is written with its role in one transaction: a failure in between leaves nothing, and the next start succeeds', async () => {
    const lone = await createOrgTree(db(), { communes: 1, schools: 1 });
    await db().delete(users).where(eq(users.email, 'admin@cartable.local'));
    // The grant fails as a crash between the two writes would.
    await db().execute(sql`create function refuse_grant() returns trigger language plpgsql as $$ begin raise exception 'grant refused by the test'; end $$`);
    await db().execute(sql`create trigger refuse_grant before insert on role_assignments for each row execute function refuse_grant()`);
    try {
      await expect(t.services.users.ensureBootstrapAdmin(lone.org.id)).rejects.toMatchObject({ cause: expect.objectContaining({ message: 'grant refused by the test' }) });
    } finally {
      await db().execute(sql`drop trigger refuse_grant on role_assignments; drop function refuse_grant()`);
    }
    expect(await db().select().from(users).where(eq(users.email, 'admin@cartable.local'))).toEqual([]);
    const first = await t.services.users.ensureBootstrapAdmin(lone.org.id);
    expect(first).toMatchObject({ email: 'admin@cartable.local' });
  });
});

describe('the last administrator', () => {
  // Accounts and grants are managed by people signed in, never by API tokens.
  type Session = Awaited<ReturnType<typeof signIn>>;
  const api = (session: Session, method: 'GET' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
    t.app.inject({ method, url: `/api/v1${url}`, cookies: session.cookies, headers: { 'x-csrf-token': session.csrf }, ...(payload ? { payload } : {}) });
  let ip = 0;

  async function organisationWithAdmins(count: number) {
    const tree = await createOrgTree(db(), { communes: 1, schools: 1 });
    const admins = [];
    for (let i = 0; i < count; i++) {
      const email = `admin-${randomUUID()}@test.cartable.local`;
      await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation', email });
      const token = await signIn(t, email, `10.78.0.${++ip}`);
      const me = (await api(token, 'GET', '/auth/me')).json();
      const userId: string = me.userId;
      const user = (await api(token, 'GET', `/users/${userId}`)).json();
      admins.push({ token, id: userId, grantId: user.roles.find((r: { role: string }) => r.role === 'admin').id as string });
    }
    return { tree, admins };
  }

  function expectLastAdministrator(res: { statusCode: number; headers: Record<string, unknown>; json(): { code: string } }) {
    expect(res.statusCode).toBe(409);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('last_administrator');
  }

  it('cannot lose the role, be disabled or be deleted; another administrator can', async () => {
    const { tree, admins } = await organisationWithAdmins(2);
    const [a, b] = admins as [(typeof admins)[0], (typeof admins)[0]];
    expect((await api(a.token, 'DELETE', `/users/${b.id}/roles/${b.grantId}`)).statusCode).toBe(204);

    expectLastAdministrator(await api(a.token, 'DELETE', `/users/${a.id}/roles/${a.grantId}`));
    expectLastAdministrator(await api(a.token, 'PATCH', `/users/${a.id}`, { status: 'disabled' }));
    await expect(t.services.users.deleteUser(tree.org.id, a.id, SYSTEM_ACTOR)).rejects.toMatchObject({ kind: 'conflict', code: 'last_administrator' });
    const still = (await api(a.token, 'GET', `/users/${a.id}`)).json();
    expect(still).toMatchObject({ status: 'active', roles: [expect.objectContaining({ role: 'admin' })] });
    // Renaming the last administrator is no removal.
    expect((await api(a.token, 'PATCH', `/users/${a.id}`, { displayName: 'Still here' })).statusCode).toBe(200);
  });

  it('counts only active accounts: a disabled administrator does not keep the organisation managed', async () => {
    const { admins } = await organisationWithAdmins(3);
    const [a, b, c] = admins as [(typeof admins)[0], (typeof admins)[0], (typeof admins)[0]];
    expect((await api(a.token, 'PATCH', `/users/${c.id}`, { status: 'disabled' })).statusCode).toBe(200);
    expect((await api(a.token, 'DELETE', `/users/${b.id}`)).statusCode).toBe(204);
    expectLastAdministrator(await api(a.token, 'DELETE', `/users/${a.id}/roles/${a.grantId}`));
  });

  it('keeps one of two administrators who remove each other at the same moment', async () => {
    const { admins } = await organisationWithAdmins(2);
    const [a, b] = admins as [(typeof admins)[0], (typeof admins)[0]];
    const results = await Promise.all([api(a.token, 'DELETE', `/users/${b.id}/roles/${b.grantId}`), api(b.token, 'DELETE', `/users/${a.id}/roles/${a.grantId}`)]);
    // The loser is refused: 409 when both checks passed before either removal, 403 when the
    // winner's removal came first and the loser is no administrator any more.
    const statuses = results.map((r) => r.statusCode).sort();
    expect(statuses[0]).toBe(204);
    expect([403, 409]).toContain(statuses[1]);
    const remaining = await db().execute(sql`select count(*)::int as n from role_assignments where user_id in (${a.id}, ${b.id}) and role = 'admin'`);
    expect(remaining.rows[0]).toEqual({ n: 1 });
  });
});
