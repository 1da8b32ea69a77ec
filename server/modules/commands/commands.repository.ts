import { and, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { commands, deviceLocations, devices, groups, schools, type Platform } from '../../infra/db/schema';
import type { Scope } from '../access/principal';

export type CommandRow = typeof commands.$inferSelect;
export type NewCommandRow = typeof commands.$inferInsert;

export interface TargetDevice {
  id: string;
  organisationId: string;
  schoolId: string;
  name: string;
  platform: Platform;
  status: 'active' | 'wiped' | 'retired';
}

const INSERT_CHUNK = 1000;

function deviceScope(scope: Scope): SQL {
  const org = eq(devices.organisationId, scope.organisationId);
  if (scope.all) return org;
  if (scope.schoolIds.length === 0) return sql`false`;
  return and(org, inArray(devices.schoolId, scope.schoolIds))!;
}

const targetColumns = {
  id: devices.id,
  organisationId: devices.organisationId,
  schoolId: devices.schoolId,
  name: devices.name,
  platform: devices.platform,
  status: devices.status,
};

export async function findDeviceInScope(db: DbOrTx, scope: Scope, deviceId: string): Promise<TargetDevice | null> {
  const [row] = await db.select(targetColumns).from(devices).where(and(eq(devices.id, deviceId), deviceScope(scope)));
  return row ?? null;
}

/** The devices a bulk action reaches: the selection intersected with the caller's scope. */
export async function selectTargetDevices(db: DbOrTx, scope: Scope, target: { schoolId?: string; groupId?: string; deviceIds?: string[] }): Promise<TargetDevice[]> {
  const filters: SQL[] = [deviceScope(scope)];
  if (target.schoolId) filters.push(eq(devices.schoolId, target.schoolId));
  if (target.groupId) filters.push(eq(devices.groupId, target.groupId));
  if (target.deviceIds) filters.push(inArray(devices.id, target.deviceIds));
  return db.select(targetColumns).from(devices).where(and(...filters)).orderBy(devices.id);
}

/** Whether a bulk target's school or group exists within the caller's scope (device lists are checked row by row). */
export async function targetInScope(db: DbOrTx, scope: Scope, target: { schoolId?: string; groupId?: string; deviceIds?: string[] }): Promise<boolean> {
  const schoolFilter = (column: typeof schools.id | typeof groups.schoolId): SQL => {
    if (scope.all) return sql`true`;
    return scope.schoolIds.length ? inArray(column, scope.schoolIds) : sql`false`;
  };
  if (target.schoolId) {
    const rows = await db.select({ id: schools.id }).from(schools).where(and(eq(schools.id, target.schoolId), eq(schools.organisationId, scope.organisationId), schoolFilter(schools.id)));
    return rows.length > 0;
  }
  if (target.groupId) {
    const rows = await db.select({ id: groups.id }).from(groups).where(and(eq(groups.id, target.groupId), eq(groups.organisationId, scope.organisationId), schoolFilter(groups.schoolId)));
    return rows.length > 0;
  }
  return true;
}

/**
 * Bulk inserts: one statement per chunk, the rows travelling as a single JSON parameter (far
 * cheaper to bind than thousands of scalar parameters). Ids are chosen by the caller, so
 * re-running a fan-out chunk inserts nothing twice.
 */
export async function insertCommands(db: DbOrTx, rows: NewCommandRow[]): Promise<number> {
  let inserted = 0;
  for (let i = 0; i < rows.length; i += INSERT_CHUNK) {
    const chunk = rows.slice(i, i + INSERT_CHUNK).map((r) => ({
      id: r.id,
      organisation_id: r.organisationId,
      device_id: r.deviceId,
      kind: r.kind,
      params: r.params ?? {},
      payload: r.payload ?? null,
      origin: r.origin,
      issued_by: r.issuedBy ?? null,
      batch_id: r.batchId ?? null,
      campaign_id: r.campaignId ?? null,
      expires_at: r.expiresAt,
      created_at: r.createdAt ?? new Date(),
    }));
    const result = await db.execute(sql`
      insert into commands (id, organisation_id, device_id, kind, params, payload, origin, issued_by, batch_id, campaign_id, expires_at, created_at, updated_at)
      select id, organisation_id, device_id, kind, params, payload, origin, issued_by, batch_id, campaign_id, expires_at, created_at, created_at
      from jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb) as r(
        id uuid, organisation_id uuid, device_id uuid, kind text, params jsonb, payload jsonb, origin text,
        issued_by uuid, batch_id uuid, campaign_id uuid, expires_at timestamptz, created_at timestamptz)
      on conflict (id) do nothing`);
    inserted += result.rowCount ?? 0;
  }
  return inserted;
}

/** Active devices among `deviceIds` with their organisation, for a fan-out chunk. */
export async function activeDevices(db: DbOrTx, organisationId: string, deviceIds: string[]): Promise<{ id: string; platform: Platform }[]> {
  if (deviceIds.length === 0) return [];
  return db
    .select({ id: devices.id, platform: devices.platform })
    .from(devices)
    .where(and(eq(devices.organisationId, organisationId), eq(devices.status, 'active'), inArray(devices.id, deviceIds)));
}

export async function latestLocation(db: DbOrTx, deviceId: string) {
  const [row] = await db.select().from(deviceLocations).where(eq(deviceLocations.deviceId, deviceId)).orderBy(desc(deviceLocations.fixTime), desc(deviceLocations.id)).limit(1);
  return row ?? null;
}

/** A command, only if its device is in the caller's scope. */
export async function findCommandInScope(db: DbOrTx, scope: Scope, commandId: string): Promise<CommandRow | null> {
  const [row] = await db
    .select({ command: commands })
    .from(commands)
    .innerJoin(devices, eq(devices.id, commands.deviceId))
    .where(and(eq(commands.id, commandId), deviceScope(scope)));
  return row?.command ?? null;
}

/** queued|sent → cancelled; returns null if the command had already moved on. */
export async function cancelCommand(db: DbOrTx, commandId: string): Promise<CommandRow | null> {
  const [row] = await db
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(commands.id, commandId), inArray(commands.status, ['queued', 'sent'])))
    .returning();
  return row ?? null;
}

