import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { inArray, sql } from 'drizzle-orm';
import { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { createDatabase, type Database } from '../../server/infra/db/client';
import { createSecretBox } from '../../server/infra/secrets';
import { commands, communes, organisations, schools } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createTestEnv, deleteRedisPrefix, TEST_REDIS_URL, type TestEnv } from '../helpers/test-env';

/**
 * Real server processes sharing PostgreSQL and Redis, simulated agents over real sockets:
 * a command crosses nodes, survives a SIGKILL and a Redis flush, and runs exactly once.
 */
let env: TestEnv;
let database: Database;
let bearer: string;
let schoolId: string;
const servers: Server[] = [];

interface Server {
  kill(): Promise<void>;
}

/** The server runs in this very process (no wrapper), so SIGKILL hits it and nothing else. */
function spawnNode(vars: Record<string, string>): Server & { started: Promise<void> } {
  const root = join(__dirname, '..', '..');
  const proc = spawn(process.execPath, ['--import', 'tsx', join(root, 'server', 'main.ts')], { cwd: root, env: { ...process.env, ...vars }, stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => proc.on('exit', () => resolve()));
  let out = '';
  const started = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      if (/Cartable is running|cartable started/.test(out)) resolve();
    };
    proc.stdout!.on('data', onData);
    proc.stderr!.on('data', onData);
    void exited.then(() => reject(new Error(`server exited: ${out.slice(-2000)}`)));
  });
  return {
    started,
    async kill() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}
const agents: SimulatedAgent[] = [];
/** Every simulated tablet of this file gets its own serial number, as real ones have. */
let nextIndex = 0;

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function start(roles: string, port: number, extra: Record<string, string> = {}): Promise<{ url: string; server: Server }> {
  const url = `http://127.0.0.1:${port}`;
  const server = spawnNode({ ...env.env, CARTABLE_ROLES: roles, PORT: String(port), CARTABLE_PUBLIC_URL: url, LOG_LEVEL: 'info', ...extra });
  servers.push(server);
  await server.started;
  return { url, server };
}

async function waitFor(check: () => Promise<boolean> | boolean, timeoutMs: number): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function api(url: string, method: string, path: string, body?: unknown) {
  const res = await fetch(`${url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}) }, body: body ? JSON.stringify(body) : undefined });
  const json = (await res.json()) as Record<string, unknown>;
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function enrollAgents(apiUrl: string, gatewayUrl: string, count: number): Promise<SimulatedAgent[]> {
  const { token } = (await api(apiUrl, 'POST', '/enrollment-tokens', { schoolId, label: 'faults', maxUses: null })) as { token: string };
  const batch = Array.from({ length: count }, (_, i) => new SimulatedAgent({ serverUrl: gatewayUrl, token, index: nextIndex + i, reportOnConnect: false }));
  agents.push(...batch);
  nextIndex += count;
  for (let i = 0; i < batch.length; i += 20) await Promise.all(batch.slice(i, i + 20).map((a) => a.enroll()));
  return batch;
}

const totalExecutions = (list: SimulatedAgent[]) => list.reduce((n, a) => n + [...a.executions.values()].reduce((x, y) => x + y, 0), 0);
const duplicates = (list: SimulatedAgent[]) => list.flatMap((a) => [...a.executions.values()].filter((n) => n > 1));

async function countByStatus(ids: string[]): Promise<Record<string, number>> {
  const rows = await database.db
    .select({ status: commands.status, n: sql<number>`count(*)::int` })
    .from(commands)
    .where(inArray(commands.batchId, ids))
    .groupBy(commands.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

beforeAll(async () => {
  env = await createTestEnv();
  database = createDatabase(env.env.DATABASE_URL!, 2, { auditKey: createSecretBox(undefined, env.config.CARTABLE_SECRETS_DIR).auditKey });
  const tag = randomUUID().slice(0, 8);
  const [org] = await database.db.insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning();
  const [commune] = await database.db.insert(communes).values({ organisationId: org!.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  const [school] = await database.db.insert(schools).values({ organisationId: org!.id, communeId: commune!.id, code: `${tag}A`, name: 'École' }).returning();
  schoolId = school!.id;
  bearer = await createPrincipalToken(database.db, { role: 'admin', scopeType: 'organisation', organisationId: org!.id });
});
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
  await Promise.all(servers.splice(0).map((s) => s.kill()));
});
afterAll(async () => {
  await database.close();
  await env.cleanup();
});

describe('commands across processes and faults', () => {
  it('a command created through node A reaches an agent connected to node B within 1 s', async () => {
    const a = await start('api,worker', await freePort());
    const b = await start('gateway', await freePort());
    const [agent] = await enrollAgents(a.url, b.url, 1);
    await agent!.connect();
    await new Promise((r) => setTimeout(r, 300)); // presence is written right after welcome
    const executed = new Promise<number>((resolve) => agent!.once('executed', () => resolve(Date.now())));
    const t0 = Date.now();
    await api(a.url, 'POST', `/devices/${agent!.deviceId}/commands`, { kind: 'lock' });
    const latency = (await executed) - t0;
    expect(latency).toBeLessThan(1000);
  }, 60_000);

  it('1,000 commands queued for offline agents survive a SIGKILL and run exactly once', async () => {
    const port = await freePort();
    const first = await start('api,gateway,worker', port);
    const fleet = await enrollAgents(first.url, first.url, 100);
    const deviceIds = fleet.map((a) => a.deviceId!);
    const batches: string[] = [];
    for (let i = 0; i < 10; i++) batches.push(((await api(first.url, 'POST', '/commands/bulk', { kind: 'message', params: { text: `n°${i}` }, target: { deviceIds } })) as { batchId: string }).batchId);
    expect(await countByStatus(batches)).toEqual({ queued: 1000 });

    await first.server.kill();
    await start('api,gateway,worker', port);
    for (let i = 0; i < fleet.length; i += 25) await Promise.all(fleet.slice(i, i + 25).map((a) => a.connect()));

    await waitFor(async () => (await countByStatus(batches)).succeeded === 1000, 40_000);
    expect(totalExecutions(fleet)).toBe(1000);
    expect(duplicates(fleet)).toEqual([]);
  }, 90_000);

  it('delivers every command once when the deployment’s Redis keys are flushed mid-delivery', async () => {
    const server = await start('api,gateway,worker', await freePort(), { AGENT_HEARTBEAT_SEC: '10' });
    const fleet = await enrollAgents(server.url, server.url, 50);
    await Promise.all(fleet.map((a) => a.connect()));
    const deviceIds = fleet.map((a) => a.deviceId!);
    const batches: string[] = [];
    const bulk = async (i: number) => batches.push(((await api(server.url, 'POST', '/commands/bulk', { kind: 'lock', params: { message: `n°${i}` }, target: { deviceIds } })) as { batchId: string }).batchId);
    await bulk(0);
    await deleteRedisPrefix(TEST_REDIS_URL, env.env.REDIS_PREFIX!);
    for (let i = 1; i < 4; i++) await bulk(i);

    await waitFor(async () => (await countByStatus(batches)).succeeded === 200, 45_000);
    expect(totalExecutions(fleet)).toBe(200);
    expect(duplicates(fleet)).toEqual([]);
  }, 90_000);
});
