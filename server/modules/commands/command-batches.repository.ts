import { and, eq, sql, type SQL } from 'drizzle-orm';
import { pgArray, type DbOrTx } from '../../infra/db/client';
import { commandBatches } from '../../infra/db/schema';
import { withinSchools } from '../access/scope.repository';
import type { DeviceChannel, Platform } from '../../domain/devices';
import { heldBackFromOutdatedAgent } from './command-queue.repository';

export type BatchRow = typeof commandBatches.$inferSelect;
export type NewBatchRow = typeof commandBatches.$inferInsert;

/** Which platforms (and channels) can take a kind, and the capability a device of each must have announced. */
export type Eligibility = { platform: Platform; channel: DeviceChannel | null; capability: string | null }[];

/** The SQL condition a device (aliased `alias`) meets when one of the rules lets it take the kind. */
export function eligibleDevices(rules: Eligibility, alias: string): SQL {
  const d = sql.raw(alias);
  const each = rules.map((r) => {
    const route = sql`${d}.platform = ${r.platform} and ${d}.channel is not distinct from ${r.channel}::text`;
    return r.capability === null ? sql`(${route})` : sql`(${route} and (${d}.capabilities is null or ${r.capability} = any(${d}.capabilities)))`;
  });
  return each.length ? sql`(${sql.join(each, sql` or `)})` : sql`false`;
}

export async function insertBatch(tx: DbOrTx, row: NewBatchRow): Promise<BatchRow> {
  const [created] = await tx.insert(commandBatches).values(row).returning();
  return created!;
}

export async function findBatch(db: DbOrTx, organisationId: string, id: string): Promise<BatchRow | null> {
  const [row] = await db.select().from(commandBatches).where(and(eq(commandBatches.id, id), eq(commandBatches.organisationId, organisationId)));
  return row ?? null;
}

/** The batch, locked for one chunk; null when another process holds it or it is done. */
export async function lockPendingBatch(tx: DbOrTx, id: string): Promise<BatchRow | null> {
  const [row] = await tx
    .select()
    .from(commandBatches)
    .where(and(eq(commandBatches.id, id), eq(commandBatches.status, 'pending')))
    .for('update', { skipLocked: true });
  return row ?? null;
}

export async function pendingBatchIds(db: DbOrTx, limit: number): Promise<string[]> {
  const rows = await db.select({ id: commandBatches.id }).from(commandBatches).where(eq(commandBatches.status, 'pending')).orderBy(commandBatches.createdAt).limit(limit);
  return rows.map((r) => r.id);
}

function eligible(batch: BatchRow, rules: Eligibility, minAgentVersionCode: number | null): SQL {
  const target = batch.target;
  return sql.join(
    [
      sql`d.organisation_id = ${batch.organisationId}`,
      sql`d.status = 'active'`,
      sql`d.enrolled_at <= ${batch.createdAt}`,
      withinSchools(sql`d.school_id`, batch.scopeSchoolIds),
      target.schoolId ? sql`d.school_id = ${target.schoolId}` : sql`true`,
      target.groupId ? sql`d.group_id = ${target.groupId}` : sql`true`,
      target.deviceIds ? sql`d.id = any(${pgArray(target.deviceIds)}::uuid[])` : sql`true`,
      eligibleDevices(rules, 'd'),
      sql`not ${heldBackFromOutdatedAgent(minAgentVersionCode, sql`${batch.kind}::text`, sql`${packageOf(batch.params)}::text`)}`,
    ],
    sql` and `,
  );
}

const packageOf = (params: Record<string, unknown>) => (typeof params.packageName === 'string' ? params.packageName : null);

/**
 * The next chunk of a batch in one set-based statement: the eligible devices after the cursor, in
 * id order, each get their command with an id derived from (batch, device), so a chunk replayed
 * after a crash inserts nothing twice. The cursor and counts move in the same transaction.
 */
export async function insertBatchChunk(tx: DbOrTx, batch: BatchRow, rules: Eligibility, size: number, minAgentVersionCode: number | null): Promise<{ devices: { id: string; platform: Platform; channel: DeviceChannel | null }[]; inserted: number; done: boolean }> {
  const result = await tx.execute<{ id: string; platform: Platform; channel: DeviceChannel | null; inserted: number }>(sql`
    with picked as (
      select d.id, d.platform, d.channel from devices d
      where ${eligible(batch, rules, minAgentVersionCode)} and (${batch.cursor}::uuid is null or d.id > ${batch.cursor}::uuid)
      order by d.id limit ${size}
    ), ins as (
      insert into commands (id, organisation_id, device_id, kind, params, origin, issued_by, batch_id, campaign_id, expires_at, created_at, updated_at)
      select md5(${batch.id}::text || ':' || p.id::text)::uuid, ${batch.organisationId}, p.id, ${batch.kind}, ${JSON.stringify(batch.params)}::jsonb,
             ${batch.origin}, ${batch.issuedBy}, ${batch.id}, null, ${batch.expiresAt}, now(), now()
      from picked p
      on conflict (id) do nothing
      returning 1
    )
    select p.id, p.platform, p.channel, (select count(*) from ins)::int as inserted from picked p order by p.id`);
  const devices = result.rows.map((r) => ({ id: r.id, platform: r.platform, channel: r.channel }));
  const inserted = result.rows[0]?.inserted ?? 0;
  const done = devices.length < size;
  await tx
    .update(commandBatches)
    .set({
      cursor: devices.length > 0 ? devices[devices.length - 1]!.id : batch.cursor,
      created: sql`${commandBatches.created} + ${inserted}`,
      status: done ? 'done' : 'pending',
      completedAt: done ? sql`now()` : null,
    })
    .where(eq(commandBatches.id, batch.id));
  return { devices, inserted, done };
}
