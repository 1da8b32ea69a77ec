import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { Client } from 'pg';
import { runMigrations } from '../../server/infra/db/migrate';
import { formatCheck, runDoctor } from '../../server/cli/doctor';
import { createTestEnv, startTestApp, type TestEnv } from '../helpers/test-env';

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const srv = createServer().listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** A Redis of the test's own, so stopping it disturbs nobody else. */
function startRedis(port: number): Promise<ChildProcess> {
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxmemory-policy', 'noeviction'], { stdio: ['ignore', 'pipe', 'ignore'] });
  return new Promise((resolve, reject) => {
    proc.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve(proc));
    proc.on('exit', (code) => reject(new Error(`redis-server exited with ${code}`)));
  });
}

async function stopRedis(proc: ChildProcess): Promise<void> {
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGKILL');
  await exited;
}

async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 100));
  }
}

let env: TestEnv;
afterEach(async () => env?.cleanup());

describe('operations', () => {
  it('applies migrations from an empty database, idempotently', async () => {
    env = await createTestEnv();
    const client = new Client({ connectionString: env.config.DATABASE_URL });
    await client.connect();
    try {
      await client.query('drop schema public cascade; create schema public; drop schema if exists drizzle cascade');
      await runMigrations(env.config.DATABASE_URL);
      const tables = async () => (await client.query("select count(*)::int as n from information_schema.tables where table_schema = 'public'")).rows[0].n as number;
      const first = await tables();
      expect(first).toBeGreaterThanOrEqual(10);
      await runMigrations(env.config.DATABASE_URL);
      await Promise.all([runMigrations(env.config.DATABASE_URL), runMigrations(env.config.DATABASE_URL)]);
      expect(await tables()).toBe(first);
    } finally {
      await client.end();
    }
  });

  it('reports the node degraded, not unready, while Redis is down, and ready again once it is back, without a restart', async () => {
    const port = await freePort();
    let redis = await startRedis(port);
    env = await createTestEnv({ REDIS_URL: `redis://127.0.0.1:${port}/0` });
    const t = await startTestApp(env);
    try {
      expect((await t.app.inject({ url: '/readyz' })).statusCode).toBe(200);
      await stopRedis(redis);
      await eventually(async () => (await t.app.inject({ url: '/readyz' })).json().status === 'degraded');
      const down = await t.app.inject({ url: '/readyz' });
      // PostgreSQL holds the commands: the node stays in rotation and says what is missing.
      expect(down.statusCode).toBe(200);
      expect(down.json().degraded).toEqual([expect.stringMatching(/^Redis: /)]);
      expect(JSON.stringify(down.json())).not.toMatch(/PostgreSQL/);
      redis = await startRedis(port);
      await eventually(async () => (await t.app.inject({ url: '/readyz' })).json().status === 'ready');
    } finally {
      await t.close();
      await stopRedis(redis).catch(() => undefined);
    }
  });

  it('doctor names a stopped Redis in one clear line', async () => {
    env = await createTestEnv();
    const port = await freePort();
    const checks = await runDoctor({ ...env.env, REDIS_URL: `redis://127.0.0.1:${port}/0` });
    const failed = checks.filter((c) => !c.ok);
    expect(failed).toHaveLength(1);
    const line = formatCheck(failed[0]!);
    expect(line).toMatch(new RegExp(`^FAIL Redis: unreachable at redis://127.0.0.1:${port}/0 \\(connect ECONNREFUSED .*\\) -> start Redis`));
    expect(line).not.toContain('\n');
  });
});
