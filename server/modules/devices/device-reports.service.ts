import type { InventoryPort } from '../../domain/platform-ports';
import { batched } from '../../infra/batched';
import type { Db } from '../../infra/db/client';
import * as repo from './device-reports.repository';
import * as sequence from './device-sequence.repository';

/** What devices tell about themselves, whatever their protocol; every write is idempotent. */
/** Positions are the location module's (`positions`): policy, plausibility and perimeters. */
export function createDeviceReportsService({ db, positions }: { db: Db; positions: Pick<InventoryPort, 'recordLocation' | 'checkFix' | 'countRefusedPosition'> }): InventoryPort {
  // Every numbered message raises its device's counter: thousands of devices answering at once share one statement.
  const raiseSequence = batched((items: { deviceId: string; seq: number }[]) => sequence.recordSeqs(db, items));
  const recordSession = repo.recordSessionStatement(db);
  const pendingReportRequest = sequence.pendingReportRequestStatement(db);
  return {
    recordSession,
    touch: (seen) => repo.touchDevices(db, seen),
    updateStatus: (deviceId, report) => repo.updateStatus(db, deviceId, report),
    updateInventory: (deviceId, report) => repo.updateInventory(db, deviceId, report),
    updateApps: (deviceId, report) => db.transaction((tx) => repo.upsertApps(tx, deviceId, report.apps, { full: report.full, removed: report.full ? [] : report.removed })),
    recordEvents: (deviceId, messageId, events) => repo.insertEvents(db, deviceId, messageId, events),

    /** Only the oldest message a device still holds tells a loss: a later jump may be a message that failed here and will come again. */
    async recordSequence(deviceId, seq, oldestUnsent) {
      const previous = await raiseSequence({ deviceId, seq });
      if (!oldestUnsent || previous === null || seq <= previous + 1) return null;
      const gap = { from: previous + 1, to: seq - 1 };
      await sequence.recordGap(db, deviceId, gap);
      return gap;
    },
    requestReports: (deviceId, kinds, reason) => sequence.requestReports(db, deviceId, kinds, reason),
    pendingReportRequest,
    reportRequestAcked: (deviceId, id) => sequence.reportRequestAcked(db, deviceId, id),

    ...positions,
  };
}
