import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { CountingAgent, deliveryReport } from '../../agent-protocol/simulator/counting-agent';
import type { SimulatedAgent, SimulatedAgentOptions } from '../../agent-protocol/simulator/simulated-agent';
import { createDatabase, type Database } from '../../server/infra/db/client';
import { runMigrations } from '../../server/infra/db/migrate';
import { createSecretBox } from '../../server/infra/secrets';
import { communes, organisations, schools } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { freePort, PrivatePostgres, PrivateRedis } from '../helpers/private-services';

const ROOT = join(__dirname, '..', '..');
export interface Node {
  url: string;
  /** Its operations endpoints (/metrics), once started. */
  opsUrl(): string;
  port: number;
  /** Everything the process wrote. */
  output(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The same process started again, on the same port. */
  restart(): Promise<Node>;
}

export interface FaultWorld {
  db: Database;
  redis: PrivateRedis;
  postgres: PrivatePostgres | null;
  organisationId: string;
  schoolId: string;
  bearer: string;
  env: Record<string, string>;
  node(roles: string, extra?: Record<string, string>): Promise<Node>;
  api(url: string, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; body: Record<string, unknown>; ms: number }>;
  enroll(apiUrl: string, gatewayUrl: string | string[], count: number, options?: Partial<SimulatedAgentOptions>): Promise<CountingAgent[]>;
  close(): Promise<void>;
}

/**
 * Real server processes on a Redis (and, when asked, a PostgreSQL) of the test's own, so that
 * they can be killed, flushed and restarted mid-test; simulated agents over real sockets.
 */
export async function openFaultWorld(options: { privatePostgres?: boolean; env?: Record<string, string> } = {}): Promise<FaultWorld> {
  const redis = await PrivateRedis.start();
  const postgres = options.privatePostgres ? await PrivatePostgres.start() : null;
  let databaseUrl: string;
  let dropDatabase: () => Promise<void> = async () => undefined;
  if (postgres) databaseUrl = postgres.url;
  else {
    const { createTestDatabase, dropTestDatabase } = await import('../helpers/databases');
    const created = await createTestDatabase();
    databaseUrl = created.url;
    dropDatabase = () => dropTestDatabase(created.name);
  }
  await runMigrations(databaseUrl);
  const secretsDir = mkdtempSync(join(tmpdir(), 'cartable-faults-'));
  const env: Record<string, string> = {
    DATABASE_URL: databaseUrl,
    REDIS_URL: redis.url,
    REDIS_PREFIX: `faults_${randomUUID().slice(0, 8)}`,
    CARTABLE_SECRETS_DIR: secretsDir,
    LOG_LEVEL: 'info',
    DB_POOL_SIZE: '10',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    ENROLL_RATE_LIMIT_PER_MIN: '0',
    // Each process's metrics on a port of its own, read from its log line.
    OPS_PORT: '0',
    ...options.env,
  };
  // Creates the key file the server processes will find, and gives this handle the audit key.
  const db = createDatabase(databaseUrl, 3, { auditKey: createSecretBox(undefined, secretsDir).auditKey });
  const tag = randomUUID().slice(0, 8);
  const [org] = await db.db.insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning();
  const [commune] = await db.db.insert(communes).values({ organisationId: org!.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  const [school] = await db.db.insert(schools).values({ organisationId: org!.id, communeId: commune!.id, code: `${tag}A`, name: 'École' }).returning();
  const bearer = await createPrincipalToken(db.db, { role: 'admin', scopeType: 'organisation', organisationId: org!.id });
  const nodes: ChildProcess[] = [];
  const agents: SimulatedAgent[] = [];
  let index = 0;

  function spawnNode(roles: string, port: number, extra: Record<string, string>): Promise<Node> {
    const url = `http://127.0.0.1:${port}`;
    const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'server', 'main.ts')], {
      cwd: ROOT,
      env: { ...process.env, ...env, CARTABLE_ROLES: roles, PORT: String(port), CARTABLE_PUBLIC_URL: url, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    nodes.push(proc);
    let out = '';
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
    const started = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer) => {
        out += chunk.toString();
        if (/cartable started/.test(out)) resolve();
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      void exited.then(() => reject(new Error(`server exited before starting:\n${out.slice(-2000)}`)));
    });
    const node: Node = {
      url,
      opsUrl: () => {
        const found = /Operations endpoints listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
        if (!found) throw new Error('the process has not said where its operations endpoints listen');
        return found[1]!;
      },
      port,
      output: () => out,
      exited,
      async stop(signal = 'SIGKILL') {
        if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
        return exited;
      },
      restart: () => spawnNode(roles, port, extra),
    };
    return started.then(() => node);
  }

  const world: FaultWorld = {
    db,
    redis,
    postgres,
    organisationId: org!.id,
    schoolId: school!.id,
    bearer,
    env,
    async node(roles, extra = {}) {
      return spawnNode(roles, await freePort(), extra);
    },
    async api(url, method, path, body, headers = {}) {
      const t0 = Date.now();
      const res = await fetch(`${url}/api/v1${path}`, {
        method,
        headers: { authorization: `Bearer ${bearer}`, ...(body ? { 'content-type': 'application/json' } : {}), ...headers },
        body: body ? JSON.stringify(body) : undefined,
      });
      const text = await res.text();
      return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, ms: Date.now() - t0 };
    },
    async enroll(apiUrl, gatewayUrl, count, agentOptions = {}) {
      const res = await world.api(apiUrl, 'POST', '/enrollment-tokens', { schoolId: world.schoolId, label: 'faults', maxUses: null });
      if (res.status !== 201) throw new Error(`enrollment token refused: ${res.status} ${JSON.stringify(res.body)}`);
      const gateways = Array.isArray(gatewayUrl) ? gatewayUrl : [gatewayUrl];
      const batch = Array.from(
        { length: count },
        (_, i) => new CountingAgent({ serverUrl: gateways[i % gateways.length]!, token: res.body.token as string, index: index + i, reportOnConnect: false, fallback: false, ...agentOptions }),
      );
      index += count;
      agents.push(...batch);
      for (let i = 0; i < batch.length; i += 25) await Promise.all(batch.slice(i, i + 25).map((a) => a.enroll()));
      return batch;
    },
    async close() {
      await Promise.all(agents.splice(0).map((a) => a.close()));
      for (const proc of nodes) if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await db.close();
      await redis.kill();
      await postgres?.destroy();
      await dropDatabase();
      rmSync(secretsDir, { recursive: true, force: true });
    },
  };
  return world;
}

/** Statuses of the commands of some batches, counted in PostgreSQL. */
export async function statusCounts(world: FaultWorld, batchIds: string[]): Promise<Record<string, number>> {
  const { rows } = await world.db.db.execute<{ status: string; n: number }>(
    sql`select status, count(*)::int as n from commands where batch_id = any(${`{${batchIds.join(',')}}`}::uuid[]) group by status`,
  );
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

export async function waitUntil(check: () => Promise<boolean> | boolean, timeoutMs: number, what = 'condition'): Promise<number> {
  const t0 = Date.now();
  while (!(await check())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return Date.now() - t0;
}

export { CountingAgent, deliveryReport };
