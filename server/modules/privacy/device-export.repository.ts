import { and, asc, eq, inArray, or } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { auditEvents, commands, deviceApps, deviceCertificates, deviceEvents, deviceLocations, devices, geofenceAlerts } from '../../infra/db/schema';
import { inSchoolScope } from '../access/scope.repository';
import type { Scope } from '../access/principal';

export async function findDevice(db: DbOrTx, scope: Scope, deviceId: string) {
  const [row] = await db.select().from(devices).where(and(eq(devices.id, deviceId), inSchoolScope(scope, devices.organisationId, devices.schoolId)));
  return row ?? null;
}

/** Every row held about one device, positions apart (they are read only under the location permission). */
export async function deviceRows(db: DbOrTx, deviceId: string) {
  const [apps, commandRows, events, certificates, alerts] = await Promise.all([
    db.select().from(deviceApps).where(eq(deviceApps.deviceId, deviceId)).orderBy(asc(deviceApps.identifier)),
    db.select().from(commands).where(eq(commands.deviceId, deviceId)).orderBy(asc(commands.createdAt), asc(commands.id)),
    db.select().from(deviceEvents).where(eq(deviceEvents.deviceId, deviceId)).orderBy(asc(deviceEvents.id)),
    db
      .select({
        serialHex: deviceCertificates.serialHex,
        fingerprintSha256: deviceCertificates.fingerprintSha256,
        notBefore: deviceCertificates.notBefore,
        notAfter: deviceCertificates.notAfter,
        revokedAt: deviceCertificates.revokedAt,
        revokeReason: deviceCertificates.revokeReason,
      })
      .from(deviceCertificates)
      .where(eq(deviceCertificates.deviceId, deviceId))
      .orderBy(asc(deviceCertificates.notBefore)),
    db.select().from(geofenceAlerts).where(eq(geofenceAlerts.deviceId, deviceId)).orderBy(asc(geofenceAlerts.at), asc(geofenceAlerts.id)),
  ]);
  return { apps, commands: commandRows, events, certificates, alerts };
}

export function devicePositions(db: DbOrTx, deviceId: string) {
  return db.select().from(deviceLocations).where(eq(deviceLocations.deviceId, deviceId)).orderBy(asc(deviceLocations.receivedAt), asc(deviceLocations.id));
}

/** The audit events about the device itself or one of its commands, in the device's organisation. */
export function deviceAuditEvents(db: DbOrTx, organisationId: string, deviceId: string, commandIds: string[]) {
  const aboutDevice = and(eq(auditEvents.targetType, 'device'), eq(auditEvents.targetId, deviceId));
  const aboutCommands = commandIds.length ? and(eq(auditEvents.targetType, 'command'), inArray(auditEvents.targetId, commandIds)) : undefined;
  return db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.organisationId, organisationId), or(aboutDevice, aboutCommands)))
    .orderBy(asc(auditEvents.id));
}
