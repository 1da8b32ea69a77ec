import { Redis, type RedisOptions } from 'ioredis';

/**
 * How each Redis connection behaves when Redis is away:
 * - `request`: the paths that answer people and devices. Nothing waits for Redis: with no
 *   connection a command fails at once (no offline queue), and a slow one fails after a second;
 *   callers degrade (PostgreSQL holds everything that must not be lost).
 * - `producer`: BullMQ's producer, which fails fast like requests and sends its own scripts.
 * - `subscriber`: pub/sub listening, which resubscribes by itself after a reconnection.
 * - `worker`: BullMQ workers, which must wait for Redis rather than fail (BullMQ requires it).
 */
const FAIL_FAST: RedisOptions = { maxRetriesPerRequest: 1, enableOfflineQueue: false, commandTimeout: 1000 };
const PROFILES: Record<'request' | 'producer' | 'subscriber' | 'worker', RedisOptions> = {
  // The commands of the requests handled in one turn of the event loop go in one write, and wait
  // for the previous write's replies (which on one connection they would do anyway): a burst of
  // device messages costs Redis and this process a few round trips, not one each.
  request: { ...FAIL_FAST, enableAutoPipelining: true },
  producer: FAIL_FAST,
  subscriber: { maxRetriesPerRequest: null, autoResubscribe: true },
  worker: { maxRetriesPerRequest: null },
};

export function createRedis(url: string, profile: keyof typeof PROFILES): Redis {
  const redis = new Redis(url, {
    enableReadyCheck: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    ...PROFILES[profile],
  });
  // Connection errors are reported by /readyz and `doctor`; an unhandled error event would crash the process.
  redis.on('error', () => undefined);
  return redis;
}

/** Waits until the connection is ready, at most `ms`; false when Redis did not answer in time. */
export function redisReady(redis: Redis, ms: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(false), ms);
    const onReady = () => done(true);
    function done(ready: boolean) {
      clearTimeout(timer);
      redis.off('ready', onReady);
      resolve(ready);
    }
    redis.on('ready', onReady);
  });
}
