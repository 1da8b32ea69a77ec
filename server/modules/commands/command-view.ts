import type { CommandRow } from './commands.repository';
import type { CommandView } from './commands.schemas';

/** A command as the API shows it: the stored row without the rendered payload or the raw result. */
export function toView(row: CommandRow): CommandView {
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    id: row.id,
    deviceId: row.deviceId,
    kind: row.kind,
    params: row.params,
    status: row.status,
    origin: row.origin,
    issuedBy: row.issuedBy,
    batchId: row.batchId,
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    sentAt: iso(row.sentAt),
    acknowledgedAt: iso(row.acknowledgedAt),
    completedAt: iso(row.completedAt),
    result: row.result,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage } : null,
  };
}
