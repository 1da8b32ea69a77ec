import { and, eq, inArray, sql } from 'drizzle-orm';
import { pgArray, type DbOrTx } from '../../infra/db/client';
import { commands, deviceCertificates, deviceLocations, devices, type CommandStatus } from '../../infra/db/schema';
import type { CommandRow } from './commands.repository';
import type { LocationFix } from './platform-adapter';

/** Statuses from which a device's own result may still move a command (first final result wins). */
const RESULT_OPEN: CommandStatus[] = ['queued', 'sent', 'acknowledged', 'expired', 'cancelled'];

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
  const ids = sql`${pgArray(deviceIds)}::uuid[]`;
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
    from unnest(${pgArray(commandIds)}::uuid[], ${pgArray(deviceIds)}::uuid[]) as p(command_id, device_id)
    where c.id = p.command_id and c.device_id = p.device_id and c.status in ('queued', 'sent') and c.expires_at > now()`);
  return result.rowCount ?? 0;
}

/** queued|sent → acknowledged for (device, command) pairs; duplicates and late acks change nothing. */
export async function acknowledgePairs(db: DbOrTx, deviceIds: string[], commandIds: string[]): Promise<number> {
  const result = await db.execute(sql`
    update commands c set status = 'acknowledged', acknowledged_at = now(), updated_at = now()
    from unnest(${pgArray(commandIds)}::uuid[], ${pgArray(deviceIds)}::uuid[]) as p(command_id, device_id)
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
      and not (p.effects and c.kind = any(${pgArray(effectKinds)}::text[]))
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

