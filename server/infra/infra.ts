import type { ConnectionOptions } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Config } from '../config';
import { createDatabase, type Database } from './db/client';
import { createLogger, type Logger } from './logger';
import { createMetrics, type Metrics } from './metrics';
import { Queues } from './queues/registry';
import { createRedis } from './redis';
import { createSecretBox, type SecretBox } from './secrets';

/** Connections and process-wide plumbing, created once per process and shared by every role. */
export interface Infra {
  config: Config;
  log: Logger;
  database: Database;
  redis: Redis;
  /** A second connection: a subscribed Redis connection cannot issue other commands. */
  subscriber: Redis;
  queues: Queues;
  queueConnection: ConnectionOptions;
  metrics: Metrics;
  secrets: SecretBox;
  /** Identifies this process in presence records and nudges. */
  nodeId: string;
}

export function createInfra(config: Config, log: Logger = createLogger(config.LOG_LEVEL)): Infra {
  const redis = createRedis(config.REDIS_URL);
  const queueConnection = redis.duplicate();
  queueConnection.on('error', () => undefined);
  const secrets = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR);
  const metrics = createMetrics();
  return {
    config,
    log,
    database: createDatabase(config.DATABASE_URL, config.DB_POOL_SIZE, { auditKey: secrets.auditKey, observeAuditLock: (s) => metrics.auditChainLock.observe(s) }),
    redis,
    subscriber: createRedis(config.REDIS_URL),
    queues: new Queues({ connection: queueConnection, prefix: config.REDIS_PREFIX }),
    queueConnection,
    metrics,
    secrets,
    nodeId: `${process.pid}-${Math.random().toString(36).slice(2, 10)}`,
  };
}

export async function closeInfra(infra: Infra): Promise<void> {
  await infra.queues.close().catch(() => undefined);
  infra.subscriber.disconnect();
  (infra.queueConnection as Redis).disconnect();
  await infra.redis.quit().catch(() => infra.redis.disconnect());
  await infra.database.close();
}
