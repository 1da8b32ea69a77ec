/**
 * What the bench scenarios share: child processes that report milestones as JSON lines, and the
 * "bench world": one Cartable server process in a throw-away database, Redis prefix and secrets
 * directory, seeded with a school and an enrollment token, and removed again by `close()`.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Client } from 'pg';
import { loadConfig } from '../server/config';
import { closeInfra, createInfra, type Infra } from '../server/infra/infra';
import { createLogger } from '../server/infra/logger';
import { SYSTEM_ACTOR } from '../server/modules/access/principal';
import { createServices, type Services } from '../server/services';
import { createPrincipalToken } from '../test/helpers/auth';
import { deleteRedisPrefix } from '../test/helpers/test-env';

export { percentile } from './percentile';

const ROOT = join(__dirname, '..');
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function flag(args: string[], name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}


/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux): on a machine shared
 * with other work, CPU per request is what compares between runs, not requests per second.
 */
export function cpuMs(pid: number): number {
  // Fields 14 and 15 of /proc/PID/stat, after the command name (which may hold spaces) in parentheses.
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
}

/** CPU time used so far by the PostgreSQL backends serving `database` (their titles name it), in ms. */
export function databaseCpuMs(database: string): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(` ${database} `)) total += cpuMs(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

export interface Child {
  proc: ChildProcess;
  /** Resolves with the first JSON line whose `event` matches. */
  next(event: string, timeoutMs: number): Promise<Record<string, unknown>>;
}

/** A node process running a TypeScript file (or a built JavaScript one); its JSON stdout lines are milestones. */
export function run(script: string, args: string[], env: Record<string, string> = {}): Child {
  const proc = spawn(process.execPath, [...(script.endsWith('.ts') ? ['--import', 'tsx'] : []), join(ROOT, script), ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  const waiters = new Set<() => void>();
  createInterface({ input: proc.stdout! }).on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      // The server's own errors (pino, level 50 and above) would otherwise pass unseen.
      if (typeof parsed.level === 'number' && parsed.level >= 50) process.stderr.write(`${script}: ${line}\n`);
      lines.push(parsed);
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
        const onExit = (code: number | null) => {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`${script} exited (code ${code}) before "${event}"`));
        };
        const check = () => {
          const found = lines.find((l) => l.event === event);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          proc.off('exit', onExit);
          resolve(found);
        };
        proc.once('exit', onExit);
        waiters.add(check);
        check();
      });
    },
  };
}

export async function stop(child: Child): Promise<void> {
  // A process killed by a signal has no exit code, and its 'exit' has already fired.
  if (child.proc.exitCode !== null || child.proc.signalCode !== null) return;
  const exited = new Promise((r) => child.proc.once('exit', r));
  child.proc.kill('SIGTERM');
  await Promise.race([exited, sleep(10_000).then(() => child.proc.kill('SIGKILL'))]);
}

export async function waitReady(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await fetch(`${url}/readyz`).catch(() => undefined))?.ok) return;
    await sleep(250);
  }
  throw new Error('server not ready in time');
}

/** One sample of a Prometheus gauge from the server's /metrics (at its operations URL). */
export async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return Number(line?.split(' ')[1] ?? NaN);
}

/**
 * `total` sockets split over `parts` client processes. Each process gets its own source address
 * (127.0.0.2, 127.0.0.3, …) so that the sockets spread over several addresses, as they would over
 * several tablets.
 */
export function shares(total: number, parts: number): { count: string; offset: string; address: string }[] {
  const per = Math.ceil(total / parts);
  return Array.from({ length: parts }, (_, i) => ({ count: String(Math.min(per, total - i * per)), offset: String(i * per), address: `127.0.0.${i + 2}` }));
}

export interface BenchWorld {
  url: string;
  port: number;
  /** The server's operations endpoints (/metrics), on a port of their own. */
  opsUrl: string;
  databaseUrl: string;
  /** The server's environment: another node of the same deployment starts with it (and its own ports and roles). */
  env: Record<string, string>;
  schoolId: string;
  enrollmentToken: string;
  /** A technician's API token over the school (or an administrator's over the organisation), when asked for. */
  bearer?: string;
  server: Child;
  /** Starts a process that `close()` will stop. */
  spawn(script: string, args: string[], env?: Record<string, string>): Child;
  /** Idle simulated agents (agent-protocol/simulator/cli.ts) enrolled with the world's token; `extra` options go to every client. */
  spawnAgents(total: number, clientCount: number, extra?: (client: number) => string[]): Child[];
  close(): Promise<void>;
}

