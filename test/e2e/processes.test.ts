import { Redis } from 'ioredis';
import { TEST_REDIS_URL, createTestEnv, type TestEnv } from '../helpers/test-env';
import { listeningUrl, spawnServer, type ServerProcess } from '../helpers/processes';

let env: TestEnv;
const started: ServerProcess[] = [];

beforeAll(async () => {
  env = await createTestEnv();
});
afterAll(async () => {
  await Promise.all(started.map((s) => s.stop('SIGKILL')));
  await env.cleanup();
});

function start(extra: Record<string, string>): ServerProcess {
  const server = spawnServer({ ...env.env, ...extra });
  started.push(server);
  return server;
}

describe('process roles', () => {
  it('runs an api process and a worker process side by side on the same services', async () => {
    const api = start({ CARTABLE_ROLES: 'api' });
    const worker = start({ CARTABLE_ROLES: 'worker' });
    const url = await listeningUrl(api);
    await worker.waitFor(/"roles":"worker".*cartable started|cartable started.*"roles":"worker"/);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    // The api process has no device gateway.
    expect((await fetch(`${url}/agent/v1/challenge`)).status).toBe(404);
    // The worker declared its repeatable jobs in Redis.
    const redis = new Redis(TEST_REDIS_URL);
    try {
      const keys = await redis.keys(`${env.env.REDIS_PREFIX}:maintenance:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      redis.disconnect();
    }
    expect(worker.output()).not.toMatch(/Server listening/);
    const stopped = await Promise.all([api.stop(), worker.stop()]);
    expect(stopped.map((s) => s.code)).toEqual([0, 0]);
  });

  it('exits cleanly within 10 s of SIGTERM', async () => {
    const all = start({});
    const url = await listeningUrl(all);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const t0 = Date.now();
    const { code } = await all.stop('SIGTERM');
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(all.output()).toMatch(/"msg":"stopped"/);
  });
});
