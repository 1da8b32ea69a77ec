import type { LocationFix } from '../../domain/devices';
import { contains, implausibleFix, insideSchoolHours, periodicReportAllowed, type GeofenceAlertKind, type ImplausibleFix, type LocationRules } from '../../domain/location';
import type { InventoryPort, LocationOutcome } from '../../domain/platform-ports';
import type { Db, DbOrTx } from '../../infra/db/client';
import { insertLocationReturningId, locationSource } from '../devices/device-reports.repository';
import { recordSide, shapesOfSchool } from './geofences.repository';
import { rulesForDevice } from './location-policies.service';

/** Why a position was not stored, as counted in metrics. */
export type RefusedPosition = 'not_allowed' | ImplausibleFix | 'invalid_body';

export interface PositionIntakeDeps {
  db: Db;
  clock: () => Date;
  /** Counts a position that was not stored (metrics). */
  refused(reason: RefusedPosition): void;
  /** A geofence alert is being stored: its signed webhook event goes in the same transaction (no position in it). */
  alertEvent(tx: DbOrTx, organisationId: string, alert: { id: string; kind: GeofenceAlertKind; deviceId: string; schoolId: string; at: Date }): Promise<unknown>;
  /** A geofence alert was stored: notify whoever must know (after the commit). */
  alertRaised(alertId: string): Promise<void>;
}

/**
 * Where positions a device sends by itself come in: a position is stored only when it is
 * plausible and something allows it (lost mode, a locate in flight, or the school's policy inside
 * its hours); otherwise it is dropped and counted. A stored position inside school hours is
 * checked against the school's perimeters, and a change of side raises one alert.
 */
export function createPositionIntake(deps: PositionIntakeDeps): Pick<InventoryPort, 'recordLocation' | 'checkFix' | 'countRefusedPosition'> {
  const { db, clock, refused } = deps;

  function checkFix(fix: LocationFix): ImplausibleFix | null {
    const reason = implausibleFix(fix, clock());
    if (reason) refused(reason);
    return reason;
  }

  async function watchPerimeter(deviceId: string, context: { organisationId: string; schoolId: string; rules: LocationRules | null }, at: Date, fix: LocationFix, locationId: number): Promise<void> {
    if (!context.rules || !insideSchoolHours(context.rules, at)) return;
    const shapes = await shapesOfSchool(db, context.schoolId);
    if (!shapes.length) return;
    const outside = !shapes.some((shape) => contains(shape, fix));
    const alert = await db.transaction(async (tx) => {
      const raised = await recordSide(tx, { deviceId, organisationId: context.organisationId, schoolId: context.schoolId, outside, locationId });
      if (raised) await deps.alertEvent(tx, context.organisationId, { ...raised, deviceId, schoolId: context.schoolId, at });
      return raised;
    });
    if (alert) await deps.alertRaised(alert.id);
  }

  return {
    checkFix,
    countRefusedPosition: (reason) => refused(reason),

    async recordLocation(deviceId, messageId, fix, commandId): Promise<LocationOutcome> {
      if (checkFix(fix)) return { stored: false, code: 'location_implausible', message: 'The position is impossible (coordinates, or a fix time far in the future); it was discarded.' };
      const now = clock();
      // The device's clock is not trusted beyond the server's: an unverified or future time counts as now.
      const at = fix.timeUnverified || fix.fixTime > now ? now : fix.fixTime;
      const [allowed, context] = await Promise.all([locationSource(db, deviceId), rulesForDevice(db, deviceId)]);
      if (!context) return { stored: false, code: 'location_not_allowed', message: 'Unknown device.' };
      const source = allowed ?? (periodicReportAllowed(context.rules, at) ? { source: 'policy' as const, commandId: null } : null);
      if (!source) {
        refused('not_allowed');
        return { stored: false, code: 'location_not_allowed', message: 'Location reporting is not enabled for this device now.' };
      }
      const id = await insertLocationReturningId(db, { deviceId, ...fix, source: source.source, commandId: source.commandId ?? commandId, messageId });
      // A report sent again stores nothing twice, and is not checked twice.
      if (id !== null) await watchPerimeter(deviceId, context, at, fix, id);
      return { stored: true };
    },
  };
}
