import { and, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { commands, deviceLocations, devices, groups, schools, type DeviceChannel, type Platform } from '../../infra/db/schema';
import { OPEN_STATUSES } from '../../domain/commands';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';
import { heldBackFromOutdatedAgent } from './command-queue.repository';

export type CommandRow = typeof commands.$inferSelect;
export type NewCommandRow = typeof commands.$inferInsert;

export interface TargetDevice {
  id: string;
  organisationId: string;
  schoolId: string;
  name: string;
  platform: Platform;
  status: 'active' | 'wiped' | 'retired';
  capabilities: string[] | null;
  agentVersionCode: number | null;
  /** The agent's own package, as it gave it at enrollment. */
  agentPackage: string | null;
}

export interface BulkTarget {
  schoolId?: string;
  groupId?: string;
  deviceIds?: string[];
}

const deviceScope = (scope: Scope) => inSchoolScope(scope, devices.organisationId, devices.schoolId);

const targetColumns = {
  id: devices.id,
  organisationId: devices.organisationId,
  schoolId: devices.schoolId,
  name: devices.name,
  platform: devices.platform,
  channel: devices.channel,
  status: devices.status,
  capabilities: devices.capabilities,
  agentVersionCode: devices.agentVersionCode,
  agentPackage: sql<string | null>`${devices.facts} -> 'agent' ->> 'packageName'`,
};

export async function findDeviceInScope(db: DbOrTx, scope: Scope, deviceId: string): Promise<TargetDevice | null> {
  const [row] = await db.select(targetColumns).from(devices).where(and(eq(devices.id, deviceId), deviceScope(scope)));
  return row ?? null;
}

function targetFilter(target: BulkTarget): SQL[] {
  const filters: SQL[] = [];
  if (target.schoolId) filters.push(eq(devices.schoolId, target.schoolId));
  if (target.groupId) filters.push(eq(devices.groupId, target.groupId));
  if (target.deviceIds) filters.push(inArray(devices.id, target.deviceIds));
  return filters;
}

/** The devices a bulk action names: the selection intersected with the caller's scope. */
export function selectTargetDevices(db: DbOrTx, scope: Scope, target: BulkTarget): Promise<TargetDevice[]> {
  return db
    .select(targetColumns)
    .from(devices)
    .where(and(deviceScope(scope), ...targetFilter(target)))
    .orderBy(devices.id);
}

/** Whether a bulk target's school or group exists within the caller's scope (device lists are checked row by row). */
export async function targetInScope(db: DbOrTx, scope: Scope, target: BulkTarget): Promise<boolean> {
  if (target.schoolId) {
    const rows = await db.select({ id: schools.id }).from(schools).where(and(eq(schools.id, target.schoolId), inSchoolScope(scope, schools.organisationId, schools.id)));
    return rows.length > 0;
  }
  if (target.groupId) {
    const rows = await db.select({ id: groups.id }).from(groups).where(and(eq(groups.id, target.groupId), inSchoolScope(scope, groups.organisationId, groups.schoolId)));
    return rows.length > 0;
  }
  return true;
}

export async function insertCommand(db: DbOrTx, row: NewCommandRow): Promise<CommandRow> {
  const [created] = await db.insert(commands).values(row).returning();
  return created!;
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

/**
 * → cancelled, from any state before the device started it; returns null if it had moved on.
 * A command the device was given is notified to it at its next hand-out.
 */
export async function cancelCommand(db: DbOrTx, commandId: string): Promise<CommandRow | null> {
  const [row] = await db
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(commands.id, commandId), inArray(commands.status, ['queued', 'sent', 'acknowledged', 'not_now'])))
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

const OPEN = sql.raw(OPEN_STATUSES.map((s) => `'${s}'`).join(', '));

/** Marks every open command past its expiry; returns how many. */
export async function expireOverdue(db: DbOrTx): Promise<number> {
  const result = await db.execute(sql`
    update commands set status = 'expired', completed_at = now(), updated_at = now()
    where status in (${OPEN}) and expires_at <= now()`);
  return result.rowCount ?? 0;
}

/**
 * Active devices with work that should have reached them by now: queued for longer than the
 * grace period (their nudge was lost), handed out without acknowledgement, or acknowledged long
 * ago without a result (the result was lost: a re-sent command makes the device send it again),
 * or a cancellation the device has not heard of.
 */
export async function devicesWithStalledCommands(db: DbOrTx, ackTimeoutSec: number, queuedGraceSec: number, limit: number, minAgentVersionCode: number | null): Promise<{ id: string; platform: Platform; channel: DeviceChannel | null }[]> {
  // What an outdated agent is not handed out is waiting for its update, not stalled.
  const result = await db.execute<{ id: string; platform: Platform; channel: DeviceChannel | null }>(sql`
    select d.id, d.platform, d.channel from devices d
    where d.status = 'active' and d.id in (
      (select c.device_id from commands c join devices d on d.id = c.device_id
        where ((c.status = 'queued' and c.created_at < now() - make_interval(secs => ${queuedGraceSec}))
            or (c.status in ('sent', 'acknowledged', 'executing') and c.sent_at < now() - make_interval(secs => ${ackTimeoutSec})))
          and c.expires_at > now() and not ${heldBackFromOutdatedAgent(minAgentVersionCode)}
        limit ${limit})
      union
      (select device_id from commands
        where status = 'cancelled' and sent_at is not null and cancel_notified_at is null
          and completed_at < now() - make_interval(secs => ${queuedGraceSec})
        limit ${limit}))`);
  return result.rows;
}
