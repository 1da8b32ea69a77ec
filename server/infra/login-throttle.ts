import type { Redis } from 'ioredis';

/**
 * Failed sign-in counters shared by every process (per source address and per account), kept in
 * Redis with the lock window as their lifetime. They only slow guessing down: with Redis
 * unreachable they count nothing and refuse nothing, and the account lockout kept in
 * PostgreSQL still applies, so people can sign in.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly windowSec: number,
  ) {}

  private key(kind: 'ip' | 'account', id: string): string {
    return `${this.prefix}:login:${kind}:${id}`;
  }

  /** Seconds to wait when `id` reached `limit` failures in the window; 0 otherwise. */
  async wait(kind: 'ip' | 'account', id: string, limit: number): Promise<number> {
    try {
      const key = this.key(kind, id);
      const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
      return Number(count ?? 0) >= limit ? Math.max(ttl, 1) : 0;
    } catch {
      return 0;
    }
  }

  async fail(kind: 'ip' | 'account', id: string): Promise<void> {
    const key = this.key(kind, id);
    await this.redis
      .multi()
      .incr(key)
      .expire(key, this.windowSec, 'NX')
      .exec()
      .catch(() => undefined);
  }

  async clear(kind: 'ip' | 'account', id: string): Promise<void> {
    await this.redis.del(this.key(kind, id)).catch(() => undefined);
  }
}
