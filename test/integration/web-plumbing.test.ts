import { createOrgTree } from '../helpers/fixtures';
import { freePort } from '../e2e/agent-harness';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;

beforeAll(async () => {
  env = await createTestEnv({ SIGN_IN_RATE_LIMIT_PER_15MIN: '3' });
  t = await startTestApp(env);
  tree = await createOrgTree(t.infra.database.db, { communes: 1, schools: 1 });
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email: 'tech@example.org', displayName: 'Tech', password: 'correct horse battery' });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role: 'technician', scopeType: 'organisation', scopeId: null });
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const login = (password: string, ip: string) => t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'tech@example.org', password }, remoteAddress: ip });

describe('security headers', () => {
  it('forbids MIME sniffing and framing, and restricts scripts to the server itself', async () => {
    const res = await t.app.inject({ url: '/api/v1/auth/me' });
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-frame-options']).toBe('DENY');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
  });

  it('leaves them off the routes only tablets call', async () => {
    const res = await t.app.inject({ url: '/agent/v1/challenge' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-security-policy']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBeUndefined();
  });

  it('keeps answers that carry a secret out of every cache', async () => {
    const signedIn = await login('correct horse battery', '10.7.0.1');
    expect(signedIn.statusCode).toBe(200);
    expect(signedIn.headers['cache-control']).toBe('no-store');
    const cookies = Object.fromEntries(signedIn.cookies.map((c) => [c.name, c.value]));
    const created = await t.app.inject({
      method: 'POST',
      url: '/api/v1/auth/tokens',
      cookies,
      headers: { 'x-csrf-token': signedIn.json().csrfToken },
      payload: { name: 'script', role: 'technician', scopeType: 'organisation', expiresAt: new Date(Date.now() + 86400_000).toISOString() },
    });
    expect(created.statusCode).toBe(201);
    expect(created.headers['cache-control']).toBe('no-store');
  });
});

describe('sign-in rate limit', () => {
  it('turns an address away after its budget of attempts, whatever the account', async () => {
    for (let i = 0; i < 3; i++) expect((await login(`wrong ${i}`, '10.8.0.1')).statusCode).toBe(401);
    const refused = await login('correct horse battery', '10.8.0.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(60);
    expect((await login('correct horse battery', '10.8.0.2')).statusCode).toBe(200);
  });

  it('lets people sign in while Redis is away', async () => {
    const deadEnv = await createTestEnv({ REDIS_URL: `redis://127.0.0.1:${await freePort()}/0`, CARTABLE_ROLES: 'api' });
    const dead = await startTestApp(deadEnv);
    try {
      const org = await createOrgTree(dead.infra.database.db, { communes: 1, schools: 1 });
      await dead.services.users.createUser({ organisationId: org.org.id, email: 'tech@example.org', displayName: 'Tech', password: 'correct horse battery' });
      const started = Date.now();
      const res = await dead.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: 'tech@example.org', password: 'correct horse battery' }, remoteAddress: '10.9.0.1' });
      expect(res.statusCode).toBe(200);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await dead.close();
      await deadEnv.cleanup();
      // ioredis keeps a reconnect timer of a never-connected client for up to 2 s after disconnect().
      await new Promise((r) => setTimeout(r, 2100));
    }
  });
});
