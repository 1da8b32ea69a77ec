/**
 * `npm run bench -- agents [--agents 10000] [--clients 2] [--idle-sec 20]`
 *
 * One Cartable server process (api + gateway) and simulated agents in separate processes:
 * N agents enroll, connect and stay idle; the server's RSS and event-loop p99 are read from its
 * /metrics. Then a bare @fastify/websocket server holds the same number of plain sockets, for the
 * ratio. Everything runs on 127.0.0.1, in a throw-away database and Redis prefix.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { loadConfig } from '../server/config';
import { closeInfra, createInfra } from '../server/infra/infra';
import { createLogger } from '../server/infra/logger';
import { createServices } from '../server/services';
import { deleteRedisPrefix } from '../test/helpers/test-env';

const ROOT = join(__dirname, '..');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

interface Child {
  proc: ChildProcess;
  /** Resolves with the first JSON line whose `event` matches. */
  next(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

function run(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters) w();
    } catch {
      // pino lines of the server and other text are not milestones
    }
  });
  return {
    proc,
    next(event, timeoutMs) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${script}: no "${event}" within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          const found = lines.find((l) => l.event === event);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      });
    },
  };
}

async function stop(child: Child): Promise<void> {
  if (child.proc.exitCode !== null) return;
  const exited = new Promise((r) => child.proc.once('exit', r));
  child.proc.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000).then(() => child.proc.kill('SIGKILL'))]);
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok) return;
    await sleep(250);
  }
  throw new Error('server not ready in time');
}

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'agents', 10_000);
  const clientCount = flag(args, 'clients', 2);
  const idleSec = flag(args, 'idle-sec', 20);
  const id = `cartable_bench_${process.pid}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${id}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${id}` }).toString();
  const secretsDir = mkdtempSync(join(tmpdir(), 'cartable-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: id,
    HOST: '127.0.0.1',
    PORT: String(port),
    CARTABLE_PUBLIC_URL: url,
    CARTABLE_ROLES: 'api,gateway',
    CARTABLE_SECRETS_DIR: secretsDir,
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: '20',
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  const children: Child[] = [];
  try {
    const server = run('server/main.ts', [], env);
    children.push(server);
    await waitReady(url, 60_000);

    const infra = createInfra(loadConfig(env), createLogger('warn'));
    const services = createServices(infra);
    const { rows: [org] } = await infra.database.pool.query<{ id: string }>(`insert into organisations (slug, name) values ('bench', 'Bench') returning id`);
    const { rows: [commune] } = await infra.database.pool.query<{ id: string }>(`insert into communes (organisation_id, code, name) values ($1, '38000', 'Bench') returning id`, [org!.id]);
    const { rows: [school] } = await infra.database.pool.query<{ id: string }>(`insert into schools (organisation_id, commune_id, code, name) values ($1, $2, '0380000A', 'École bench') returning id`, [org!.id, commune!.id]);
    const { token } = await services.enrollment.createToken({ all: true, organisationId: org!.id }, { type: 'system', id: null, label: 'bench', role: null, ip: null }, { schoolId: school!.id, label: 'bench' });
    await closeInfra(infra);

    const per = Math.ceil(total / clientCount);
    const clients = Array.from({ length: clientCount }, (_, i) =>
      run('agent-protocol/simulator/cli.ts', ['--server', url, '--token', token, '--count', String(Math.min(per, total - i * per)), '--index-offset', String(i * per), '--concurrency', '50', '--idle', '--local-addresses', `127.0.0.${i + 2}`]),
    );
    children.push(...clients);
    const enrolled = await Promise.all(clients.map((c) => c.next('enrolled', 600_000)));
    const enrolledCount = enrolled.reduce((n, e) => n + Number(e.count), 0);
    const enrollPerS = enrolledCount / (Math.max(...enrolled.map((e) => Number(e.ms))) / 1000);
    console.log(JSON.stringify({ phase: 'enrolled', count: enrolledCount, failed: enrolled.reduce((n, e) => n + Number(e.failed), 0), per_s: Math.round(enrollPerS) }));
    const connected = await Promise.all(clients.map((c) => c.next('connected', 600_000)));
    const connectedCount = connected.reduce((n, e) => n + Number(e.count), 0);
    console.log(JSON.stringify({ phase: 'connected', count: connectedCount, errors: connected.map((c) => c.errors) }));

    // prom-client resets its event-loop histogram at each scrape: each reading covers the 5 s
    // before it. Its value includes the 20 ms sampling resolution, so it errs on the high side.
    await metric(url, 'nodejs_eventloop_lag_p99_seconds');
    let rss = 0;
    let loopP99Ms = 0;
    for (let s = 0; s < idleSec; s += 5) {
      await sleep(5000);
      loopP99Ms = Math.max(loopP99Ms, (await metric(url, 'nodejs_eventloop_lag_p99_seconds')) * 1000);
      rss = Math.max(rss, await metric(url, 'process_resident_memory_bytes'));
    }
    const held = await metric(url, 'cartable_connected_devices');
    console.log(JSON.stringify({ phase: 'idle', held, rss_mb: Math.round(rss / 2 ** 20), loop_p99_ms: Number(loopP99Ms.toFixed(1)) }));
    for (const c of [...clients, server]) await stop(c);

    const bare = run('bench/bare-server.ts', [], { PORT: String(port) });
    children.push(bare);
    await bare.next('listening', 30_000);
    const bareClients = Array.from({ length: clientCount }, (_, i) => run('bench/bare-clients.ts', [`ws://127.0.0.1:${port}/ws`, String(Math.min(per, total - i * per)), `127.0.0.${i + 2}`]));
    children.push(...bareClients);
    await Promise.all(bareClients.map((c) => c.next('connected', 300_000)));
    await sleep(5000);
    const bareStats = (await (await fetch(`${url}/rss`)).json()) as { rss: number; sockets: number };
    const rssMb = rss / 2 ** 20;
    const bareMb = bareStats.rss / 2 ** 20;
    console.log(`agents=${held} rss_mb=${rssMb.toFixed(0)} bare_rss_mb=${bareMb.toFixed(0)} ratio=${(rssMb / bareMb).toFixed(2)} loop_p99_ms=${loopP99Ms.toFixed(1)} enroll_per_s=${enrollPerS.toFixed(0)}`);
  } finally {
    for (const c of children) await stop(c);
    await admin.query(`drop database if exists ${id} with (force)`).catch(() => undefined);
    await admin.end();
    await deleteRedisPrefix(REDIS_URL, id).catch(() => undefined);
    rmSync(secretsDir, { recursive: true, force: true });
  }
}
