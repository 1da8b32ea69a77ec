import { createHash } from 'node:crypto';
import { and, count, eq } from 'drizzle-orm';
import { apiTokens, auditEvents, roleAssignments, users } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(t.infra.database.db);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const db = () => t.infra.database.db;

async function personWithPassword(email: string, password = 'correct horse battery') {
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: 'Person', password });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id });
  return user;
}

function login(email: string, password: string, ip = '10.0.0.1') {
  return t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email, password }, remoteAddress: ip });
}

/** What a browser or a cookie jar sends back after signing in: the session and the CSRF secret cookies. */
function sessionCookies(res: { cookies: Array<{ name: string; value: string }> }): Record<string, string> {
  return Object.fromEntries(res.cookies.filter((c) => c.name.startsWith('cartable_')).map((c) => [c.name, c.value]));
}

describe('sign-in with a password', () => {
  it('sets an HttpOnly SameSite=Strict session cookie and returns a CSRF token', async () => {
    await personWithPassword('ana@example.org');
    const res = await login('ANA@example.org', 'correct horse battery');
    expect(res.statusCode).toBe(200);
    const cookie = res.cookies.find((c) => c.name === 'cartable_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(res.json()).toMatchObject({ user: { email: 'ana@example.org' }, csrfToken: expect.any(String) });
    const me = await t.app.inject({ url: '/api/v1/auth/me', cookies: { cartable_session: cookie.value } });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ kind: 'user', label: 'ana@example.org', grants: [{ role: 'technician', scopeType: 'school' }] });
  });

  it('requires the CSRF header on unsafe methods made with the cookie', async () => {
    await personWithPassword('bea@example.org');
    const res = await login('bea@example.org', 'correct horse battery');
    const cookies = sessionCookies(res);
    expect(Object.keys(cookies).sort()).toEqual(['cartable_csrf', 'cartable_session']);
    const body = { name: 'script', role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id, expiresAt: new Date(Date.now() + 86400_000).toISOString() };
    const without = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', cookies, payload: body });
    expect(without.statusCode).toBe(403);
    expect(without.json().code).toBe('csrf_failed');
    const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', cookies, headers: { 'x-csrf-token': 'nope' }, payload: body });
    expect(wrong.statusCode).toBe(403);
    const noSecret = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', cookies: { cartable_session: cookies.cartable_session! }, headers: { 'x-csrf-token': res.json().csrfToken }, payload: body });
    expect(noSecret.json().code).toBe('csrf_failed');
    const ok = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', cookies, headers: { 'x-csrf-token': res.json().csrfToken }, payload: body });
    expect(ok.statusCode).toBe(201);
    expect(ok.json().token).toMatch(/^cart_[a-z0-9]{8}_/);
  });

  it("refuses a CSRF token taken from another person's session", async () => {
    await personWithPassword('eli@example.org');
    await personWithPassword('fay@example.org');
    const eli = await login('eli@example.org', 'correct horse battery');
    const fay = await login('fay@example.org', 'correct horse battery');
    const body = { name: 'script', role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id, expiresAt: new Date(Date.now() + 86400_000).toISOString() };
    // Fay's session with Eli's token and CSRF secret: the token is bound to Eli's session.
    const cookies = { ...sessionCookies(eli), cartable_session: sessionCookies(fay).cartable_session! };
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', cookies, headers: { 'x-csrf-token': eli.json().csrfToken }, payload: body });
    expect(res.statusCode).toBe(403);
    expect(res.json().code).toBe('csrf_failed');
  });

  it('ends the session on logout', async () => {
    await personWithPassword('cyd@example.org');
    const res = await login('cyd@example.org', 'correct horse battery');
    const cookies = sessionCookies(res);
    const out = await t.app.inject({ method: 'POST', url: '/api/v1/auth/logout', cookies, headers: { 'x-csrf-token': res.json().csrfToken } });
    expect(out.statusCode).toBe(204);
    expect((await t.app.inject({ url: '/api/v1/auth/me', cookies })).statusCode).toBe(401);
  });

  it('locks the account after ten wrong passwords in a row, and audits it', async () => {
    const user = await personWithPassword('dan@example.org');
    for (let i = 0; i < 10; i++) expect((await login('dan@example.org', `wrong-${i}`, '10.0.0.2')).statusCode).toBe(401);
    const locked = await login('dan@example.org', 'correct horse battery', '10.0.0.2');
    expect(locked.statusCode).toBe(429);
    expect(locked.json().code).toBe('account_locked');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(800);
    const [row] = await db().select().from(users).where(eq(users.id, user.id));
    expect(row!.lockedUntil!.getTime()).toBeGreaterThan(Date.now() + 14 * 60_000);
    const failed = await db().select().from(auditEvents).where(and(eq(auditEvents.targetId, user.id), eq(auditEvents.action, 'auth.login_failed')));
    expect(failed).toHaveLength(11);
    const lockEvents = await db().select().from(auditEvents).where(and(eq(auditEvents.targetId, user.id), eq(auditEvents.action, 'auth.account_locked')));
    expect(lockEvents).toHaveLength(1);
    expect(lockEvents[0]!.sourceIp).toBe('10.0.0.2');
  });

  it('answers an unknown account like a wrong password, and never logs the password', async () => {
    const res = await login('nobody@example.org', 'whatever');
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('invalid_credentials');
    const digest = createHash('sha256').update('nobody@example.org').digest('hex').slice(0, 16);
    const events = await db().select().from(auditEvents).where(eq(auditEvents.actorLabel, `unknown account sha256:${digest}`));
    expect(events).toHaveLength(1);
    // Neither what was typed as a password nor as an unknown address is kept.
    expect(JSON.stringify(events[0])).not.toContain('whatever');
    expect(JSON.stringify(await db().select().from(auditEvents))).not.toContain('nobody@example.org');
  });

  it('creates exactly one first administrator when several processes start together', async () => {
    const lone = await createOrgTree(t.infra.database.db, { communes: 1, schools: 1 });
    const results = await Promise.all([1, 2, 3].map(() => t.services.users.ensureBootstrapAdmin(lone.org.id)));
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    expect(await t.services.users.ensureBootstrapAdmin(lone.org.id)).toBeNull();
  });

  it('makes the first administrator replace the printed password before anything else', async () => {
    const lone = await createOrgTree(t.infra.database.db, { communes: 1, schools: 1 });
    await t.infra.database.db.delete(users).where(eq(users.email, 'admin@cartable.local'));
    const first = await t.services.users.ensureBootstrapAdmin(lone.org.id);
    const res = await login(first!.email, first!.password, '10.0.0.9');
    expect(res.statusCode).toBe(200);
    expect(res.json().mustChangePassword).toBe(true);
    const cookies = sessionCookies(res);
    const headers = { 'x-csrf-token': res.json().csrfToken };
    const refused = await t.app.inject({ url: '/api/v1/devices', cookies });
    expect(refused.statusCode).toBe(403);
    expect(refused.json()).toMatchObject({ code: 'password_change_required' });
    expect((await t.app.inject({ url: '/api/v1/auth/me', cookies })).statusCode).toBe(200);
    const tooShort = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', cookies, headers, payload: { currentPassword: first!.password, newPassword: 'short' } });
    expect(tooShort.statusCode).toBe(400);
    const wrong = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', cookies, headers, payload: { currentPassword: 'not it at all', newPassword: 'a brand new passphrase' } });
    expect(wrong.json().code).toBe('wrong_password');
    const changed = await t.app.inject({ method: 'POST', url: '/api/v1/auth/password', cookies, headers, payload: { currentPassword: first!.password, newPassword: 'a brand new passphrase' } });
    expect(changed.statusCode).toBe(204);
    expect((await t.app.inject({ url: '/api/v1/devices', cookies })).statusCode).toBe(200);
    expect((await login(first!.email, first!.password, '10.0.0.9')).statusCode).toBe(401);
    const again = await login(first!.email, 'a brand new passphrase', '10.0.0.9');
    expect(again.json().mustChangePassword).toBe(false);
    const audited = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'user.password_change'), eq(auditEvents.targetId, res.json().user.id)));
    expect(audited).toHaveLength(1);
  });

  it('rejects unknown fields in the body', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'a@b.c', password: 'x', remember: true } });
    expect(res.statusCode).toBe(400);
  });
});

