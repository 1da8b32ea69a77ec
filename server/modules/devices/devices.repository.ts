import { and, asc, count, desc, eq, ilike, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import { pgArray, type DbOrTx } from '../../infra/db/client';
import { commands, deviceApps, deviceCertificates, deviceEvents, devices, groups, schools, type DeviceStatus, type Platform } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';

export const DEVICE_SORTS = ['name', 'model', 'osVersion', 'battery', 'lastSeen'] as const;
export type DeviceSort = (typeof DEVICE_SORTS)[number];

/** Commands still on their way to a device: created, not finished, not expired. */
export const PENDING_STATUSES = ['queued', 'sent', 'acknowledged'] as const;

export interface DeviceFilter {
  schoolId?: string;
  groupId?: string;
  status?: DeviceStatus;
  platform?: Platform;
  model?: string;
  osVersion?: string;
  /** Battery level strictly below this percentage. */
  batteryBelow?: number;
  lostMode?: boolean;
  /** Has at least one command on its way. */
  pending?: boolean;
  /** Seen within this many seconds (true) or not (false). */
  online?: { value: boolean; withinSec: number };
  /** Not heard from for at least this many seconds (or never). */
  silentForSec?: number;
  q?: string;
}

const inScope = (scope: Scope) => inSchoolScope(scope, devices.organisationId, devices.schoolId);

const pendingCommand = sql`exists (select 1 from ${commands} c where c.device_id = ${devices.id}
  and c.status = any(${pgArray(PENDING_STATUSES)}::text[]) and c.expires_at > now())`;

function where(scope: Scope, f: DeviceFilter): SQL {
  const parts: SQL[] = [inScope(scope)];
  if (f.schoolId) parts.push(eq(devices.schoolId, f.schoolId));
  if (f.groupId) parts.push(eq(devices.groupId, f.groupId));
  if (f.status) parts.push(eq(devices.status, f.status));
  if (f.platform) parts.push(eq(devices.platform, f.platform));
  if (f.model) parts.push(eq(devices.model, f.model));
  if (f.osVersion) parts.push(eq(devices.osVersion, f.osVersion));
  if (f.batteryBelow !== undefined) parts.push(sql`${devices.batteryLevel} < ${f.batteryBelow}`);
  if (f.lostMode !== undefined) parts.push(eq(devices.lostMode, f.lostMode));
  if (f.pending !== undefined) parts.push(f.pending ? pendingCommand : sql`not ${pendingCommand}`);
  if (f.online) {
    const recent = sql`${devices.lastSeenAt} > now() - make_interval(secs => ${f.online.withinSec})`;
    parts.push(f.online.value ? recent : sql`(${devices.lastSeenAt} is null or not (${recent}))`);
  }
  if (f.silentForSec !== undefined) parts.push(sql`(${devices.lastSeenAt} is null or ${devices.lastSeenAt} < now() - make_interval(secs => ${f.silentForSec}))`);
  if (f.q) {
    const like = `%${f.q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
    parts.push(or(ilike(devices.name, like), ilike(devices.serial, like), ilike(devices.model, like))!);
  }
  return and(...parts)!;
}

const SORT_COLUMNS = {
  name: devices.name,
  model: devices.model,
  osVersion: devices.osVersion,
  battery: devices.batteryLevel,
  lastSeen: devices.lastSeenAt,
} as const;

function orderOf(sort: DeviceSort, direction: 'asc' | 'desc'): SQL[] {
  const column = SORT_COLUMNS[sort];
  // Devices without the value (never reported) come last either way; the name then the id break ties.
  const primary = direction === 'asc' ? sql`${column} asc nulls last` : sql`${column} desc nulls last`;
  return sort === 'name' ? [direction === 'asc' ? asc(devices.name) : desc(devices.name), asc(devices.id)] : [primary, asc(devices.name), asc(devices.id)];
}

const listColumns = {
  id: devices.id,
  name: devices.name,
  schoolId: devices.schoolId,
  groupId: devices.groupId,
  platform: devices.platform,
  channel: devices.channel,
  status: devices.status,
  serial: devices.serial,
  manufacturer: devices.manufacturer,
  model: devices.model,
  osVersion: devices.osVersion,
  agentVersion: devices.agentVersion,
  agentVersionCode: devices.agentVersionCode,
  batteryLevel: devices.batteryLevel,
  charging: devices.charging,
  storageTotalBytes: devices.storageTotalBytes,
  storageFreeBytes: devices.storageFreeBytes,
  lostMode: devices.lostMode,
  lastSeenAt: devices.lastSeenAt,
  enrolledAt: devices.enrolledAt,
};
export type DeviceListRow = { [K in keyof typeof listColumns]: (typeof devices.$inferSelect)[K] };

export interface Page {
  limit: number;
  offset: number;
  sort?: DeviceSort;
  direction?: 'asc' | 'desc';
}

export async function listDevices(db: DbOrTx, scope: Scope, f: DeviceFilter, page: Page): Promise<{ rows: DeviceListRow[]; total: number }> {
  const condition = where(scope, f);
  const [rows, [total]] = await Promise.all([
    db
      .select(listColumns)
      .from(devices)
      .where(condition)
      .orderBy(...orderOf(page.sort ?? 'name', page.direction ?? 'asc'))
      .limit(page.limit)
      .offset(page.offset),
    db.select({ n: count() }).from(devices).where(condition),
  ]);
  return { rows, total: total?.n ?? 0 };
}

/** The same selection as a list, with school and group names, for an export (at most `limit` rows). */
export function exportDevices(db: DbOrTx, scope: Scope, f: DeviceFilter, limit: number) {
  return db
    .select({ ...listColumns, schoolCode: schools.code, schoolName: schools.name, groupName: groups.name })
    .from(devices)
    .innerJoin(schools, eq(schools.id, devices.schoolId))
    .leftJoin(groups, eq(groups.id, devices.groupId))
    .where(where(scope, f))
    .orderBy(asc(schools.name), asc(devices.name), asc(devices.id))
    .limit(limit);
}

export interface FleetGroup {
  schoolId: string;
  platform: Platform;
  osVersion: string | null;
  total: number;
  online: number;
  silent: number;
  lostMode: number;
}

/**
 * The active fleet counted by school, platform and OS version in one pass over the devices,
 * with online, silent and lost-mode counts alongside; callers add the groups up as they need.
 * The two instants come as parameters: computed per row, they would double the cost of the scan.
 */
export async function fleetGroups(db: DbOrTx, scope: Scope, onlineSince: Date, silentSince: Date): Promise<FleetGroup[]> {
  return db
    .select({
      schoolId: devices.schoolId,
      platform: devices.platform,
      osVersion: devices.osVersion,
      total: sql<number>`count(*)::int`,
      online: sql<number>`(count(*) filter (where ${devices.lastSeenAt} > ${onlineSince.toISOString()}::timestamptz))::int`,
      silent: sql<number>`(count(*) filter (where ${devices.lastSeenAt} is null or ${devices.lastSeenAt} < ${silentSince.toISOString()}::timestamptz))::int`,
      lostMode: sql<number>`(count(*) filter (where ${devices.lostMode}))::int`,
    })
    .from(devices)
    .where(and(inScope(scope), eq(devices.status, 'active')))
    .groupBy(devices.schoolId, devices.platform, devices.osVersion);
}

/** The models and OS versions found among the active devices in scope, to offer as filter choices. */
export async function deviceFacets(db: DbOrTx, scope: Scope, schoolId?: string): Promise<{ model: string | null; osVersion: string | null }[]> {
  return db
    .selectDistinct({ model: devices.model, osVersion: devices.osVersion })
    .from(devices)
    .where(and(inScope(scope), eq(devices.status, 'active'), schoolId ? eq(devices.schoolId, schoolId) : undefined));
}

/**
 * Active devices in scope with at least one command on its way. The few devices with pending
 * commands are looked up by id (an array parameter), rather than the whole fleet scanned.
 */
export async function countDevicesWithPendingCommands(db: DbOrTx, scope: Scope): Promise<number> {
  const pending = sql`array(select distinct c.device_id from ${commands} c where c.organisation_id = ${scope.organisationId}
    and c.status = any(${pgArray(PENDING_STATUSES)}::text[]) and c.expires_at > now())`;
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(devices)
    .where(and(sql`${devices.id} = any(${pending})`, inScope(scope), eq(devices.status, 'active')));
  return row?.n ?? 0;
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
    .select({ id: deviceEvents.id, kind: deviceEvents.kind, at: deviceEvents.at, data: deviceEvents.data, receivedAt: deviceEvents.receivedAt, timeUnverified: deviceEvents.timeUnverified })
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

/**
 * The device left management on its own (an iPad's CheckOut, a Windows unenrollment): it is
 * retired, every certificate it holds is revoked with `reason`, and what was waiting for it is
 * cancelled. Returns how many certificates were revoked.
 */
export async function retireFromManagement(tx: DbOrTx, deviceId: string, reason: string): Promise<number> {
  await tx.update(devices).set({ status: 'retired', updatedAt: sql`now()` }).where(and(eq(devices.id, deviceId), eq(devices.status, 'active')));
  const revoked = await tx
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: reason })
    .where(and(eq(deviceCertificates.deviceId, deviceId), isNull(deviceCertificates.revokedAt)))
    .returning({ id: deviceCertificates.id });
  await tx
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), inArray(commands.status, ['queued', 'sent', 'not_now'])));
  return revoked.length;
}
