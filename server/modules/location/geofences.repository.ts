import { and, desc, eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { deviceGeofenceStates, deviceLocations, devices, geofenceAlerts, geofences, schools } from '../../infra/db/schema';
import type { GeofenceAlertKind, GeofenceShape } from '../../domain/location';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';

export type GeofenceRow = typeof geofences.$inferSelect;

export function listGeofences(db: DbOrTx, scope: Scope, schoolId?: string): Promise<GeofenceRow[]> {
  return db
    .select()
    .from(geofences)
    .where(and(inSchoolScope(scope, geofences.organisationId, geofences.schoolId), schoolId ? eq(geofences.schoolId, schoolId) : undefined))
    .orderBy(geofences.schoolId, geofences.createdAt);
}

export async function findGeofence(db: DbOrTx, scope: Scope, id: string): Promise<GeofenceRow | undefined> {
  const [row] = await db.select().from(geofences).where(and(eq(geofences.id, id), inSchoolScope(scope, geofences.organisationId, geofences.schoolId)));
  return row;
}

export async function insertGeofence(tx: DbOrTx, values: typeof geofences.$inferInsert): Promise<GeofenceRow> {
  const [row] = await tx.insert(geofences).values(values).returning();
  return row!;
}

export async function updateGeofence(tx: DbOrTx, id: string, values: { name: string; shape: GeofenceShape }): Promise<GeofenceRow> {
  const [row] = await tx.update(geofences).set({ ...values, updatedAt: sql`now()` }).where(eq(geofences.id, id)).returning();
  return row!;
}

export async function deleteGeofence(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(geofences).where(eq(geofences.id, id));
}

/** The perimeters of one school, for checking a position. */
export async function shapesOfSchool(db: DbOrTx, schoolId: string): Promise<GeofenceShape[]> {
  const rows = await db.select({ shape: geofences.shape }).from(geofences).where(eq(geofences.schoolId, schoolId));
  return rows.map((r) => r.shape);
}

/**
 * Records where the device now is and, only when that changed, an alert: one statement decides,
 * so two positions handled at once never raise the same alert twice. A device never seen before
 * counts as inside: its first position inside raises nothing.
 */
export async function recordSide(tx: DbOrTx, input: { deviceId: string; organisationId: string; schoolId: string; outside: boolean; locationId: number }): Promise<{ id: string; kind: GeofenceAlertKind } | null> {
  const result = await tx.execute<{ id: string; kind: GeofenceAlertKind }>(sql`
    with previous as (select outside from ${deviceGeofenceStates} where device_id = ${input.deviceId}),
    changed as (
      insert into ${deviceGeofenceStates} (device_id, outside, changed_at) values (${input.deviceId}, ${input.outside}, now())
      on conflict (device_id) do update set outside = excluded.outside, changed_at = excluded.changed_at
      where ${deviceGeofenceStates}.outside is distinct from excluded.outside
      returning outside
    )
    insert into ${geofenceAlerts} (organisation_id, device_id, school_id, kind, location_id)
    select ${input.organisationId}, ${input.deviceId}, ${input.schoolId}, case when c.outside then 'exit' else 'return' end, ${input.locationId}
    from changed c
    where c.outside or exists (select 1 from previous p where p.outside)
    returning id, kind`);
  return result.rows[0] ?? null;
}

export interface AlertRow {
  id: string;
  kind: GeofenceAlertKind;
  at: Date;
  deviceId: string;
  deviceName: string | null;
  schoolId: string;
  schoolName: string;
  organisationId: string;
  locationId: number | null;
}

const alertColumns = {
  id: geofenceAlerts.id,
  kind: geofenceAlerts.kind,
  at: geofenceAlerts.at,
  deviceId: geofenceAlerts.deviceId,
  deviceName: devices.name,
  schoolId: geofenceAlerts.schoolId,
  schoolName: schools.name,
  organisationId: geofenceAlerts.organisationId,
  locationId: geofenceAlerts.locationId,
};

export function listAlerts(db: DbOrTx, scope: Scope, options: { limit: number; schoolId?: string }): Promise<AlertRow[]> {
  return db
    .select(alertColumns)
    .from(geofenceAlerts)
    .innerJoin(devices, eq(devices.id, geofenceAlerts.deviceId))
    .innerJoin(schools, eq(schools.id, geofenceAlerts.schoolId))
    .where(and(inSchoolScope(scope, geofenceAlerts.organisationId, geofenceAlerts.schoolId), options.schoolId ? eq(geofenceAlerts.schoolId, options.schoolId) : undefined))
    .orderBy(desc(geofenceAlerts.at), desc(geofenceAlerts.id))
    .limit(options.limit);
}

export async function findAlert(db: DbOrTx, id: string): Promise<AlertRow | undefined> {
  const [row] = await db
    .select(alertColumns)
    .from(geofenceAlerts)
    .innerJoin(devices, eq(devices.id, geofenceAlerts.deviceId))
    .innerJoin(schools, eq(schools.id, geofenceAlerts.schoolId))
    .where(eq(geofenceAlerts.id, id));
  return row;
}

export type PositionRow = { id: number; lat: number; lon: number; accuracyM: number; fixTime: Date; source: string };

export async function positionsByIds(db: DbOrTx, ids: readonly number[]): Promise<Map<number, PositionRow>> {
  if (!ids.length) return new Map();
  const rows = await db
    .select({ id: deviceLocations.id, lat: deviceLocations.lat, lon: deviceLocations.lon, accuracyM: deviceLocations.accuracyM, fixTime: deviceLocations.fixTime, source: deviceLocations.source })
    .from(deviceLocations)
    .where(sql`${deviceLocations.id} in ${[...ids]}`);
  return new Map(rows.map((r) => [r.id, r]));
}

/** The latest position of each device in scope that has one. */
export async function latestPositions(db: DbOrTx, scope: Scope, schoolId?: string): Promise<(PositionRow & { deviceId: string; deviceName: string | null; schoolId: string })[]> {
  const result = await db.execute<{ device_id: string; device_name: string | null; school_id: string; id: string; lat: number; lon: number; accuracy_m: number; fix_time: string; source: string }>(sql`
    select ${devices.id} as device_id, ${devices.name} as device_name, ${devices.schoolId} as school_id, l.id, l.lat, l.lon, l.accuracy_m, l.fix_time, l.source
    from ${devices}
    join lateral (select * from ${deviceLocations} dl where dl.device_id = ${devices.id} order by dl.received_at desc, dl.id desc limit 1) l on true
    where ${inSchoolScope(scope, devices.organisationId, devices.schoolId)} ${schoolId ? sql`and ${devices.schoolId} = ${schoolId}` : sql``}
    order by ${devices.name}`);
  return result.rows.map((r) => ({ deviceId: r.device_id, deviceName: r.device_name, schoolId: r.school_id, id: Number(r.id), lat: r.lat, lon: r.lon, accuracyM: r.accuracy_m, fixTime: new Date(r.fix_time), source: r.source }));
}