/** Newest first, keyset-paginated on (created_at, id). */
export async function deviceHistory(db: DbOrTx, deviceId: string, limit: number, before?: { createdAt: Date; id: string }): Promise<CommandRow[]> {
  const cursor = before ? or(lt(commands.createdAt, before.createdAt), and(eq(commands.createdAt, before.createdAt), lt(commands.id, before.id))) : undefined;
  return db
    .select()
    .from(commands)
    .where(and(eq(commands.deviceId, deviceId), cursor))
    .orderBy(desc(commands.createdAt), desc(commands.id))
    .limit(limit);
}

export async function batchCounts(db: DbOrTx, scope: Scope, batchId: string): Promise<Record<string, number>> {
  const rows = await db
    .select({ status: commands.status, n: sql<number>`count(*)::int` })
    .from(commands)
    .innerJoin(devices, eq(devices.id, commands.deviceId))
    .where(and(eq(commands.batchId, batchId), deviceScope(scope)))
    .groupBy(commands.status);
  return Object.fromEntries(rows.map((r) => [r.status, r.n]));
}

/** Marks every in-flight command past its expiry; returns how many. */
export async function expireOverdue(db: DbOrTx): Promise<number> {
  const result = await db.execute(sql`
    update commands set status = 'expired', completed_at = now(), updated_at = now()
    where status in ('queued', 'sent', 'acknowledged') and expires_at <= now()`);
  return result.rowCount ?? 0;
}

/**
 * Active devices with work that should have reached them by now: sent but not acknowledged
 * within the ack timeout, or queued for longer than the grace period (their nudge was lost).
 */
export async function devicesWithStalledCommands(db: DbOrTx, ackTimeoutSec: number, queuedGraceSec: number, limit: number): Promise<{ id: string; platform: Platform }[]> {
  const result = await db.execute<{ id: string; platform: Platform }>(sql`
    select d.id, d.platform from devices d
    where d.status = 'active' and d.id in (
      select device_id from commands
      where ((status = 'sent' and sent_at < now() - make_interval(secs => ${ackTimeoutSec}))
          or (status = 'queued' and created_at < now() - make_interval(secs => ${queuedGraceSec})))
        and expires_at > now()
      limit ${limit})`);
  return result.rows;
}
