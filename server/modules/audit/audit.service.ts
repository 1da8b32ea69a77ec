import { performance } from 'node:perf_hooks';
import { commitHooks, databaseOptionsOf, type Db, type DbOrTx } from '../../infra/db/client';
import { chainIdOf, eventMac, newSalt, personalDigest, type PersonalFields, type SealedFields } from './audit.mac';
import { appendToChain, lockChainHead } from './audit.repository';
import type { AuditEntry } from './audit.types';

export type { AuditEntry };

/** An event waiting for its place in its chain: everything its MAC covers but the place. */
type PendingEvent = Omit<SealedFields, 'seq' | 'prevHash' | 'actorType' | 'outcome'> &
  PersonalFields & { actorType: AuditEntry['actor']['type']; outcome: AuditEntry['outcome']; personalSalt: string };

const APPEND_BATCH = 1000;

/** Events recorded in each open transaction, appended to their chains just before it commits. */
const pending = new WeakMap<object, PendingEvent[]>();

function toEvent(entry: AuditEntry): PendingEvent {
  const personal = { actorLabel: entry.actor.label, sourceIp: entry.actor.ip, details: entry.details ?? {} };
  const salt = newSalt();
  return {
    organisationId: entry.organisationId,
    chainId: chainIdOf(entry.organisationId),
    occurredAt: new Date(),
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    role: entry.actor.role,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    schoolId: entry.schoolId ?? null,
    communeId: entry.communeId ?? null,
    outcome: entry.outcome,
    ...personal,
    personalSalt: salt,
    personalDigest: personalDigest(salt, personal),
  };
}

/**
 * Appends the transaction's events to their chains. Runs right before COMMIT, so a chain's lock
 * is held for two statements and the commit, not for the caller's whole transaction. Chains are
 * locked in id order, so two transactions writing to the same chains cannot deadlock.
 */
async function appendPending(tx: DbOrTx, key: Buffer): Promise<void> {
  const events = pending.get(tx) ?? [];
  pending.delete(tx);
  const byChain = new Map<string, PendingEvent[]>();
  for (const e of events) {
    const list = byChain.get(e.chainId);
    if (list) list.push(e);
    else byChain.set(e.chainId, [e]);
  }
  const observe = databaseOptionsOf(tx)?.observeAuditLock;
  for (const chainId of [...byChain.keys()].sort()) {
    const list = byChain.get(chainId)!;
    let head = await lockChainHead(tx, chainId, list[0]!.organisationId);
    const lockedAt = performance.now();
    const rows = list.map((e) => {
      const seq = head.seq + 1;
      const hash = eventMac(key, { ...e, seq, prevHash: head.hash });
      const row = { ...e, seq, prevHash: head.hash, hash };
      head = { seq, hash };
      return row;
    });
    // Bounded statements: PostgreSQL takes at most 65,535 parameters in one.
    for (let i = 0; i < rows.length; i += APPEND_BATCH) {
      const batch = rows.slice(i, i + APPEND_BATCH);
      await appendToChain(tx, chainId, batch, batch.at(-1)!);
    }
    if (observe) commitHooks(tx)!.afterCommit(() => observe((performance.now() - lockedAt) / 1000));
  }
}

/**
 * Records an audit event in the same transaction as the change it describes. The event is
 * appended to its organisation's chain when the transaction commits, and vanishes with it if it
 * rolls back. Called with the database handle itself, it writes in a transaction of its own.
 */
export async function recordAudit(tx: DbOrTx, entry: AuditEntry): Promise<void> {
  const key = databaseOptionsOf(tx)?.auditKey;
  if (!key) throw new Error('cannot write to the audit trail: this database handle was opened without the audit key (createDatabase(url, size, { auditKey }))');
  const hooks = commitHooks(tx);
  if (!hooks) return (tx as Db).transaction((own) => recordAudit(own, entry));
  const queue = pending.get(tx);
  if (queue) queue.push(toEvent(entry));
  else {
    pending.set(tx, [toEvent(entry)]);
    hooks.beforeCommit(() => appendPending(tx, key));
  }
}
