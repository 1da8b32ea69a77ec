import type { DbOrTx } from '../../infra/db/client';
import { GENESIS_HASH, chainHash } from './audit.hash';
import { appendAuditEvent, readAuditPage, type AuditRow } from './audit.repository';
import type { AuditEntry } from './audit.types';

export type { AuditEntry };

/** Records an audit event in the same transaction as the change it describes. */
export function recordAudit(tx: DbOrTx, entry: AuditEntry): Promise<void> {
  return appendAuditEvent(tx, {
    organisationId: entry.organisationId,
    occurredAt: new Date(),
    actorType: entry.actor.type,
    actorId: entry.actor.id,
    actorLabel: entry.actor.label,
    role: entry.actor.role,
    action: entry.action,
    targetType: entry.target?.type ?? null,
    targetId: entry.target?.id ?? null,
    schoolId: entry.schoolId ?? null,
    communeId: entry.communeId ?? null,
    sourceIp: entry.actor.ip,
    outcome: entry.outcome,
    details: entry.details ?? {},
  });
}

export type ChainVerdict = { ok: true; checked: number } | { ok: false; checked: number; brokenAt: number; reason: string };

function recompute(row: AuditRow): string {
  const { id: _id, prevHash, hash: _hash, ...fields } = row;
  return chainHash(prevHash, fields);
}

/** Walks the whole chain and names the first row whose content or link does not match. */
export async function verifyAuditChain(db: DbOrTx, pageSize = 5000): Promise<ChainVerdict> {
  let expectedPrev = GENESIS_HASH;
  let afterId = 0;
  let checked = 0;
  for (;;) {
    const rows = await readAuditPage(db, afterId, pageSize);
    if (rows.length === 0) return { ok: true, checked };
    for (const row of rows) {
      if (row.prevHash !== expectedPrev) return { ok: false, checked, brokenAt: row.id, reason: 'link to the previous event does not match (an event was removed or reordered)' };
      if (recompute(row) !== row.hash) return { ok: false, checked, brokenAt: row.id, reason: 'content does not match its hash (the event was modified)' };
      expectedPrev = row.hash;
      afterId = row.id;
      checked++;
    }
  }
}
