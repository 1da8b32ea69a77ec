import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { devices } from '../../infra/db/schema';
import type { ReportRequest } from '../../domain/platform-ports';

/** Raises the device's highest sequence number; returns the one before (null: none yet). */
export async function recordSeq(db: DbOrTx, deviceId: string, seq: number): Promise<number | null> {
  const result = await db.execute<{ previous: string | null }>(sql`
    update devices d set agent_max_seq = greatest(coalesce(d.agent_max_seq, 0), ${seq})
    from (select agent_max_seq from devices where id = ${deviceId} for update) old
    where d.id = ${deviceId}
    returning old.agent_max_seq as previous`);
  const previous = result.rows[0]?.previous;
  return previous === null || previous === undefined ? null : Number(previous);
}

/** Messages lost for good: kept with the device, for administrators. */
export async function recordGap(db: DbOrTx, deviceId: string, gap: { from: number; to: number }): Promise<void> {
  const value = JSON.stringify({ ...gap, at: new Date().toISOString() });
  await db
    .update(devices)
    .set({ facts: sql`${devices.facts} || jsonb_build_object('sequenceGap', ${value}::jsonb)` })
    .where(eq(devices.id, deviceId));
}

/** A request for fresh reports, to a device that announced it understands one; null otherwise. */
export async function requestReports(db: DbOrTx, deviceId: string, kinds: string[], reason: string): Promise<ReportRequest | null> {
  const request: ReportRequest = { id: randomUUID(), kinds, reason };
  const rows = await db
    .update(devices)
    .set({ reportRequest: request })
    .where(and(eq(devices.id, deviceId), sql`'report_request' = any(${devices.capabilities})`))
    .returning({ id: devices.id });
  return rows.length > 0 ? request : null;
}

export async function pendingReportRequest(db: DbOrTx, deviceId: string): Promise<ReportRequest | null> {
  const [row] = await db.select({ request: devices.reportRequest }).from(devices).where(eq(devices.id, deviceId));
  return row?.request ?? null;
}

export async function reportRequestAcked(db: DbOrTx, deviceId: string, id: string): Promise<void> {
  await db
    .update(devices)
    .set({ reportRequest: null })
    .where(and(eq(devices.id, deviceId), sql`${devices.reportRequest} ->> 'id' = ${id}`));
}
