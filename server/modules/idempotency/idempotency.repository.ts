import { and, eq, lt, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { idempotencyKeys } from '../../infra/db/schema';

export type IdempotencyRow = typeof idempotencyKeys.$inferSelect;

/** Takes the key for a request; null when the caller already used it. */
export async function claim(db: DbOrTx, owner: string, key: string, requestHash: string, ttlSec: number): Promise<boolean> {
  const rows = await db
    .insert(idempotencyKeys)
    .values({ owner, key, requestHash, expiresAt: sql`now() + make_interval(secs => ${ttlSec})` })
    .onConflictDoNothing({ target: [idempotencyKeys.owner, idempotencyKeys.key] })
    .returning({ id: idempotencyKeys.id });
  return rows.length === 1;
}

export async function find(db: DbOrTx, owner: string, key: string): Promise<IdempotencyRow | undefined> {
  const [row] = await db.select().from(idempotencyKeys).where(and(eq(idempotencyKeys.owner, owner), eq(idempotencyKeys.key, key)));
  return row;
}

/** A claim left pending for `staleSec` (its process died mid-request) passes to a retry of the same request. */
export async function takeOverStale(db: DbOrTx, owner: string, key: string, requestHash: string, staleSec: number): Promise<boolean> {
  const rows = await db
    .update(idempotencyKeys)
    .set({ createdAt: sql`now()` })
    .where(
      and(
        eq(idempotencyKeys.owner, owner),
        eq(idempotencyKeys.key, key),
        eq(idempotencyKeys.state, 'pending'),
        eq(idempotencyKeys.requestHash, requestHash),
        lt(idempotencyKeys.createdAt, sql`now() - make_interval(secs => ${staleSec})`),
      ),
    )
    .returning({ id: idempotencyKeys.id });
  return rows.length === 1;
}

export async function complete(db: DbOrTx, owner: string, key: string, answer: { statusCode: number; contentType: string | null; responseSealed: string }): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ state: 'done', ...answer })
    .where(and(eq(idempotencyKeys.owner, owner), eq(idempotencyKeys.key, key)));
}

export async function release(db: DbOrTx, owner: string, key: string): Promise<void> {
  await db.delete(idempotencyKeys).where(and(eq(idempotencyKeys.owner, owner), eq(idempotencyKeys.key, key), eq(idempotencyKeys.state, 'pending')));
}

export async function purgeExpired(db: DbOrTx): Promise<number> {
  const rows = await db.delete(idempotencyKeys).where(lt(idempotencyKeys.expiresAt, sql`now()`)).returning({ id: idempotencyKeys.id });
  return rows.length;
}
