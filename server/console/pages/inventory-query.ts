import { Type, type Static } from '@sinclair/typebox';
import { DEVICE_STATUSES, PLATFORMS, type DeviceStatus } from '../../infra/db/schema';
import { DEVICE_SORTS } from '../../modules/devices/devices.repository';
import type { DeviceQuery, ListQuery } from '../../modules/devices/devices.service';
import { Checkbox } from '../form-schema';

export const PER_PAGE = [50, 100, 500] as const;
const BATTERY_LOW_BELOW = 20;
const Uuid = Type.String({ format: 'uuid' });

/** The inventory's filters as a GET form sends them (and as the dashboard's links write them). */
export const InventoryFilters = {
  q: Type.Optional(Type.String({ maxLength: 100 })),
  platform: Type.Optional(Type.Union(PLATFORMS.map((p) => Type.Literal(p)))),
  model: Type.Optional(Type.String({ maxLength: 100 })),
  osVersion: Type.Optional(Type.String({ maxLength: 50 })),
  online: Type.Optional(Type.Union([Type.Literal('yes'), Type.Literal('no')])),
  batteryLow: Checkbox,
  lostMode: Checkbox,
  pending: Checkbox,
  silentDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  groupId: Type.Optional(Uuid),
  schoolId: Type.Optional(Uuid),
  status: Type.Optional(Type.Union([...DEVICE_STATUSES, 'any'].map((s) => Type.Literal(s)))),
};

export const InventoryQuery = Type.Object({
  ...InventoryFilters,
  sort: Type.Optional(Type.Union(DEVICE_SORTS.map((s) => Type.Literal(s)))),
  direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
  page: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
  perPage: Type.Optional(Type.Union(PER_PAGE.map((n) => Type.Literal(n)))),
  /** Only the results region, for the live refresh. */
  fragment: Type.Optional(Type.Literal('results')),
});
export type InventoryQuery = Static<typeof InventoryQuery>;

/** The service's selection for what the form says; active devices unless another status is asked for. */
export function deviceQueryOf(q: InventoryQuery): DeviceQuery {
  return {
    q: q.q,
    platform: q.platform,
    model: q.model,
    osVersion: q.osVersion,
    online: q.online === undefined ? undefined : q.online === 'yes',
    batteryBelow: q.batteryLow ? BATTERY_LOW_BELOW : undefined,
    lostMode: q.lostMode ? true : undefined,
    pending: q.pending ? true : undefined,
    silentDays: q.silentDays,
    groupId: q.groupId,
    schoolId: q.schoolId,
    status: q.status === 'any' ? undefined : ((q.status as DeviceStatus | undefined) ?? 'active'),
  };
}

export function listQueryOf(q: InventoryQuery): ListQuery {
  const perPage = q.perPage ?? PER_PAGE[0];
  return { ...deviceQueryOf(q), limit: perPage, offset: ((q.page ?? 1) - 1) * perPage, sort: q.sort, direction: q.direction };
}

/** The address of the same list with some parameters changed (undefined removes one). */
export function withParams(path: string, q: Record<string, unknown>, changes: Record<string, string | number | undefined>): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries({ ...q, ...changes })) if (value !== undefined && value !== null && key !== 'fragment') params.set(key, String(value));
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

/** The address the live refresh fetches: the same list, results only. */
export function liveUrlOf(path: string, q: Record<string, unknown>): string {
  const url = withParams(path, q, {});
  return `${url}${url.includes('?') ? '&' : '?'}fragment=results`;
}