describe('API tokens', () => {
  const base = () => ({ organisationId: tree.org.id, role: 'admin' as const, scopeType: 'organisation' as const });

  it('refuses anonymous callers and malformed tokens with 401', async () => {
    expect((await t.app.inject({ url: '/api/v1/auth/me' })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: { authorization: 'Bearer cart_nothing' } })).statusCode).toBe(401);
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: { authorization: 'Basic abc' } })).statusCode).toBe(401);
  });

  it('refuses an expired token with 401', async () => {
    const token = await createPrincipalToken(t.services, { ...base(), expired: true }, db());
    const res = await t.app.inject({ url: '/api/v1/auth/me', headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(401);
    expect(res.json().code).toBe('token_expired');
  });

  it('refuses a revoked token on the very next request', async () => {
    const admin = await createPrincipalToken(t.services, base());
    const stolen = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'commune', scopeId: tree.communes[0]!.id });
    const auth = (tk: string) => ({ authorization: `Bearer ${tk}` });
    expect((await t.app.inject({ url: '/api/v1/auth/me', headers: auth(stolen) })).statusCode).toBe(200);
    const all = await t.app.inject({ url: '/api/v1/auth/tokens?all=true', headers: auth(admin) });
    expect(all.statusCode).toBe(200);
    expect(JSON.stringify(all.json())).not.toMatch(/cart_[a-z0-9]{8}_/);
    const target = all.json().find((x: { prefix: string }) => stolen.startsWith(`cart_${x.prefix}_`));
    const revoke = await t.app.inject({ method: 'DELETE', url: `/api/v1/auth/tokens/${target.id}`, headers: auth(admin) });
    expect(revoke.statusCode).toBe(200);
    expect(revoke.json().revokedAt).not.toBeNull();
    const after = await t.app.inject({ url: '/api/v1/auth/me', headers: auth(stolen) });
    expect(after.statusCode).toBe(401);
    expect(after.json().code).toBe('token_revoked');
  });

  it('refuses a token once its owner no longer holds its role, and honours a commune grant over a school token', async () => {
    const school = tree.schools[0]!;
    const token = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'school', scopeId: school.id });
    const auth = { authorization: `Bearer ${token}` };
    const { userId } = await t.services.auth.authenticateBearer(token);
    expect((await t.app.inject({ url: '/api/v1/devices', headers: auth })).statusCode).toBe(200);
    await t.infra.database.db.delete(roleAssignments).where(eq(roleAssignments.userId, userId));
    await t.infra.database.db.insert(roleAssignments).values({ organisationId: tree.org.id, userId, role: 'technician', scopeType: 'commune', scopeId: school.communeId });
    expect((await t.app.inject({ url: '/api/v1/devices', headers: auth })).statusCode).toBe(200);
    await t.infra.database.db.delete(roleAssignments).where(eq(roleAssignments.userId, userId));
    const refused = await t.app.inject({ url: '/api/v1/devices', headers: auth });
    expect(refused.statusCode).toBe(401);
    expect(refused.json().code).toBe('token_not_granted');
  });

  it('does not let a caller mint a token wider than their own grants', async () => {
    const tech = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id });
    const expiresAt = new Date(Date.now() + 86400_000).toISOString();
    const wider = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: { authorization: `Bearer ${tech}` }, payload: { name: 'x', role: 'admin', scopeType: 'organisation', expiresAt } });
    expect(wider.statusCode).toBe(403);
    const other = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: { authorization: `Bearer ${tech}` }, payload: { name: 'x', role: 'technician', scopeType: 'school', scopeId: tree.schools[1]!.id, expiresAt } });
    expect(other.statusCode).toBe(403);
    const all = await t.app.inject({ url: '/api/v1/auth/tokens?all=true', headers: { authorization: `Bearer ${tech}` } });
    expect(all.statusCode).toBe(403);
  });
});

