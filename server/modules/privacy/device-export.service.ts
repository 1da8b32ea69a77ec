import { ZipFile } from 'yazl';
import type { Db } from '../../infra/db/client';
import { csvDocument } from '../../infra/csv';
import { ConflictError, NotFoundError } from '../../domain/errors';
import { inScope, type Actor, type Scope } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import * as repo from './device-export.repository';
import { eraseDevice } from './retention.repository';

/** Command kinds whose result may carry a position: their results go out only with the positions. */
const LOCATING_KINDS = new Set(['locate', 'lost_mode_on', 'lost_mode_off', 'lost_mode_sound']);
/** Fact sections that say where a device is (addresses, the Wi-Fi it sees): as in the device's detail. */
const NETWORK_FACTS = ['network', 'session'];

export interface ExportCaller {
  scope: Scope;
  actor: Actor;
  /** Where the caller may read positions (`devices.location.read`); null: nowhere. */
  locationScope: Scope | null;
  /** Where the caller may read network facts (`devices.network.read`); null: nowhere. */
  networkScope: Scope | null;
}

type Row = Record<string, unknown>;

/** One tablet's data is small: the archive is built in memory with yazl (docs/decisions.md). */
function zipOf(files: [string, string][], mtime: Date): Promise<Buffer> {
  const zip = new ZipFile();
  for (const [name, text] of files) zip.addBuffer(Buffer.from(text, 'utf8'), name, { mtime });
  zip.end();
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c));
    zip.outputStream.on('end', () => resolve(Buffer.concat(chunks)));
    zip.outputStream.on('error', reject);
  });
}

function table(rows: readonly Row[]): string {
  const columns = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return csvDocument([columns, ...rows.map((r) => columns.map((c) => (r[c] instanceof Date ? (r[c] as Date).toISOString() : r[c])))]);
}

/**
 * Subject access and erasure for one device (RGPD art. 15 and 17). The export is a ZIP with the
 * whole record as JSON and one CSV per kind of data. Positions leave only through the location
 * permission and are audited as a location read, in the same transaction as the export's own
 * event; without that permission the export says they were withheld.
 */
export function createDeviceExportService(deps: { db: Db }) {
  const { db } = deps;

  async function collect(caller: ExportCaller, deviceId: string) {
    const device = await repo.findDevice(db, caller.scope, deviceId);
    if (!device) throw new NotFoundError('Device');
    const withPositions = caller.locationScope !== null && inScope(caller.locationScope, device.schoolId);
    const withNetwork = caller.networkScope !== null && inScope(caller.networkScope, device.schoolId);
    return db.transaction(async (tx) => {
      const rows = await repo.deviceRows(tx, deviceId);
      const positions = withPositions ? await repo.devicePositions(tx, deviceId) : null;
      const audit = await repo.deviceAuditEvents(
        tx,
        device.organisationId,
        deviceId,
        rows.commands.map((c) => c.id),
      );
      const target = { type: 'device', id: deviceId };
      await recordAudit(tx, {
        organisationId: device.organisationId,
        actor: caller.actor,
        action: 'device.export',
        target,
        schoolId: device.schoolId,
        outcome: 'success',
        details: { positions: positions?.length ?? null, positionsWithheld: positions === null, commands: rows.commands.length, events: rows.events.length, auditEvents: audit.length },
      });
      if (positions) {
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: caller.actor,
          action: 'device.location.read',
          target,
          schoolId: device.schoolId,
          outcome: 'success',
          details: { via: 'device.export', positions: positions.length, fixIds: positions.map((p) => p.id) },
        });
      }
      const facts = withNetwork ? device.facts : Object.fromEntries(Object.entries(device.facts).filter(([k]) => !NETWORK_FACTS.includes(k)));
      const commands = rows.commands.map((c) =>
        withPositions || !LOCATING_KINDS.has(c.kind) ? c : { ...c, result: null, resultRaw: null, lateResult: null, resultWithheld: 'location' },
      );
      // The MAC inputs are the trail's own; what concerns the person is the event.
      const auditEvents = audit.map(({ personalSalt: _salt, personalDigest: _digest, prevHash: _prev, ...e }) => e);
      return {
        device: { ...device, facts },
        apps: rows.apps,
        commands,
        events: rows.events,
        certificates: rows.certificates,
        // Which fix an alert was raised on is itself a position: named only with the positions.
        geofenceAlerts: withPositions ? rows.alerts : rows.alerts.map((a) => ({ ...a, locationId: null })),
        positions,
        auditEvents,
      };
    });
  }

  return {
    /** The archive's bytes and a file name; `exportedAt` in the JSON says when. */
    async export(caller: ExportCaller, deviceId: string): Promise<{ fileName: string; zip: Buffer }> {
      const data = await collect(caller, deviceId);
      const exportedAt = new Date();
      const json = { format: 'cartable-device-export/1', exportedAt: exportedAt.toISOString(), positionsWithheld: data.positions === null, ...data };
      const files: [string, string][] = [
        ['device.json', `${JSON.stringify(json, null, 2)}\n`],
        ['device.csv', table([data.device as Row])],
        ['apps.csv', table(data.apps)],
        ['commands.csv', table(data.commands as Row[])],
        ['events.csv', table(data.events)],
        ['certificates.csv', table(data.certificates)],
        ['geofence-alerts.csv', table(data.geofenceAlerts)],
        ['audit-events.csv', table(data.auditEvents)],
      ];
      if (data.positions) files.push(['positions.csv', table(data.positions)]);
      return { fileName: `cartable-device-${deviceId}-${json.exportedAt.slice(0, 10)}.zip`, zip: await zipOf(files, exportedAt) };
    },

    /** Erasure on request, for a device that has left the fleet (wiped or retired) only. */
    async erase(caller: { scope: Scope; actor: Actor }, deviceId: string) {
      const device = await repo.findDevice(db, caller.scope, deviceId);
      if (!device) throw new NotFoundError('Device');
      if (device.status === 'active') throw new ConflictError('The device is active: wipe or retire it before erasing its data', 'device_active', { deviceStatus: device.status });
      return db.transaction(async (tx) => {
        const counts = await eraseDevice(tx, deviceId);
        await recordAudit(tx, {
          organisationId: device.organisationId,
          actor: caller.actor,
          action: 'device.erase',
          target: { type: 'device', id: deviceId },
          schoolId: device.schoolId,
          outcome: 'success',
          details: { ...counts, status: device.status },
        });
        return { deviceId, status: device.status, erased: counts };
      });
    },
  };
}
export type DeviceExportService = ReturnType<typeof createDeviceExportService>;
