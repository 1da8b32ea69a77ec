/**
 * `npm run bench -- commands [--devices 10000] [--clients 2]`
 *
 * One Cartable server process (api + gateway + worker) and simulated agents in separate
 * processes: N agents connect and idle, one bulk `lock` goes to all of them through the API, and
 * the time until every command is acknowledged is measured from the database. Then, in the same
 * run, a bare @fastify/websocket server sends one frame to the same number of plain sockets and
 * waits for one answer from each: the floor that the command path is compared with.
 * Everything runs on 127.0.0.1, in a throw-away database and Redis prefix.
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
import { SYSTEM_ACTOR } from '../server/modules/access/principal';
import { createServices } from '../server/services';
import { createPrincipalToken } from '../test/helpers/auth';
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
  next(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

/** A node process running a TypeScript file; its JSON stdout lines are milestones. */
function run(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      lines.push(JSON.parse(line) as Record<string, unknown>);
      for (const w of waiters) w();
    } catch {
      // other output is not a milestone
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
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise((r) => child.proc.once('exit', r));
  child.proc.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000).then(() => child.proc.kill('SIGKILL'))]);
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
  const total = flag(args, 'devices', 10_000);
  const clientCount = flag(args, 'clients', 2);
  const id = `cartable_bench_cmd_${process.pid}`;
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
    CARTABLE_ROLES: 'api,gateway,worker',
    CARTABLE_SECRETS_DIR: secretsDir,
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: '20',
    MAX_EVENT_LOOP_DELAY_MS: '0',
  };
  const children: Child[] = [];
  const per = Math.ceil(total / clientCount);
  const share = (i: number) => String(Math.min(per, total - i * per));
  try {
    const server = run('server/main.ts', [], env);
    children.push(server);
    await waitReady(url, 60_000);

    const infra = createInfra(loadConfig(env), createLogger('warn'));
    const services = createServices(infra);
    const { rows: [org] } = await infra.database.pool.query<{ id: string }>(`insert into organisations (slug, name) values ('bench', 'Bench') returning id`);
    const { rows: [commune] } = await infra.database.pool.query<{ id: string }>(`insert into communes (organisation_id, code, name) values ($1, '38000', 'Bench') returning id`, [org!.id]);
    const { rows: [school] } = await infra.database.pool.query<{ id: string }>(`insert into schools (organisation_id, commune_id, code, name) values ($1, $2, '0380000A', 'École bench') returning id`, [org!.id, commune!.id]);
    const { token } = await services.enrollment.createToken({ all: true, organisationId: org!.id }, SYSTEM_ACTOR, { schoolId: school!.id, label: 'bench' });
    const bearer = await createPrincipalToken(services, { role: 'technician', scopeType: 'school', scopeId: school!.id, organisationId: org!.id });
    await closeInfra(infra);

    const clients = Array.from({ length: clientCount }, (_, i) =>
      run('agent-protocol/simulator/cli.ts', ['--server', url, '--token', token, '--count', share(i), '--index-offset', String(i * per), '--concurrency', '50', '--idle', '--local-addresses', `127.0.0.${i + 2}`]),
    );
    children.push(...clients);
    const connected = (await Promise.all(clients.map((c) => c.next('connected', 900_000)))).reduce((n, e) => n + Number(e.count), 0);
    console.log(JSON.stringify({ phase: 'connected', count: connected }));
    await sleep(2000); // presence is written just after each welcome

    const t0 = Date.now();
    const res = await fetch(`${url}/api/v1/commands/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'lock', params: { message: 'Fin de séance' }, target: { schoolId: school!.id } }),
    });
    const bulk = (await res.json()) as { batchId: string; created: number; mode: string };
    if (res.status !== 201) throw new Error(`bulk refused: ${res.status} ${JSON.stringify(bulk)}`);
    const createdMs = Date.now() - t0;
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    let acked = 0;
    const deadline = t0 + 120_000;
    while (Date.now() < deadline) {
      const { rows } = await db.query<{ n: number }>(
        `select count(*)::int as n from commands where batch_id = $1 and status in ('acknowledged', 'succeeded', 'failed', 'not_now')`,
        [bulk.batchId],
      );
      acked = rows[0]!.n;
      if (acked >= bulk.created) break;
      await sleep(20);
    }
    const ackedS = (Date.now() - t0) / 1000;
    const { rows: attempts } = await db.query<{ max: number }>(`select max(attempts)::int as max from commands where batch_id = $1`, [bulk.batchId]);
    await db.end();
    console.log(JSON.stringify({ phase: 'commands', created: bulk.created, mode: bulk.mode, created_ms: createdMs, acked, acked_s: ackedS, max_attempts: attempts[0]!.max }));
    for (const c of [...clients, server]) await stop(c);

    const bare = run('bench/commands-bare.ts', ['server'], { PORT: String(port) });
    children.push(bare);
    await bare.next('listening', 30_000);
    const bareClients = Array.from({ length: clientCount }, (_, i) => run('bench/commands-bare.ts', ['clients', `ws://127.0.0.1:${port}/ws`, share(i), `127.0.0.${i + 2}`]));
    children.push(...bareClients);
    await Promise.all(bareClients.map((c) => c.next('connected', 300_000)));
    const baseline = (await (await fetch(`${url}/send`)).json()) as { sockets: number; ms: number };
    const bareS = baseline.ms / 1000;
    console.log(`devices=${acked} acked_s=${ackedS.toFixed(2)} bare_send_s=${bareS.toFixed(3)} ratio=${(ackedS / bareS).toFixed(1)}`);
  } finally {
    for (const c of children) await stop(c);
    await admin.query(`drop database if exists ${id} with (force)`).catch(() => undefined);
    await admin.end();
    await deleteRedisPrefix(REDIS_URL, id).catch(() => undefined);
    rmSync(secretsDir, { recursive: true, force: true });
  }
}
