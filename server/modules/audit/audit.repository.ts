import { asc, desc, gt } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { auditEvents } from '../../infra/db/schema';
import { GENESIS_HASH, chainHash, type HashedFields } from './audit.hash';

const CHAIN_LOCK = 'cartable.audit_chain';

export type AuditRow = typeof auditEvents.$inferSelect;

/**
 * Appends one event inside the caller's transaction. The transaction-scoped advisory lock
 * serialises writers so each event links to the one committed just before it.
 */
export async function appendAuditEvent(tx: DbOrTx, fields: HashedFields): Promise<void> {
  await tx.execute(`select pg_advisory_xact_lock(hashtext('${CHAIN_LOCK}'))`);
  const [last] = await tx.select({ hash: auditEvents.hash }).from(auditEvents).orderBy(desc(auditEvents.id)).limit(1);
  const prevHash = last?.hash ?? GENESIS_HASH;
  await tx.insert(auditEvents).values({ ...fields, prevHash, hash: chainHash(prevHash, fields) });
}

/** Reads the chain in id order, a page at a time, for verification. */
export function readAuditPage(db: DbOrTx, afterId: number, limit: number): Promise<AuditRow[]> {
  return db.select().from(auditEvents).where(gt(auditEvents.id, afterId)).orderBy(asc(auditEvents.id)).limit(limit);
}
