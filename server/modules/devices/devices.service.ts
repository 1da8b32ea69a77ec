import type { Db } from '../../infra/db/client';
import { NotFoundError } from '../../domain/errors';
import type { Presence } from '../../infra/presence';
import { inScope, schoolsOf, type Scope } from '../access/principal';
import type { AgentSelfUpdate } from '../apps/agent-self-update.service';
import * as repo from './devices.repository';
import type { DeviceFilter, DeviceSort } from './devices.repository';

export interface DevicesDeps {
  db: Db;
  presence: Pick<Presence, 'nodesOf'>;
  heartbeatSec: number;
  /** Devices whose agent is older than this are shown outdated. */
  minAgentVersionCode?: number;
  /** Why an outdated agent is, or is not, updating itself (agent protocol §24.1). */
  selfUpdate: Pick<AgentSelfUpdate, 'stateOf'>;
}

/**
 * Fact sections anyone who may read the device sees. Network facts (addresses, the Wi-Fi a
 * tablet sees, which says where it is) and session details need the network permission.
 */
const PUBLIC_FACTS = ['hardware', 'software', 'management', 'security', 'status', 'attestation'];
const NETWORK_FACTS = ['network', 'session'];

function visibleFacts(facts: Record<string, unknown>, network: boolean): Record<string, unknown> {
  const keys = network ? [...PUBLIC_FACTS, ...NETWORK_FACTS] : PUBLIC_FACTS;
  return Object.fromEntries(keys.filter((k) => facts[k] !== undefined).map((k) => [k, facts[k]]));
}

/** A selection of devices as people ask for it: filters in plain values, pages and an order. */
export interface DeviceQuery extends Omit<DeviceFilter, 'online' | 'silentForSec'> {
  online?: boolean;
  /** Not heard from for at least this many days (or never). */
  silentDays?: number;
}

export interface ListQuery extends DeviceQuery {
  limit: number;
  offset: number;
  sort?: DeviceSort;
  direction?: 'asc' | 'desc';
}

/** Exports stop here; narrow the selection to export more. */
export const EXPORT_MAX_DEVICES = 100_000;
const DAY_SEC = 24 * 3600;
/**
 * How long the fleet's figures are reused for the same scope. Counting 100,000 tablets takes a
 * scan of the whole table; a dashboard read by several people at once, or refreshed, need not
 * repeat it more than every few seconds. The figures say when they were computed.
 */
export const FLEET_SUMMARY_TTL_MS = 10_000;
const FLEET_SUMMARY_KEPT = 500;

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** A device's clock may be wrong (agent protocol §21): an unverified time, or one from the future, gives way to when the server received it. */
const FUTURE_TOLERANCE_MS = 5 * 60 * 1000;
const shownAt = (e: { at: Date; receivedAt: Date; timeUnverified: boolean }) => (e.timeUnverified || e.at.getTime() > e.receivedAt.getTime() + FUTURE_TOLERANCE_MS ? e.receivedAt : e.at);

function tally<K>(map: Map<K, number>, key: K, n: number): void {
  map.set(key, (map.get(key) ?? 0) + n);
}

