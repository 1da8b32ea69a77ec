import { and, arrayContains, asc, desc, eq, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { webhookDeliveries, webhookEndpoints } from '../../infra/db/schema';

export type EndpointRow = typeof webhookEndpoints.$inferSelect;
export type DeliveryRow = typeof webhookDeliveries.$inferSelect;

export async function insertEndpoint(db: DbOrTx, row: typeof webhookEndpoints.$inferInsert): Promise<EndpointRow> {
  const [created] = await db.insert(webhookEndpoints).values(row).returning();
  return created!;
}

export function endpointsOf(db: DbOrTx, organisationId: string): Promise<EndpointRow[]> {
  return db.select().from(webhookEndpoints).where(eq(webhookEndpoints.organisationId, organisationId)).orderBy(asc(webhookEndpoints.createdAt));
}

export async function endpoint(db: DbOrTx, organisationId: string, id: string): Promise<EndpointRow | undefined> {
  const [row] = await db
    .select()
    .from(webhookEndpoints)
    .where(and(eq(webhookEndpoints.organisationId, organisationId), eq(webhookEndpoints.id, id)));
  return row;
}

export async function deleteEndpoint(db: DbOrTx, organisationId: string, id: string): Promise<boolean> {
  const gone = await db
    .delete(webhookEndpoints)
    .where(and(eq(webhookEndpoints.organisationId, organisationId), eq(webhookEndpoints.id, id)))
    .returning({ id: webhookEndpoints.id });
  return gone.length > 0;
}

/** Enabled endpoints that take this event type (an empty list takes every type). */
export function subscribers(db: DbOrTx, organisationId: string, eventType: string): Promise<EndpointRow[]> {
  return db
    .select()
    .from(webhookEndpoints)
    .where(
      and(
        eq(webhookEndpoints.organisationId, organisationId),
        eq(webhookEndpoints.enabled, true),
        or(sql`cardinality(${webhookEndpoints.events}) = 0`, arrayContains(webhookEndpoints.events, [eventType])),
      ),
    );
}

/** New deliveries; an event already recorded for an endpoint is not recorded again. Returns the ids to send. */
export async function insertDeliveries(db: DbOrTx, rows: (typeof webhookDeliveries.$inferInsert)[]): Promise<string[]> {
  if (!rows.length) return [];
  const inserted = await db.insert(webhookDeliveries).values(rows).onConflictDoNothing().returning({ id: webhookDeliveries.id });
  return inserted.map((r) => r.id);
}

/** A delivery with its endpoint, for sending. */
export async function deliveryToSend(db: DbOrTx, id: string): Promise<{ delivery: DeliveryRow; endpoint: EndpointRow } | undefined> {
  const [row] = await db
    .select({ delivery: webhookDeliveries, endpoint: webhookEndpoints })
    .from(webhookDeliveries)
    .innerJoin(webhookEndpoints, eq(webhookEndpoints.id, webhookDeliveries.endpointId))
    .where(eq(webhookDeliveries.id, id));
  return row;
}

export async function recordAttempt(
  db: DbOrTx,
  id: string,
  outcome: { state: DeliveryRow['state']; status: number | null; error: string | null; at: Date },
): Promise<void> {
  await db
    .update(webhookDeliveries)
    .set({
      state: outcome.state,
      attempts: sql`${webhookDeliveries.attempts} + 1`,
      lastStatus: outcome.status,
      lastError: outcome.error,
      lastAttemptAt: outcome.at,
      deliveredAt: outcome.state === 'delivered' ? outcome.at : null,
    })
    .where(and(eq(webhookDeliveries.id, id), eq(webhookDeliveries.state, 'pending')));
}

export function deliveriesOf(db: DbOrTx, organisationId: string, endpointId: string, limit: number): Promise<DeliveryRow[]> {
  return db
    .select()
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.organisationId, organisationId), eq(webhookDeliveries.endpointId, endpointId)))
    .orderBy(desc(webhookDeliveries.createdAt))
    .limit(limit);
}

/** Pending deliveries created before `before`, oldest first: the ones whose job may have vanished. */
export async function pendingBefore(db: DbOrTx, before: Date, limit: number): Promise<string[]> {
  const rows = await db
    .select({ id: webhookDeliveries.id })
    .from(webhookDeliveries)
    .where(and(eq(webhookDeliveries.state, 'pending'), lt(webhookDeliveries.createdAt, before)))
    .orderBy(asc(webhookDeliveries.createdAt))
    .limit(limit);
  return rows.map((r) => r.id);
}
