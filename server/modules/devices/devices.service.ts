import type { Db } from '../../infra/db/client';
import { NotFoundError } from '../../domain/errors';
import type { Presence } from '../../infra/presence';
import { inScope, type Scope } from '../access/principal';
import * as repo from './devices.repository';
import type { DeviceFilter } from './devices.repository';

export interface DevicesDeps {
  db: Db;
  presence: Pick<Presence, 'nodesOf'>;
  heartbeatSec: number;
}

/**
 * Fact sections anyone who may read the device sees. Network facts (addresses, the Wi-Fi a
 * tablet sees, which says where it is) and session details need the network permission.
 */
const PUBLIC_FACTS = ['hardware', 'software', 'management', 'security', 'status'];
const NETWORK_FACTS = ['network', 'session'];

function visibleFacts(facts: Record<string, unknown>, network: boolean): Record<string, unknown> {
  const keys = network ? [...PUBLIC_FACTS, ...NETWORK_FACTS] : PUBLIC_FACTS;
  return Object.fromEntries(keys.filter((k) => facts[k] !== undefined).map((k) => [k, facts[k]]));
}

export interface ListQuery extends Omit<DeviceFilter, 'online'> {
  online?: boolean;
  limit: number;
  offset: number;
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

/** The inventory as people see it: scoped to their schools, sorted by name. */
export function createDevicesService({ db, presence, heartbeatSec }: DevicesDeps) {
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

  function summary(row: repo.DeviceListRow, online: ReadonlySet<string>) {
    return { ...row, lastSeenAt: iso(row.lastSeenAt), enrolledAt: row.enrolledAt.toISOString(), online: online.has(row.id) };
  }

  return {
    async list(scope: Scope, query: ListQuery) {
      const { limit, offset, online, ...filter } = query;
      const { rows, total } = await repo.listDevices(db, scope, { ...filter, online: online === undefined ? undefined : { value: online, withinSec } }, { limit, offset });
      const live = await onlineNow(rows);
      return { items: rows.map((r) => summary(r, live)), total, limit, offset };
    },

    /**
     * One device. `networkScope` is where the caller may also see network facts (addresses, Wi-Fi
     * name, session details): technicians yes, a school director no.
     */
    async get(scope: Scope, id: string, networkScope: Scope | null = null) {
      const row = await repo.getDevice(db, scope, id);
      if (!row) throw new NotFoundError('Device');
      const { facts, inventoryAt, ...rest } = row;
      const online = await onlineNow([row]);
      return {
        ...rest,
        lastSeenAt: iso(rest.lastSeenAt),
        enrolledAt: rest.enrolledAt.toISOString(),
        online: online.has(id),
        inventoryAt: iso(inventoryAt),
        facts: visibleFacts(facts, networkScope !== null && inScope(networkScope, row.schoolId)),
      };
    },

    /** What the device reported happening to it (boots, enrollment, app installs...), newest first. */
    async events(scope: Scope, id: string, limit: number, before?: number) {
      if (!(await repo.getDevice(db, scope, id))) throw new NotFoundError('Device');
      const rows = await repo.listEvents(db, id, limit + 1, before);
      const items = rows.slice(0, limit).map((e) => ({ ...e, at: e.at.toISOString(), receivedAt: e.receivedAt.toISOString() }));
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
