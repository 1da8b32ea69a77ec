import { and, desc, eq, inArray, lt, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { commands, deviceCertificates, deviceLocations, devices, type CommandStatus, type Platform } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import type { LocationFix } from './platform-adapter';

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

/** Statuses from which a device's own result may still move a command (first final result wins). */
const RESULT_OPEN: CommandStatus[] = ['queued', 'sent', 'acknowledged', 'expired', 'cancelled'];
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

export type PendingRow = {
  id: string;
  device_id: string;
  kind: string;
  params: Record<string, unknown>;
  payload: Record<string, unknown> | null;
  created_at: Date;
  expires_at: Date;
};

/**
 * Pending commands of several devices in one statement: expired ones are marked on the way (a
 * data-modifying CTE always runs to completion) and never returned, and a device that is no
 * longer active gets nothing.
 */
export async function pendingForDevices(db: DbOrTx, deviceIds: string[]): Promise<PendingRow[]> {
  const ids = sql`${`{${deviceIds.join(',')}}`}::uuid[]`;
  const result = await db.execute<PendingRow>(sql`
    with expired as (
      update commands set status = 'expired', completed_at = now(), updated_at = now()
      where device_id = any(${ids}) and status in ('queued', 'sent') and expires_at <= now()
      returning id
    )
    select c.id, c.device_id, c.kind, c.params, c.payload, c.created_at, c.expires_at
    from commands c join devices d on d.id = c.device_id and d.status = 'active'
    where c.device_id = any(${ids}) and c.status in ('queued', 'sent') and c.expires_at > now()
    order by c.device_id, c.created_at, c.id`);
  return result.rows.map((r) => ({ ...r, created_at: new Date(r.created_at), expires_at: new Date(r.expires_at) }));
}

/** queued|sent → sent for (device, command) pairs; a pair that does not match changes nothing. */
export async function markSentPairs(db: DbOrTx, deviceIds: string[], commandIds: string[]): Promise<number> {
  const result = await db.execute(sql`
    update commands c set status = 'sent', sent_at = now(), attempts = c.attempts + 1, updated_at = now()
    from unnest(${`{${commandIds.join(',')}}`}::uuid[], ${`{${deviceIds.join(',')}}`}::uuid[]) as p(command_id, device_id)
    where c.id = p.command_id and c.device_id = p.device_id and c.status in ('queued', 'sent') and c.expires_at > now()`);
  return result.rowCount ?? 0;
}

/** queued|sent → acknowledged for (device, command) pairs; duplicates and late acks change nothing. */
export async function acknowledgePairs(db: DbOrTx, deviceIds: string[], commandIds: string[]): Promise<number> {
  const result = await db.execute(sql`
    update commands c set status = 'acknowledged', acknowledged_at = now(), updated_at = now()
    from unnest(${`{${commandIds.join(',')}}`}::uuid[], ${`{${deviceIds.join(',')}}`}::uuid[]) as p(command_id, device_id)
    where c.id = p.command_id and c.device_id = p.device_id and c.status in ('queued', 'sent')`);
  return result.rowCount ?? 0;
}

export interface ResultUpdate {
  status: CommandStatus;
  result: Record<string, unknown> | null;
  raw: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  /** Whether the status is final: otherwise only the raw result is kept (reboot `executing`). */
  final: boolean;
}

/** Applies a device's result if the command is still open to one; returns the command, or null when ignored. */
export async function applyResult(db: DbOrTx, deviceId: string, commandId: string, update: ResultUpdate): Promise<CommandRow | null> {
  const [row] = await db
    .update(commands)
    .set({
      status: update.final ? update.status : sql`case when ${commands.status} in ('queued', 'sent') then 'acknowledged' else ${commands.status} end`,
      acknowledgedAt: sql`coalesce(${commands.acknowledgedAt}, now())`,
      completedAt: update.final ? sql`now()` : undefined,
      result: update.result ?? undefined,
      resultRaw: update.raw ?? null,
      errorCode: update.errorCode,
      errorMessage: update.errorMessage,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(commands.id, commandId),
        eq(commands.deviceId, deviceId),
        inArray(commands.status, update.final ? RESULT_OPEN : ['queued', 'sent', 'acknowledged']),
      ),
    )
    .returning();
  return row ?? null;
}

export interface BatchedResult {
  commandId: string;
  deviceId: string;
  status: CommandStatus;
  final: boolean;
  result: Record<string, unknown> | null;
  raw: unknown;
  errorCode: string | null;
  errorMessage: string | null;
  /** A success whose kind changes the device is left for the transactional path. */
  mayHaveEffects: boolean;
}

/**
 * Results of many devices in one statement, with the same guards as `applyResult`; returns the
 * ids of the commands it moved.
 */
export async function applyResults(db: DbOrTx, items: BatchedResult[], effectKinds: string[]): Promise<Set<string>> {
  const rows = items.map((i) => ({ id: i.commandId, device_id: i.deviceId, status: i.status, final: i.final, result: i.result, raw: i.raw ?? null, error_code: i.errorCode, error_message: i.errorMessage, effects: i.mayHaveEffects }));
  const result = await db.execute<{ id: string }>(sql`
    update commands c set
      status = case when p.final then p.status when c.status in ('queued', 'sent') then 'acknowledged' else c.status end,
      acknowledged_at = coalesce(c.acknowledged_at, now()),
      completed_at = case when p.final then now() else c.completed_at end,
      result = coalesce(p.result, c.result),
      result_raw = p.raw, error_code = p.error_code, error_message = p.error_message, updated_at = now()
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
      as p(id uuid, device_id uuid, status text, final boolean, result jsonb, raw jsonb, error_code text, error_message text, effects boolean)
    where c.id = p.id and c.device_id = p.device_id
      and ((p.final and c.status in ('queued', 'sent', 'acknowledged', 'expired', 'cancelled')) or (not p.final and c.status in ('queued', 'sent', 'acknowledged')))
      and not (p.effects and c.kind = any(${`{${effectKinds.join(',')}}`}::text[]))
    returning c.id`);
  return new Set(result.rows.map((r) => r.id));
}

export async function commandOfDevice(db: DbOrTx, deviceId: string, commandId: string): Promise<CommandRow | null> {
  const [row] = await db.select().from(commands).where(and(eq(commands.id, commandId), eq(commands.deviceId, deviceId)));
  return row ?? null;
}

/** The wipe is confirmed: the device leaves the active list and every certificate it holds is refused. */
export async function markDeviceWiped(db: DbOrTx, deviceId: string): Promise<{ revoked: number }> {
  await db
    .update(devices)
    .set({ status: 'wiped', wipedAt: sql`now()`, lostMode: false, lostModeMessage: null, updatedAt: sql`now()` })
    .where(eq(devices.id, deviceId));
  const revoked = await db
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: 'wiped' })
    .where(and(eq(deviceCertificates.deviceId, deviceId), sql`${deviceCertificates.revokedAt} is null`))
    .returning({ id: deviceCertificates.id });
  // Whatever was still waiting for the device can never be delivered now.
  await db
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, errorCode: 'device_wiped', updatedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), inArray(commands.status, ['queued', 'sent', 'acknowledged'])));
  return { revoked: revoked.length };
}

export async function setLostMode(db: DbOrTx, deviceId: string, on: boolean, message: string | null): Promise<void> {
  await db.update(devices).set({ lostMode: on, lostModeMessage: on ? message : null, updatedAt: sql`now()` }).where(eq(devices.id, deviceId));
}

export async function insertLocation(db: DbOrTx, deviceId: string, commandId: string, fix: LocationFix): Promise<void> {
  await db.insert(deviceLocations).values({ deviceId, commandId, source: 'locate', ...fix });
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
