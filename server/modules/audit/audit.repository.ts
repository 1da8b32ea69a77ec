import { and, asc, desc, eq, gt, gte, isNull, like, lt, or } from 'drizzle-orm';
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

export interface AuditFilter {
  organisationId: string;
  from?: Date;
  to?: Date;
  action?: string;
  actorId?: string;
  targetType?: string;
  targetId?: string;
  schoolId?: string;
  outcome?: 'success' | 'denied' | 'failure';
}

/**
 * One page of the trail in id order. Events without an organisation (sign-in attempts on unknown
 * accounts) are shown to every organisation's auditors.
 */
export function listAuditEvents(db: DbOrTx, filter: AuditFilter, afterId: number, limit: number): Promise<AuditRow[]> {
  const action = filter.action?.endsWith('*') ? like(auditEvents.action, `${filter.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`) : filter.action ? eq(auditEvents.action, filter.action) : undefined;
  return db
    .select()
    .from(auditEvents)
    .where(
      and(
        or(eq(auditEvents.organisationId, filter.organisationId), isNull(auditEvents.organisationId)),
        gt(auditEvents.id, afterId),
        filter.from ? gte(auditEvents.occurredAt, filter.from) : undefined,
        filter.to ? lt(auditEvents.occurredAt, filter.to) : undefined,
        action,
        filter.actorId ? eq(auditEvents.actorId, filter.actorId) : undefined,
        filter.targetType ? eq(auditEvents.targetType, filter.targetType) : undefined,
        filter.targetId ? eq(auditEvents.targetId, filter.targetId) : undefined,
        filter.schoolId ? eq(auditEvents.schoolId, filter.schoolId) : undefined,
        filter.outcome ? eq(auditEvents.outcome, filter.outcome) : undefined,
      ),
    )
    .orderBy(asc(auditEvents.id))
    .limit(limit);
}
