import type { Db } from '../../infra/db/client';
import { NotFoundError } from '../../infra/http/errors';
import type { Presence } from '../../infra/presence';
import type { Scope } from '../access/principal';
import * as repo from './devices.repository';
import type { DeviceFilter } from './devices.repository';

export interface DevicesDeps {
  db: Db;
  presence: Pick<Presence, 'isOnline'>;
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
  // A device is online while it has been heard from within two heartbeats (protocol §10).
  const withinSec = heartbeatSec * 2;
  const onlineFrom = (lastSeenAt: Date | null) => Boolean(lastSeenAt && Date.now() - lastSeenAt.getTime() < withinSec * 1000);

  function summary(row: repo.DeviceListRow) {
    return { ...row, lastSeenAt: iso(row.lastSeenAt), enrolledAt: row.enrolledAt.toISOString(), online: onlineFrom(row.lastSeenAt) };
  }

  return {
    async list(scope: Scope, query: ListQuery) {
      const { limit, offset, online, ...filter } = query;
      const { rows, total } = await repo.listDevices(db, scope, { ...filter, online: online === undefined ? undefined : { value: online, withinSec } }, { limit, offset });
      return { items: rows.map(summary), total, limit, offset };
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