/** The inventory as people see it: scoped to their schools. */
export function createDevicesService({ db, presence, heartbeatSec, minAgentVersionCode, selfUpdate }: DevicesDeps) {
  const outdated = (code: number | null) => minAgentVersionCode !== undefined && code !== null && code < minAgentVersionCode;

  // The `online` filter works on last-seen times (heard from within two heartbeats, protocol §10),
  // which SQL can page through; the flag shown on each device is its live presence.
  const withinSec = heartbeatSec * 2;

  /**
   * Live presence when Redis answers; otherwise, rather than an error, what the last-seen times
   * say (heard from within two heartbeats).
   */
  async function onlineNow(rows: readonly { id: string; lastSeenAt: Date | null }[]): Promise<ReadonlySet<string>> {
    try {
      return new Set([...(await presence.nodesOf(rows.map((r) => r.id))).values()].flat());
    } catch {
      const since = Date.now() - withinSec * 1000;
      return new Set(rows.filter((r) => r.lastSeenAt && r.lastSeenAt.getTime() > since).map((r) => r.id));
    }
  }

  function filterOf(query: DeviceQuery): DeviceFilter {
    const { online, silentDays, ...rest } = query;
    return { ...rest, online: online === undefined ? undefined : { value: online, withinSec }, silentForSec: silentDays === undefined ? undefined : silentDays * DAY_SEC };
  }

  const summaries = new Map<string, { expires: number; value: Promise<FleetSummary> }>();

  async function computeFleetSummary(scope: Scope, silentDays: number) {
    const now = Date.now();
    const [groups, pendingCommands] = await Promise.all([
      repo.fleetGroups(db, scope, new Date(now - withinSec * 1000), new Date(now - silentDays * DAY_SEC * 1000)),
      repo.countDevicesWithPendingCommands(db, scope),
    ]);
    const bySchool = new Map<string, number>();
    const byPlatform = new Map<string, number>();
    const byOsVersion = new Map<string, { platform: string; osVersion: string | null; count: number }>();
    let total = 0;
    let online = 0;
    let silent = 0;
    let lostMode = 0;
    for (const g of groups) {
      total += g.total;
      online += g.online;
      silent += g.silent;
      lostMode += g.lostMode;
      tally(bySchool, g.schoolId, g.total);
      tally(byPlatform, g.platform, g.total);
      const key = `${g.platform}\u0000${g.osVersion ?? ''}`;
      const entry = byOsVersion.get(key) ?? { platform: g.platform, osVersion: g.osVersion, count: 0 };
      entry.count += g.total;
      byOsVersion.set(key, entry);
    }
    const sorted = <T extends { count: number }>(items: T[]) => items.sort((a, b) => b.count - a.count);
    return {
      total,
      online,
      silent,
      silentDays,
      lostMode,
      pendingCommands,
      bySchool: sorted([...bySchool].map(([schoolId, count]) => ({ schoolId, count }))),
      byPlatform: sorted([...byPlatform].map(([platform, count]) => ({ platform, count }))),
      byOsVersion: sorted([...byOsVersion.values()]),
      computedAt: new Date(now).toISOString(),
    };
  }
  type FleetSummary = Awaited<ReturnType<typeof computeFleetSummary>>;

  function summary(row: repo.DeviceListRow, online: ReadonlySet<string>) {
    return { ...row, lastSeenAt: iso(row.lastSeenAt), enrolledAt: row.enrolledAt.toISOString(), online: online.has(row.id), agentOutdated: outdated(row.agentVersionCode) };
  }

  return {
    async list(scope: Scope, query: ListQuery) {
      const { limit, offset, sort, direction, ...filter } = query;
      const { rows, total } = await repo.listDevices(db, scope, filterOf(filter), { limit, offset, sort, direction });
      const live = await onlineNow(rows);
      return { items: rows.map((r) => summary(r, live)), total, limit, offset };
    },

    /** The rows of an export, in school then name order; `truncated` when the selection is larger. */
    async exportRows(scope: Scope, query: DeviceQuery) {
      const rows = await repo.exportDevices(db, scope, filterOf(query), EXPORT_MAX_DEVICES + 1);
      return { rows: rows.slice(0, EXPORT_MAX_DEVICES), truncated: rows.length > EXPORT_MAX_DEVICES };
    },

    /**
     * The active fleet in figures: by school, by platform, by platform and OS version; how many
     * are online now, silent for `silentDays` or more, in lost mode, or waiting for a command.
     * Computed at most every FLEET_SUMMARY_TTL_MS for the same scope; readers arriving meanwhile
     * share the same computation.
     */
    fleetSummary(scope: Scope, options: { silentDays: number }): Promise<FleetSummary> {
      const key = `${scope.organisationId}|${schoolsOf(scope)?.toSorted().join(',') ?? '*'}|${options.silentDays}`;
      const now = Date.now();
      const kept = summaries.get(key);
      if (kept && kept.expires > now) return kept.value;
      for (const [k, entry] of summaries) if (entry.expires <= now || summaries.size >= FLEET_SUMMARY_KEPT) summaries.delete(k);
      const value = computeFleetSummary(scope, options.silentDays);
      summaries.set(key, { expires: now + FLEET_SUMMARY_TTL_MS, value });
      value.catch(() => summaries.delete(key));
      return value;
    },

    /** The distinct models and OS versions of the active devices in scope (or in one school), sorted. */
    async facets(scope: Scope, schoolId?: string) {
      const rows = await repo.deviceFacets(db, scope, schoolId);
      const distinct = (values: (string | null)[]) => [...new Set(values.filter((v): v is string => v !== null))].sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
      return { models: distinct(rows.map((r) => r.model)), osVersions: distinct(rows.map((r) => r.osVersion)) };
    },

    /**
     * One device. `networkScope` is where the caller may also see network facts (addresses, Wi-Fi
     * name, session details): technicians yes, a school director no.
     */
    async get(scope: Scope, id: string, networkScope: Scope | null = null) {
      const row = await repo.getDevice(db, scope, id);
      if (!row) throw new NotFoundError('Device');
      const { facts, inventoryAt, ...rest } = row;
      const [online, update] = await Promise.all([onlineNow([row]), selfUpdate.stateOf(id)]);
      return {
        ...rest,
        lastSeenAt: iso(rest.lastSeenAt),
        enrolledAt: rest.enrolledAt.toISOString(),
        online: online.has(id),
        agentOutdated: outdated(rest.agentVersionCode),
        agentSelfUpdate: update.state,
        agentSelfUpdateReason: 'reason' in update ? update.reason : null,
        agentSelfUpdateCommandId: update.state === 'pending' ? update.commandId : null,
        inventoryAt: iso(inventoryAt),
        facts: visibleFacts(facts, networkScope !== null && inScope(networkScope, row.schoolId)),
      };
    },

    /** What the device reported happening to it (boots, enrollment, app installs...), newest first. */
    async events(scope: Scope, id: string, limit: number, before?: number) {
      if (!(await repo.getDevice(db, scope, id))) throw new NotFoundError('Device');
      const rows = await repo.listEvents(db, id, limit + 1, before);
      const items = rows.slice(0, limit).map((e) => ({ ...e, at: e.at.toISOString(), receivedAt: e.receivedAt.toISOString(), shownAt: shownAt(e).toISOString() }));
      return { items, next: rows.length > limit ? items[items.length - 1]!.id : null };
    },

    async apps(scope: Scope, id: string) {
      if (!(await repo.getDevice(db, scope, id))) throw new NotFoundError('Device');
      const rows = await repo.listApps(db, id);
      return { items: rows.map((a) => ({ ...a, updatedAt: a.updatedAt.toISOString() })) };
    },
  };
}
export type DevicesService = ReturnType<typeof createDevicesService>;
