import type { InventoryPort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import * as repo from './device-reports.repository';

/** What devices tell about themselves, whatever their protocol; every write is idempotent. */
export function createDeviceReportsService({ db }: { db: Db }): InventoryPort {
  return {
    recordSession: (deviceId, session) => repo.recordSession(db, deviceId, session),
    touch: (seen) => repo.touchDevices(db, seen),
    updateStatus: (deviceId, report) => repo.updateStatus(db, deviceId, report),
    updateInventory: (deviceId, report) => repo.updateInventory(db, deviceId, report),
    updateApps: (deviceId, report) => db.transaction((tx) => repo.upsertApps(tx, deviceId, report.apps, { full: report.full, removed: report.full ? [] : report.removed })),
    recordEvents: (deviceId, messageId, events) => repo.insertEvents(db, deviceId, messageId, events),

    /** Location is off by default: kept only under lost mode or an in-flight locate command. */
    async recordLocation(deviceId, messageId, fix, commandId) {
      const allowed = await repo.locationSource(db, deviceId);
      if (!allowed) return { stored: false, code: 'location_not_allowed', message: 'Location reporting is not enabled for this device.' };
      await repo.insertLocation(db, { deviceId, ...fix, source: allowed.source, commandId: allowed.commandId ?? commandId, messageId });
      return { stored: true };
    },
  };
}
