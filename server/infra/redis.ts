import { Redis, type RedisOptions } from 'ioredis';

/**
 * BullMQ needs `maxRetriesPerRequest: null` on connections used by workers; the same settings
 * are fine for everything else, and keep a dropped Redis from failing calls that can wait.
 */
export function createRedis(url: string, options: RedisOptions = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    lazyConnect: false,
    ...options,
  });
  // Connection errors are reported by /readyz and `doctor`; an unhandled error event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}
