import { randomUUID } from 'node:crypto';
import { and, eq, sql } from 'drizzle-orm';
import { pgArray, statementName, type Db, type DbOrTx } from '../../infra/db/client';
import { devices } from '../../infra/db/schema';
import type { ReportRequest } from '../../domain/platform-ports';

/**
 * Raises the highest sequence number of many devices in one statement; returns, per item, the
 * highest one before it (null: none yet). Items of one device see those before them in the list.
 */
export async function recordSeqs(db: DbOrTx, items: readonly { deviceId: string; seq: number }[]): Promise<(number | null)[]> {
  const top = new Map<string, number>();
  for (const { deviceId, seq } of items) top.set(deviceId, Math.max(top.get(deviceId) ?? 0, seq));
  // In id order, so that two concurrent batches never wait on each other's rows in a cycle. The
  // row lock of the upsert makes each raise see the one before it, whatever runs concurrently.
  const ids = [...top.keys()].sort();
  const result = await db.execute<{ id: string; previous: string | null }>(sql`
    insert into device_sequences as s (device_id, max_seq)
    select p.id, p.seq from unnest(${pgArray(ids)}::uuid[], ${pgArray(ids.map((id) => String(top.get(id))))}::bigint[]) as p(id, seq)
    where exists (select 1 from devices d where d.id = p.id)
    on conflict (device_id) do update set previous_max_seq = s.max_seq, max_seq = greatest(s.max_seq, excluded.max_seq)
    returning s.device_id as id, s.previous_max_seq as previous`);
  const stored = new Map(result.rows.map((r) => [r.id, r.previous === null ? null : Number(r.previous)]));
  const seen = new Map<string, number | null>();
  return items.map(({ deviceId, seq }) => {
    const before = seen.has(deviceId) ? seen.get(deviceId)! : (stored.get(deviceId) ?? null);
    seen.set(deviceId, Math.max(before ?? 0, seq));
    return before;
  });
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

/** Read at every new session, so planned once per connection. */
export function pendingReportRequestStatement(db: Db): (deviceId: string) => Promise<ReportRequest | null> {
  const query = db.select({ request: devices.reportRequest }).from(devices).where(eq(devices.id, sql.placeholder('deviceId')));
  const statement = query.prepare(statementName('pending_report_request', query.toSQL()));
  return async (deviceId) => {
    const [row] = await statement.execute({ deviceId });
    return row?.request ?? null;
  };
}

export async function reportRequestAcked(db: DbOrTx, deviceId: string, id: string): Promise<void> {
  await db
    .update(devices)
    .set({ reportRequest: null })
    .where(and(eq(devices.id, deviceId), sql`${devices.reportRequest} ->> 'id' = ${id}`));
}