/**
 * Starts `server/main.ts` with the given roles on a free port of 127.0.0.1 and seeds an
 * organisation, a commune and a school. The seeding goes through the services directly, so the
 * bench measures the agents' traffic only.
 */
/** What a scenario may seed through the services before the measure, with the world's school. */
export type BenchSeed = (context: { services: Services; infra: Infra; organisationId: string; schoolId: string }) => Promise<void>;

export async function openBenchWorld(
  name: string,
  roles: string,
  options: { technicianToken?: boolean; adminToken?: boolean; env?: Record<string, string>; seed?: BenchSeed } = {},
): Promise<BenchWorld> {
  const id = `cartable_bench_${name}_${process.pid}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${id}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${id}` }).toString();
  const secretsDir = mkdtempSync(join(tmpdir(), 'cartable-bench-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const opsPort = await freePort();
  const env = {
    DATABASE_URL: databaseUrl,
    REDIS_URL,
    REDIS_PREFIX: id,
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_PORT: String(opsPort),
    CARTABLE_PUBLIC_URL: url,
    CARTABLE_ROLES: roles,
    CARTABLE_SECRETS_DIR: secretsDir,
    LOG_LEVEL: 'warn',
    DB_POOL_SIZE: '20',
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // Thousands of simulated tablets enroll from two addresses: the per-address limit would refuse them.
    ENROLL_RATE_LIMIT_PER_MIN: '0',
    ...options.env,
  };
  const children: Child[] = [];
  const spawnChild = (script: string, args: string[], childEnv?: Record<string, string>) => {
    const child = run(script, args, childEnv);
    children.push(child);
    return child;
  };
  const close = async () => {
    for (const c of children) await stop(c);
    await admin.query(`drop database if exists ${id} with (force)`).catch(() => undefined);
    await admin.end();
    await deleteRedisPrefix(REDIS_URL, id).catch(() => undefined);
    rmSync(secretsDir, { recursive: true, force: true });
  };
  try {
    const server = spawnChild('server/main.ts', [], env);
    await waitReady(url, 60_000);

    const infra = createInfra(loadConfig(env), createLogger('warn'));
    const services = createServices(infra);
    const { rows: [org] } = await infra.database.pool.query<{ id: string }>(`insert into organisations (slug, name) values ('bench', 'Bench') returning id`);
    const { rows: [commune] } = await infra.database.pool.query<{ id: string }>(`insert into communes (organisation_id, code, name) values ($1, '38000', 'Bench') returning id`, [org!.id]);
    const { rows: [school] } = await infra.database.pool.query<{ id: string }>(`insert into schools (organisation_id, commune_id, code, name) values ($1, $2, '0380000A', 'École bench') returning id`, [org!.id, commune!.id]);
    const { token } = await services.enrollment.createToken({ all: true, organisationId: org!.id }, { ...SYSTEM_ACTOR, label: 'bench' }, { schoolId: school!.id, label: 'bench' });
    const bearer = options.adminToken
      ? await createPrincipalToken(services, { role: 'admin', scopeType: 'organisation', organisationId: org!.id })
      : options.technicianToken
        ? await createPrincipalToken(services, { role: 'technician', scopeType: 'school', scopeId: school!.id, organisationId: org!.id })
        : undefined;
    await options.seed?.({ services, infra, organisationId: org!.id, schoolId: school!.id });
    await closeInfra(infra);

    return {
      url,
      port,
      opsUrl: `http://127.0.0.1:${opsPort}`,
      databaseUrl,
      env,
      schoolId: school!.id,
      enrollmentToken: token,
      bearer,
      server,
      spawn: spawnChild,
      spawnAgents: (total, clientCount, extra) =>
        shares(total, clientCount).map((s, i) =>
          spawnChild('agent-protocol/simulator/cli.ts', ['--server', url, `--token=${token}`, '--count', s.count, '--index-offset', s.offset, '--concurrency', '50', '--idle', '--local-addresses', s.address, ...(extra?.(i) ?? [])]),
        ),
      close,
    };
  } catch (error) {
    await close();
    throw error;
  }
}
