import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import { createDatabase, type Database } from './db/client';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { Queues } from './queues/registry';
import { createRedis, redisReady } from './redis';
import { createSecretBox, type SecretBox } from './secrets';

/** Connections and process-wide plumbing, created once per process and shared by every role. */
export interface Infra {
  config: Config;
  log: Logger;
  database: Database;
  /** Fails fast when Redis is away: for the paths that answer people and devices. */
  redis: Redis;
  /** A second connection: a subscribed Redis connection cannot issue other commands. */
  subscriber: Redis;
  /** Producers fail fast too: a job enqueued after a commit is a shortcut the reconciler covers. */
  queues: Queues;
  /** For BullMQ workers, which wait for Redis. */
  queueConnection: ConnectionOptions;
  metrics: Metrics;
  secrets: SecretBox;
  /** Identifies this process in presence records and nudges. */
  nodeId: string;
  /** The time where a rule depends on it (a school's hours): one place a test can move it. */
  clock: () => Date;
}

export function createInfra(config: Config, log: Logger = createLogger(config.LOG_LEVEL)): Infra {
  const producer = createRedis(config.REDIS_URL, 'producer');
  const secrets = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR);
  const metrics = createMetrics();
  return {
    config,
    log,
    database: createDatabase(config.DATABASE_URL, config.DB_POOL_SIZE, { connectTimeoutMs: config.DB_CONNECT_TIMEOUT_MS, auditKey: secrets.auditKey, observeAuditLock: (s) => metrics.auditChainLock.observe(s) }),
    redis: createRedis(config.REDIS_URL, 'request'),
    subscriber: createRedis(config.REDIS_URL, 'subscriber'),
    queues: new Queues({ connection: producer, prefix: config.REDIS_PREFIX }),
    queueConnection: createRedis(config.REDIS_URL, 'worker'),
    metrics,
    secrets,
    nodeId: `${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
    clock: () => new Date(),
  };
}

/**
 * Waits a moment for Redis at start, so the first requests find it ready; without it the process
 * starts anyway, degraded, and says so.
 */
export async function awaitRedis(infra: Infra, ms = 3000): Promise<void> {
  if (!(await redisReady(infra.redis, ms))) infra.log.warn('Redis does not answer yet: starting degraded (commands are stored and delivered once it is back)');
}

export async function closeInfra(infra: Infra): Promise<void> {
  await infra.queues.close().catch(() => undefined);
  infra.subscriber.disconnect();
  (infra.queueConnection as Redis).disconnect();
  infra.redis.disconnect();
  await infra.database.close();
}
