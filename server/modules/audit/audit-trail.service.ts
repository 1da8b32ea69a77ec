import { csvField } from '../../infra/csv';
import type { Db } from '../../infra/db/client';
import { InvalidInputError } from '../../domain/errors';
import type { Actor } from '../access/principal';
import { listAuditEvents, type AuditFilter, type AuditRow } from './audit.repository';
import { recordAudit } from './audit.service';

export type { AuditFilter };

export interface AuditEventView {
  id: number;
  occurredAt: string;
  actorType: AuditRow['actorType'];
  actorId: string | null;
  actorLabel: string | null;
  role: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  schoolId: string | null;
  communeId: string | null;
  sourceIp: string | null;
  outcome: AuditRow['outcome'];
  details: Record<string, unknown>;
  seq: number | null;
  erased: boolean;
  hash: string;
}

/** Exports stop here; narrow the period to export more. */
export const EXPORT_MAX_ROWS = 200_000;
const PAGE = 5000;

const view = (r: AuditRow): AuditEventView => ({
  id: r.id,
  occurredAt: r.occurredAt.toISOString(),
  actorType: r.actorType,
  actorId: r.actorId,
  actorLabel: r.actorLabel,
  role: r.role,
  action: r.action,
  targetType: r.targetType,
  targetId: r.targetId,
  schoolId: r.schoolId,
  communeId: r.communeId,
  sourceIp: r.sourceIp,
  outcome: r.outcome,
  details: r.details,
  seq: r.seq,
  erased: r.erasedAt !== null,
  hash: r.hash,
});

const COLUMNS = ['id', 'occurredAt', 'actorType', 'actorId', 'actorLabel', 'role', 'action', 'targetType', 'targetId', 'schoolId', 'communeId', 'sourceIp', 'outcome', 'details', 'seq', 'erased', 'hash'] as const;

/** Reading and exporting the trail; there is deliberately no way to change or delete an event. */
export function createAuditTrailService(deps: { db: Db }) {
  const { db } = deps;

  async function list(filter: AuditFilter, page: { after: number; limit: number }): Promise<{ items: AuditEventView[]; next: number | null }> {
    if (filter.from && filter.to && filter.from >= filter.to) throw new InvalidInputError('"from" must be before "to"', 'invalid_period');
    const rows = await listAuditEvents(db, filter, page.after, page.limit + 1);
    const items = rows.slice(0, page.limit).map(view);
    return { items, next: rows.length > page.limit ? items[items.length - 1]!.id : null };
  }

  /** The export is itself an audited event, written in the same transaction as the read. */
  async function exportCsv(filter: AuditFilter, actor: Actor): Promise<{ csv: string; rows: number; truncated: boolean }> {
    return db.transaction(async (tx) => {
      const lines = [COLUMNS.join(',')];
      let after = 0;
      let truncated = false;
      for (;;) {
        const rows = await listAuditEvents(tx, filter, after, PAGE);
        for (const r of rows) {
          if (lines.length > EXPORT_MAX_ROWS) {
            truncated = true;
            break;
          }
          const v = view(r);
          lines.push(COLUMNS.map((c) => csvField(v[c])).join(','));
        }
        if (truncated || rows.length < PAGE) break;
        after = rows[rows.length - 1]!.id;
      }
      const { organisationId, ...filters } = filter;
      await recordAudit(tx, { organisationId, actor, action: 'audit.export', outcome: 'success', details: { filters: JSON.parse(JSON.stringify(filters)), rows: lines.length - 1, truncated } });
      return { csv: `${lines.join('\r\n')}\r\n`, rows: lines.length - 1, truncated };
    });
  }

  return { list, exportCsv };
}

export type AuditTrailService = ReturnType<typeof createAuditTrailService>;