describe('what only a signed-in person may do', () => {
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const inAYear = () => new Date(Date.now() + 365 * 86400_000).toISOString();
  const rows = async (table: typeof apiTokens | typeof users | typeof roleAssignments) => (await db().select({ n: count() }).from(table))[0]!.n;

  it('never lets an API token mint a token: a leaked short-lived token cannot extend itself nor outlive its revocation', async () => {
    const leaked = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
    const before = await rows(apiTokens);
    const minted = await t.app.inject({ method: 'POST', url: '/api/v1/auth/tokens', headers: bearer(leaked), payload: { name: 'forever', role: 'admin', scopeType: 'organisation', expiresAt: inAYear() } });
    expect(minted.statusCode).toBe(403);
    expect(minted.headers['content-type']).toContain('application/problem+json');
    expect(minted.json().code).toBe('person_required');
    // The console's token form is no way around it.
    const viaConsole = await t.app.inject({ method: 'POST', url: '/console/tokens', headers: { ...bearer(leaked), 'content-type': 'application/x-www-form-urlencoded' }, payload: `name=forever&grant=0&expiresOn=${inAYear().slice(0, 10)}` });
    expect(viaConsole.statusCode).toBe(403);
    expect(await rows(apiTokens)).toBe(before);
  });

  it('never lets an API token create an account, set a password or grant a role', async () => {
    const leaked = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
    const victim = await personWithPassword(`victim-${Date.now()}@example.org`);
    const [usersBefore, grantsBefore] = [await rows(users), await rows(roleAssignments)];
    const attempts = [
      { method: 'POST' as const, url: '/api/v1/users', payload: { email: 'backdoor@example.org', displayName: 'B', password: 'a long enough password' } },
      { method: 'PATCH' as const, url: `/api/v1/users/${victim.id}`, payload: { password: 'taken over password' } },
      { method: 'POST' as const, url: `/api/v1/users/${victim.id}/roles`, payload: { role: 'admin', scopeType: 'organisation' } },
      { method: 'DELETE' as const, url: `/api/v1/users/${victim.id}` },
    ];
    for (const attempt of attempts) {
      const res = await t.app.inject({ ...attempt, headers: bearer(leaked) });
      expect({ url: attempt.url, status: res.statusCode, code: res.json().code }).toEqual({ url: attempt.url, status: 403, code: 'person_required' });
    }
    expect([await rows(users), await rows(roleAssignments)]).toEqual([usersBefore, grantsBefore]);
    expect((await login(victim.email, 'correct horse battery', '10.0.0.9')).statusCode).toBe(200);
    // Reading stays open to a script holding the permission.
    expect((await t.app.inject({ url: '/api/v1/users', headers: bearer(leaked) })).statusCode).toBe(200);
  });

  it('lets a signed-in person create a token, within what they hold', async () => {
    const person = await personWithPassword(`maker-${Date.now()}@example.org`);
    const signedIn = await login(person.email, 'correct horse battery', '10.0.0.8');
    const res = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/tokens',
      cookies: sessionCookies(signedIn),
      headers: { 'x-csrf-token': signedIn.json().csrfToken },
      payload: { name: 'script', role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id, expiresAt: inAYear() },
    });
    expect(res.statusCode).toBe(201);
  });
});
