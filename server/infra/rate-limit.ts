import type { Redis } from 'ioredis';
import { RateLimitedError } from '../domain/errors';

/**
 * Fixed-window counters in Redis, shared by every process. If Redis is unreachable the request
 * is let through: refusing every device because the limiter is down would be worse.
 */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  /** Counts one hit; throws a 429 once `limit` hits were counted in the current window. */
  async hit(name: string, key: string, limit: number, windowSec: number): Promise<void> {
    if (limit <= 0 || this.redis.status !== 'ready') return;
    const window = Math.floor(Date.now() / 1000 / windowSec);
    const redisKey = `${this.prefix}:ratelimit:${name}:${key}:${window}`;
    const result = await this.redis.multi().incr(redisKey).expire(redisKey, windowSec * 2).exec().catch(() => null);
    const count = Number(result?.[0]?.[1] ?? 0);
    if (count > limit) {
      const retryAfterSec = Math.max(1, (window + 1) * windowSec - Math.floor(Date.now() / 1000));
      throw new RateLimitedError(`Too many ${name} requests from this address; retry in ${retryAfterSec} s`, retryAfterSec);
    }
  }
}
