import type { CommandRow } from './commands.repository';
import type { CommandView } from './commands.schemas';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

function lateView(late: Record<string, unknown> | null): CommandView['lateResult'] {
  if (!late) return null;
  const error = late.error as { code: string; message: string | null } | null;
  return { status: String(late.status), result: (late.result as Record<string, unknown> | null) ?? null, error: error ?? null, receivedAt: String(late.at) };
}

/**
 * A command as the API shows it: never the raw message (kept for diagnosis) and never a position,
 * which the result does not hold: a locate result names the stored fix, read through the audited
 * location route.
 */
export function toView(row: CommandRow): CommandView {
  return {
    id: row.id,
    deviceId: row.deviceId,
    kind: row.kind,
    params: row.params,
    status: row.status,
    origin: row.origin,
    issuedBy: row.issuedBy,
    batchId: row.batchId,
    campaignId: row.campaignId,
    attempts: row.attempts,
    createdAt: row.createdAt.toISOString(),
    expiresAt: row.expiresAt.toISOString(),
    sentAt: iso(row.sentAt),
    acknowledgedAt: iso(row.acknowledgedAt),
    completedAt: iso(row.completedAt),
    result: row.result,
    error: row.errorCode ? { code: row.errorCode, message: row.errorMessage } : null,
    lateResult: lateView(row.lateResult),
  };
}
