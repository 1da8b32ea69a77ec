import type { Redis } from 'ioredis';
import type { Pool } from 'pg';

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e instanceof Error ? e : new Error(String(e)))),
    );
  });
}

export async function checkPostgres(pool: Pool): Promise<void> {
  await withTimeout(pool.query('select 1'), 2000, 'PostgreSQL');
}

export async function checkRedis(redis: Redis): Promise<void> {
  // A disconnected ioredis client queues commands instead of failing them: answer at once instead.
  if (redis.status !== 'ready') throw new Error(`Redis is unreachable (connection ${redis.status})`);
  await withTimeout(redis.ping(), 1000, 'Redis');
}
