import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { organisations } from '../../infra/db/schema';

/**
 * The purges, one bounded chunk per statement: each deletes at most `limit` rows, so no
 * statement holds locks for long whatever the backlog; the service repeats until a chunk
 * comes back short. Every condition is "older than", so running twice deletes nothing more.
 */
async function deleteChunk(db: DbOrTx, statement: ReturnType<typeof sql>): Promise<number> {
  const result = await db.execute(statement);
  return result.rowCount ?? 0;
}

export function listOrganisations(db: DbOrTx) {
  return db.select({ id: organisations.id, name: organisations.name, settings: organisations.settings }).from(organisations).orderBy(organisations.id);
}

export async function retentionSettingsOf(db: DbOrTx, organisationId: string): Promise<Partial<Record<string, number>> | undefined> {
  const [row] = await db.select({ settings: organisations.settings }).from(organisations).where(eq(organisations.id, organisationId));
  return row?.settings.retention;
}

export async function setRetentionSettings(db: DbOrTx, organisationId: string, retention: Record<string, number>): Promise<void> {
  await db
    .update(organisations)
    .set({ settings: sql`${organisations.settings} || jsonb_build_object('retention', ${JSON.stringify(retention)}::jsonb)`, updatedAt: sql`now()` })
    .where(eq(organisations.id, organisationId));
}

/** Positions taken on demand (locate) or by a policy, aged by when the server received them. */
export const purgePositions = (db: DbOrTx, org: string, before: Date, limit: number) =>
  deleteChunk(
    db,
    sql`delete from device_locations where id in (
      select l.id from device_locations l join devices d on d.id = l.device_id
      where d.organisation_id = ${org} and l.source <> 'lost_mode' and l.received_at < ${before} limit ${limit})`,
  );

/**
 * The end of lost mode that found a device: the latest lost_mode_off the device carried out.
 * A lost-mode position is kept while the device is in lost mode, then for the period after the
 * later of that end and the position's own reception (an earlier episode's end does not count).
 */
const FOUND_AT = sql`(select max(c.completed_at) from commands c where c.device_id = l.device_id and c.kind = 'lost_mode_off' and c.status = 'succeeded')`;

export const purgeLostModePositions = (db: DbOrTx, org: string, before: Date, limit: number) =>
  deleteChunk(
    db,
    sql`delete from device_locations where id in (
      select l.id from device_locations l join devices d on d.id = l.device_id
      where d.organisation_id = ${org} and l.source = 'lost_mode' and not d.lost_mode
        and greatest(l.received_at, coalesce(${FOUND_AT}, l.received_at)) < ${before} limit ${limit})`,
  );

/** Finished commands (with their results and raw messages); an open command is never touched. */
export const purgeCommands = (db: DbOrTx, org: string, before: Date, limit: number) =>
  deleteChunk(
    db,
    sql`delete from commands where id in (
      select id from commands where organisation_id = ${org} and status in ('succeeded', 'failed', 'expired', 'cancelled')
        and coalesce(completed_at, updated_at) < ${before} limit ${limit})`,
  );

export const purgeDeviceEvents = (db: DbOrTx, org: string, before: Date, limit: number) =>
  deleteChunk(
    db,
    sql`delete from device_events where id in (
      select e.id from device_events e join devices d on d.id = e.device_id
      where d.organisation_id = ${org} and e.received_at < ${before} limit ${limit})`,
  );

/** When a wiped or retired device left the fleet: its wipe, or its last change (the retirement). */
const LEFT_AT = sql`coalesce(d.wiped_at, d.updated_at)`;
const NOT_ERASED = sql`not (d.facts ? 'erasedAt')`;

/** Wiped or retired devices past the period whose personal data is still there. */
export async function retiredDevicesToErase(db: DbOrTx, org: string, before: Date, limit: number): Promise<string[]> {
  const result = await db.execute<{ id: string }>(
    sql`select d.id from devices d where d.organisation_id = ${org} and d.status in ('wiped', 'retired') and ${NOT_ERASED} and ${LEFT_AT} < ${before} order by d.id limit ${limit}`,
  );
  return result.rows.map((r) => r.id);
}

export interface ErasedCounts {
  apps: number;
  events: number;
  positions: number;
  commands: number;
}

