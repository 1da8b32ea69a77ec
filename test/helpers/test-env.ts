import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { buildApp } from '../../server/app';
import { buildOpsApp } from '../../server/infra/http/ops-app';
import { loadConfig, type Config } from '../../server/config';
import { awaitRedis, closeInfra, createInfra, type Infra } from '../../server/infra/infra';
import { createLogger } from '../../server/infra/logger';
import { createServices, type ServiceOptions, type Services } from '../../server/services';
import { createTestDatabase, dropTestDatabase } from './databases';

export const TEST_REDIS_URL = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379/0';

/** One test file's world: its own database, its own Redis key prefix, its own secrets dir. */
export interface TestEnv {
  config: Config;
  databaseName: string;
  /** Environment variables that start a server process on this same world. */
  env: Record<string, string>;
  cleanup(): Promise<void>;
}

export async function createTestEnv(overrides: Record<string, string> = {}): Promise<TestEnv> {
  const db = await createTestDatabase();
  const prefix = `test_${db.name}`;
  const secretsDir = mkdtempSync(join(tmpdir(), 'cartable-test-'));
  const env = {
    DATABASE_URL: db.url,
    REDIS_URL: TEST_REDIS_URL,
    REDIS_PREFIX: prefix,
    CARTABLE_SECRETS_DIR: secretsDir,
    APP_STORAGE_DIR: join(secretsDir, 'apps'),
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    PORT: '0',
    OPS_PORT: '0',
    DB_POOL_SIZE: '5',
    // Load shedding is tested on its own; elsewhere a busy test machine must not turn answers into 503s.
    MAX_EVENT_LOOP_DELAY_MS: '0',
    // Map tiles from a closed port of this machine: a page with a map reaches nothing outside.
    MAP_TILE_URL: 'http://127.0.0.1:9/tiles/{z}/{x}/{y}.png',
    ...overrides,
  };
  return {
    config: loadConfig(env),
    databaseName: db.name,
    env,
    async cleanup() {
      await dropTestDatabase(db.name);
      await deleteRedisPrefix(TEST_REDIS_URL, prefix);
      rmSync(secretsDir, { recursive: true, force: true });
    },
  };
}

export async function deleteRedisPrefix(url: string, prefix: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

export interface TestApp {
  app: FastifyInstance;
  /** The operations endpoints (metrics, API documentation), reached with `inject`. */
  ops: FastifyInstance;
  infra: Infra;
  services: Services;
  close(): Promise<void>;
}

/** The real app on a real database and Redis, as `main` builds it. */
export async function startTestApp(testEnv: TestEnv, options: { listen?: boolean } & ServiceOptions = {}): Promise<TestApp> {
  const infra = createInfra(testEnv.config, createLogger(testEnv.config.LOG_LEVEL));
  await awaitRedis(infra);
  const services = createServices(infra, { now: options.now, amapi: options.amapi });
  await services.startup();
  const app = await buildApp({ infra, services });
  if (options.listen) await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  const ops = await buildOpsApp(infra, { apiDocument: () => app.swagger() as unknown as Record<string, unknown> });
  await ops.ready();
  return {
    app,
    ops,
    infra,
    services,
    async close() {
      await Promise.all([app.close(), ops.close()]);
      await closeInfra(infra);
    },
  };
}
