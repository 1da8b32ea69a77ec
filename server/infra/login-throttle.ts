import type { Redis } from 'ioredis';

/**
 * Failed sign-ins per account, shared by every process, kept in Redis with the lock window as
 * their lifetime: they lock an account that does not exist (or has no password) as a real one
 * would be, so the answers do not tell which accounts exist. With Redis unreachable they count
 * nothing and refuse nothing; the lockout of real accounts, kept in PostgreSQL, still applies.
 */
export class LoginThrottle {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly windowSec: number,
  ) {}

  private key(account: string): string {
    return `${this.prefix}:login:account:${account}`;
  }

  /** Seconds to wait when `account` reached `limit` failures in the window; 0 otherwise. */
  async wait(account: string, limit: number): Promise<number> {
    try {
      const key = this.key(account);
      const [count, ttl] = await Promise.all([this.redis.get(key), this.redis.ttl(key)]);
      return Number(count ?? 0) >= limit ? Math.max(ttl, 1) : 0;
    } catch {
      return 0;
    }
  }

  async fail(account: string): Promise<void> {
    const key = this.key(account);
    await this.redis
      .multi()
      .incr(key)
      .expire(key, this.windowSec, 'NX')
      .exec()
      .catch(() => undefined);
  }

  async clear(account: string): Promise<void> {
    await this.redis.del(this.key(account)).catch(() => undefined);
  }
}
