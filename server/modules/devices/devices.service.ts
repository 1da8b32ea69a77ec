import type { Db } from '../../infra/db/client';
import { NotFoundError } from '../../infra/http/errors';
import type { Presence } from '../../infra/presence';
import type { Scope } from '../access/principal';
import * as repo from './devices.repository';
import type { DeviceFilter } from './devices.repository';

export interface DevicesDeps {
  db: Db;
  presence: Pick<Presence, 'isOnline' | 'nodesOf'>;
  heartbeatSec: number;
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

  function summary(row: repo.DeviceListRow, online: ReadonlySet<string>) {
    return { ...row, lastSeenAt: iso(row.lastSeenAt), enrolledAt: row.enrolledAt.toISOString(), online: online.has(row.id) };
  }

  return {
    async list(scope: Scope, query: ListQuery) {
      const { limit, offset, online, ...filter } = query;
      const { rows, total } = await repo.listDevices(db, scope, { ...filter, online: online === undefined ? undefined : { value: online, withinSec } }, { limit, offset });
      const live = new Set([...(await presence.nodesOf(rows.map((r) => r.id))).values()].flat());
      return { items: rows.map((r) => summary(r, live)), total, limit, offset };
    },

    async get(scope: Scope, id: string) {
      const row = await repo.getDevice(db, scope, id);
      if (!row) throw new NotFoundError('Device');
      const { facts, inventoryAt, ...rest } = row;
      // Enrollment bookkeeping (token id, key fingerprint) is internal, not inventory.
      const { enrollment: _enrollment, ...publicFacts } = facts;
      return { ...rest, lastSeenAt: iso(rest.lastSeenAt), enrolledAt: rest.enrolledAt.toISOString(), online: await presence.isOnline(id), inventoryAt: iso(inventoryAt), facts: publicFacts };
    },

    async apps(scope: Scope, id: string) {
      if (!(await repo.getDevice(db, scope, id))) throw new NotFoundError('Device');
      const rows = await repo.listApps(db, id);
      return { items: rows.map((a) => ({ ...a, updatedAt: a.updatedAt.toISOString() })) };
    },
  };
}
export type DevicesService = ReturnType<typeof createDevicesService>;
