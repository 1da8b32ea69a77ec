import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;

beforeAll(async () => {
  env = await createTestEnv({ BODY_LIMIT_BYTES: '4096' });
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

const login = (payload: string, contentType = 'application/json') =>
  t.app.inject({ method: 'POST', url: '/api/v1/auth/login', headers: { 'content-type': contentType }, payload });

describe('bad input at the HTTP edge', () => {
  it('answers malformed JSON with a 400 problem', async () => {
    const res = await login('{"email": "a@b.fr", "password": ');
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, code: 'malformed_json', instance: '/api/v1/auth/login' });
  });

  it('answers an unknown field with a 400 problem naming it', async () => {
    const res = await login(JSON.stringify({ email: 'a@b.fr', password: 'x'.repeat(12), admin: true }));
    expect(res.statusCode).toBe(400);
    expect(res.json()).toMatchObject({ code: 'validation_failed' });
    expect(JSON.stringify(res.json().errors)).toContain('admin');
  });

  it('answers an oversize body with a 413 problem', async () => {
    const res = await login(JSON.stringify({ email: 'a@b.fr', password: 'x'.repeat(10_000) }));
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ status: 413, code: 'body_too_large' });
  });

  it('answers an unsupported media type with a 415 problem', async () => {
    const res = await login('email=a', 'application/x-www-form-urlencoded');
    expect(res.statusCode).toBe(415);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('keeps serving after all of that', async () => {
    expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
  });
});

describe('load shedding', () => {
  it('answers 503 with Retry-After while the event loop is saturated, and does not do the work behind it', async () => {
    const shedEnv = await createTestEnv({ MAX_EVENT_LOOP_DELAY_MS: '30' });
    const shed = await startTestApp(shedEnv, { listen: true });
    try {
      const url = `http://127.0.0.1:${(shed.app.server.address() as { port: number }).port}/readyz`;
      // The readiness check asks PostgreSQL: counting those queries shows whether the route ran.
      const pool = shed.infra.database.pool;
      const query = pool.query.bind(pool) as (...args: unknown[]) => unknown;
      let probes = 0;
      jest.spyOn(pool, 'query').mockImplementation(((...args: unknown[]) => {
        if (args[0] === 'select 1') probes++;
        return query(...args);
      }) as typeof pool.query);
      // Block the loop repeatedly, as a CPU-bound burst would, until the sampler notices.
      const deadline = Date.now() + 5000;
      let res: Response | undefined;
      let before = 0;
      while (Date.now() < deadline) {
        const busyUntil = Date.now() + 120;
        while (Date.now() < busyUntil);
        await new Promise((r) => setTimeout(r, 5));
        before = probes;
        res = await fetch(url);
        if (res.status === 503) break;
      }
      expect(res?.status).toBe(503);
      expect(res?.headers.get('retry-after')).toBe('5');
      expect(await res?.json()).toMatchObject({ code: 'overloaded' });
      await new Promise((r) => setTimeout(r, 300));
      expect(probes).toBe(before);
    } finally {
      await shed.close();
      await shedEnv.cleanup();
    }
  });
});

describe('an exhausted connection pool', () => {
  it('answers 503 server_busy with Retry-After, not a 500, and serves again once a connection is free', async () => {
    // Long enough for a loaded machine to open the connection at start, short enough for the test.
    const busyEnv = await createTestEnv({ DB_POOL_SIZE: '1', DB_CONNECT_TIMEOUT_MS: '2000' });
    const busy = await startTestApp(busyEnv);
    try {
      const tree = await createOrgTree(busy.infra.database.db, { communes: 1, schools: 1 });
      const bearer = await createPrincipalToken(busy.services, { role: 'admin', scopeType: 'organisation', organisationId: tree.org.id });
      const schools = () => busy.app.inject({ url: '/api/v1/schools', headers: { authorization: `Bearer ${bearer}` } });
      // Another request holding the only connection, as a burst of enrollments would.
      const held = await busy.infra.database.pool.connect();
      let res;
      try {
        res = await schools();
      } finally {
        held.release();
      }
      expect(res.statusCode).toBe(503);
      expect(res.headers['retry-after']).toBe('5');
      expect(res.json()).toMatchObject({ code: 'server_busy' });
      expect((await schools()).statusCode).toBe(200);
    } finally {
      await busy.close();
      await busyEnv.cleanup();
    }
  });
});