/** Geofence alerts say where a device was: they are kept as long as positions. */
export const purgeGeofenceAlerts = (db: DbOrTx, org: string, before: Date, limit: number) =>
  deleteChunk(db, sql`delete from geofence_alerts where id in (select id from geofence_alerts where organisation_id = ${org} and at < ${before} limit ${limit})`);

/**
 * Erases what a device record says about the people who used it: its apps, events, positions,
 * push registration, command parameters and results, and its name, identifiers and facts. The
 * record stays (certificates stay revoked, audit events keep pointing to it) with its platform,
 * model and OS version, which say nothing of a person.
 */
export async function eraseDevice(tx: DbOrTx, deviceId: string): Promise<ErasedCounts> {
  const apps = await deleteChunk(tx, sql`delete from device_apps where device_id = ${deviceId}`);
  // Geofence alerts say where a device was not: events like the others.
  const events =
    (await deleteChunk(tx, sql`delete from device_events where device_id = ${deviceId}`)) + (await deleteChunk(tx, sql`delete from geofence_alerts where device_id = ${deviceId}`));
  await tx.execute(sql`delete from device_geofence_states where device_id = ${deviceId}`);
  const positions = await deleteChunk(tx, sql`delete from device_locations where device_id = ${deviceId}`);
  await tx.execute(sql`delete from device_push where device_id = ${deviceId}`);
  const commands = await deleteChunk(
    tx,
    sql`update commands set params = '{}'::jsonb, result = null, result_raw = null, late_result = null, error_message = null, updated_at = now()
        where device_id = ${deviceId} and (params <> '{}'::jsonb or result is not null or result_raw is not null or late_result is not null or error_message is not null)`,
  );
  await tx.execute(sql`update devices set name = 'effacée ' || left(id::text, 8), serial = null, imei = null, udid = null, tags = '{}'::text[],
      lost_mode_message = null, report_request = null, capabilities = null, battery_level = null, charging = null,
      storage_total_bytes = null, storage_free_bytes = null, facts = jsonb_build_object('erasedAt', now()), updated_at = now()
      where id = ${deviceId}`);
  return { apps, events, positions, commands };
}

export interface HeldRow {
  type: string;
  held: number;
  oldest: Date | null;
  due: number;
}

/** What one organisation holds of each kind, its oldest item, and how much is past its period now. */
export async function held(db: DbOrTx, org: string, cutoffs: Record<'positions' | 'lostFound' | 'commands' | 'events' | 'audit' | 'retired', Date>): Promise<HeldRow[]> {
  const result = await db.execute<{ type: string; held: string; oldest: Date | string | null; due: string }>(sql`
    select 'positionsDays' as type, count(*) as held, min(l.received_at) as oldest, count(*) filter (where l.received_at < ${cutoffs.positions}) as due
      from device_locations l join devices d on d.id = l.device_id where d.organisation_id = ${org} and l.source <> 'lost_mode'
    union all
    select 'lostModePositionsDaysAfterFound', count(*), min(l.received_at),
      count(*) filter (where not d.lost_mode and greatest(l.received_at, coalesce(${FOUND_AT}, l.received_at)) < ${cutoffs.lostFound})
      from device_locations l join devices d on d.id = l.device_id where d.organisation_id = ${org} and l.source = 'lost_mode'
    union all
    select 'commandsDays', count(*), min(coalesce(completed_at, updated_at)), count(*) filter (where coalesce(completed_at, updated_at) < ${cutoffs.commands})
      from commands where organisation_id = ${org} and status in ('succeeded', 'failed', 'expired', 'cancelled')
    union all
    select 'deviceEventsDays', count(*), min(e.received_at), count(*) filter (where e.received_at < ${cutoffs.events})
      from device_events e join devices d on d.id = e.device_id where d.organisation_id = ${org}
    union all
    select 'auditEventsDays', count(*), min(occurred_at), count(*) filter (where occurred_at < ${cutoffs.audit})
      from audit_events where organisation_id = ${org}
    union all
    select 'retiredDevicesDays', count(*), min(${LEFT_AT}), count(*) filter (where ${LEFT_AT} < ${cutoffs.retired})
      from devices d where d.organisation_id = ${org} and d.status in ('wiped', 'retired') and ${NOT_ERASED}`);
  return result.rows.map((r) => ({ type: r.type, held: Number(r.held), oldest: r.oldest === null ? null : new Date(r.oldest), due: Number(r.due) }));
}
