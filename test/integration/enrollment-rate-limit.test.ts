import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;

beforeAll(async () => {
  env = await createTestEnv({ ENROLL_RATE_LIMIT_PER_MIN: '3' });
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('enrollment rate limit', () => {
  it('refuses attempts past the per-address limit with 429 and Retry-After', async () => {
    const attempt = (ip: string) => t.app.inject({ method: 'POST', url: '/agent/v1/enroll', remoteAddress: ip, payload: { token: 'guess', csr: 'x', hardware: {}, agent: {} } });
    const first = await Promise.all([attempt('10.1.0.1'), attempt('10.1.0.1'), attempt('10.1.0.1')]);
    expect(first.map((r) => r.statusCode)).not.toContain(429);
    const refused = await attempt('10.1.0.1');
    expect(refused.statusCode).toBe(429);
    expect(refused.json()).toMatchObject({ code: 'rate_limited' });
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    // Another school's address is not affected.
    expect((await attempt('10.2.0.1')).statusCode).not.toBe(429);
  });
});
