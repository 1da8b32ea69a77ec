import { and, asc, count, desc, eq, ilike, lt, or, sql, type SQL } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { deviceApps, deviceEvents, devices, type DeviceStatus, type Platform } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';

export interface DeviceFilter {
  schoolId?: string;
  groupId?: string;
  status?: DeviceStatus;
  platform?: Platform;
  /** Seen within this many seconds (true) or not (false). */
  online?: { value: boolean; withinSec: number };
  q?: string;
}

const inScope = (scope: Scope) => inSchoolScope(scope, devices.organisationId, devices.schoolId);

function where(scope: Scope, f: DeviceFilter): SQL {
  const parts: SQL[] = [inScope(scope)];
  if (f.schoolId) parts.push(eq(devices.schoolId, f.schoolId));
  if (f.groupId) parts.push(eq(devices.groupId, f.groupId));
  if (f.status) parts.push(eq(devices.status, f.status));
  if (f.platform) parts.push(eq(devices.platform, f.platform));
  if (f.online) {
    const recent = sql`${devices.lastSeenAt} > now() - make_interval(secs => ${f.online.withinSec})`;
    parts.push(f.online.value ? recent : sql`(${devices.lastSeenAt} is null or not (${recent}))`);
  }
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(or(ilike(devices.name, like), ilike(devices.serial, like), ilike(devices.model, like))!);
  }
  return and(...parts)!;
}

const listColumns = {
  id: devices.id,
  name: devices.name,
  schoolId: devices.schoolId,
  groupId: devices.groupId,
  platform: devices.platform,
  status: devices.status,
  serial: devices.serial,
  manufacturer: devices.manufacturer,
  model: devices.model,
  osVersion: devices.osVersion,
  agentVersion: devices.agentVersion,
  batteryLevel: devices.batteryLevel,
  charging: devices.charging,
  storageTotalBytes: devices.storageTotalBytes,
  storageFreeBytes: devices.storageFreeBytes,
  lostMode: devices.lostMode,
  lastSeenAt: devices.lastSeenAt,
  enrolledAt: devices.enrolledAt,
};
export type DeviceListRow = { [K in keyof typeof listColumns]: (typeof devices.$inferSelect)[K] };

export async function listDevices(db: DbOrTx, scope: Scope, f: DeviceFilter, page: { limit: number; offset: number }): Promise<{ rows: DeviceListRow[]; total: number }> {
  const condition = where(scope, f);
  const [rows, [total]] = await Promise.all([
    db.select(listColumns).from(devices).where(condition).orderBy(asc(devices.name), asc(devices.id)).limit(page.limit).offset(page.offset),
    db.select({ n: count() }).from(devices).where(condition),
  ]);
  return { rows, total: total?.n ?? 0 };
}

export async function getDevice(db: DbOrTx, scope: Scope, id: string) {
  const [row] = await db
    .select({ ...listColumns, imei: devices.imei, managementMode: devices.managementMode, lostModeMessage: devices.lostModeMessage, facts: devices.facts, inventoryAt: devices.inventoryAt, tags: devices.tags })
    .from(devices)
    .where(and(eq(devices.id, id), inScope(scope)));
  return row;
}

/** Newest first, keyset-paginated on the event id. */
export function listEvents(db: DbOrTx, deviceId: string, limit: number, beforeId?: number) {
  return db
    .select({ id: deviceEvents.id, kind: deviceEvents.kind, at: deviceEvents.at, data: deviceEvents.data, receivedAt: deviceEvents.receivedAt })
    .from(deviceEvents)
    .where(and(eq(deviceEvents.deviceId, deviceId), beforeId === undefined ? undefined : lt(deviceEvents.id, beforeId)))
    .orderBy(desc(deviceEvents.id))
    .limit(limit);
}

export function listApps(db: DbOrTx, deviceId: string) {
  return db
    .select({ identifier: deviceApps.identifier, name: deviceApps.name, version: deviceApps.version, versionCode: deviceApps.versionCode, installer: deviceApps.installer, system: deviceApps.system, updatedAt: deviceApps.updatedAt })
    .from(deviceApps)
    .where(eq(deviceApps.deviceId, deviceId))
    .orderBy(asc(deviceApps.identifier));
}
