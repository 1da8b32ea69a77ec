import { accessSync, constants, statfsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { loadConfig, type Config } from '../config';
import { readMigrationState } from '../infra/db/migration-state';
import { secretKeyPath } from '../infra/secrets';
import { loadCaStatus } from '../infra/db/ca-status';

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
  fix?: string;
}

const MIN_FREE_BYTES = 1024 ** 3;

async function checkPostgres(config: Config): Promise<Check[]> {
  const client = new Client({ connectionString: config.DATABASE_URL, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
  } catch (e) {
    return [{ name: 'PostgreSQL', ok: false, detail: `cannot connect to ${redactUrl(config.DATABASE_URL)}: ${(e as Error).message}`, fix: 'start PostgreSQL (bash scripts/services.sh) or correct DATABASE_URL' }];
  }
  try {
    const checks: Check[] = [{ name: 'PostgreSQL', ok: true, detail: `reachable at ${redactUrl(config.DATABASE_URL)}` }];
    const migrations = await readMigrationState(client);
    checks.push(
      migrations.pending === 0
        ? { name: 'Migrations', ok: true, detail: `${migrations.applied} applied, none pending` }
        : { name: 'Migrations', ok: false, detail: `${migrations.pending} pending`, fix: 'run `npx cartable migrate` (the server also applies them at start)' },
    );
    checks.push(await loadCaStatus(client, config));
    return checks;
  } finally {
    await client.end();
  }
}

async function checkRedis(config: Config): Promise<Check> {
  const redis = new Redis(config.REDIS_URL, { lazyConnect: true, connectTimeout: 2000, maxRetriesPerRequest: 0, retryStrategy: () => null });
  let lastError: Error | undefined;
  redis.on('error', (e: Error) => (lastError = e));
  try {
    await redis.connect();
    const [, policy] = (await redis.config('GET', 'maxmemory-policy')) as [string, string];
    if (policy !== 'noeviction') {
      return { name: 'Redis', ok: false, detail: `maxmemory-policy is ${policy}; queued jobs could be evicted`, fix: 'set `maxmemory-policy noeviction` in redis.conf (or run bash scripts/services.sh)' };
    }
    return { name: 'Redis', ok: true, detail: `reachable at ${redactUrl(config.REDIS_URL)}, maxmemory-policy noeviction` };
  } catch (e) {
    return { name: 'Redis', ok: false, detail: `unreachable at ${redactUrl(config.REDIS_URL)} (${(lastError ?? (e as Error)).message})`, fix: 'start Redis (bash scripts/services.sh) or correct REDIS_URL' };
  } finally {
    redis.disconnect();
  }
}

function checkSecrets(config: Config): Check {
  if (config.CARTABLE_SECRET_KEY) return { name: 'Secret key', ok: true, detail: 'from CARTABLE_SECRET_KEY' };
  const path = secretKeyPath(config.CARTABLE_SECRETS_DIR);
  try {
    accessSync(path, constants.R_OK);
    return { name: 'Secret key', ok: true, detail: `key file ${path}` };
  } catch {
    return { name: 'Secret key', ok: true, detail: `no key file yet: ${path} will be created at first start (back it up: it protects the CA key)` };
  }
}

function checkDisk(config: Config): Check {
  let dir = config.CARTABLE_SECRETS_DIR;
  try {
    accessSync(dir);
  } catch {
    dir = process.cwd();
  }
  const stats = statfsSync(dir);
  const free = stats.bavail * stats.bsize;
  const freeGiB = (free / 1024 ** 3).toFixed(1);
  return free >= MIN_FREE_BYTES
    ? { name: 'Disk', ok: true, detail: `${freeGiB} GiB free at ${dir}` }
    : { name: 'Disk', ok: false, detail: `only ${freeGiB} GiB free at ${dir}`, fix: 'free some space: logs and database need room to grow' };
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

/** Every check, in order; a wrong configuration stops the others since they depend on it. */
export async function runDoctor(env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  let config: Config;
  try {
    config = loadConfig(env);
  } catch (e) {
    return [{ name: 'Configuration', ok: false, detail: (e as Error).message, fix: 'correct the environment variable named above (see README, Configuration)' }];
  }
  const checks: Check[] = [{ name: 'Configuration', ok: true, detail: `roles ${config.CARTABLE_ROLES}, public URL ${config.CARTABLE_PUBLIC_URL}` }];
  checks.push(...(await checkPostgres(config)), await checkRedis(config), checkSecrets(config), checkDisk(config));
  return checks;
}

export function formatCheck(c: Check): string {
  return `${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}${c.fix ? ` -> ${c.fix}` : ''}`;
}
