import { Type } from '@sinclair/typebox';
import { DEVICE_STATUSES, PLATFORMS } from '../../infra/db/schema';
import { DEVICE_SORTS } from './devices.repository';

const Uuid = Type.String({ format: 'uuid' });
const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const NullableInt = Type.Union([Type.Integer(), Type.Null()]);
const NullableString = Nullable(Type.String());

export const DeviceSummary = Type.Object({
  id: Uuid,
  name: Type.String(),
  schoolId: Uuid,
  groupId: Nullable(Uuid),
  platform: Type.String(),
  channel: Nullable(Type.String({ description: 'Null: the platform’s own protocol (the agent, Apple MDM, OMA-DM); `amapi`: Google’s Android Management API' })),
  status: Type.String(),
  serial: NullableString,
  manufacturer: NullableString,
  model: NullableString,
  osVersion: NullableString,
  agentVersion: NullableString,
  agentVersionCode: NullableInt,
  /** Below the server's minimum agent version (`AGENT_MIN_VERSION_CODE`): to be updated. */
  agentOutdated: Type.Boolean(),
  batteryLevel: NullableInt,
  charging: NullableString,
  storageTotalBytes: NullableInt,
  storageFreeBytes: NullableInt,
  lostMode: Type.Boolean(),
  online: Type.Boolean(),
  lastSeenAt: NullableString,
  enrolledAt: Type.String({ format: 'date-time' }),
});

export const DeviceDetail = Type.Composite([
  DeviceSummary,
  Type.Object({
    imei: NullableString,
    agentSelfUpdate: Type.Union([Type.Null(), Type.Literal('pending'), Type.Literal('not_announced'), Type.Literal('not_configured'), Type.Literal('failed')], {
      description:
        "Null unless `agentOutdated`. `pending`: the server sends the agent its own update (`agentSelfUpdateCommandId`, or at its next connection when null), the newest version of the agent's package in the app catalog reaching the minimum; `not_announced`: the agent does not announce `install_app` (a 1.0 agent), update it by hand; `not_configured`: no catalog version of the agent's package reaches the minimum (or the agent's package is unknown); `failed`: the update to that version failed or was cancelled and is not sent again on its own. See docs/enrollment.md.",
    }),
    agentSelfUpdateReason: NullableString,
    agentSelfUpdateCommandId: Type.Union([Type.Null(), Type.String({ format: 'uuid' })], { description: 'The pending self-update command, when one is queued.' }),
    managementMode: NullableString,
    lostModeMessage: NullableString,
    tags: Type.Array(Type.String()),
    inventoryAt: NullableString,
    facts: Type.Record(Type.String(), Type.Unknown()),
  }),
]);

export const DeviceList = Type.Object({ items: Type.Array(DeviceSummary), total: Type.Integer(), limit: Type.Integer(), offset: Type.Integer() });

export const DeviceApp = Type.Object({
  identifier: Type.String(),
  name: NullableString,
  version: NullableString,
  versionCode: NullableInt,
  installer: NullableString,
  system: Type.Boolean(),
  updatedAt: Type.String({ format: 'date-time' }),
});

export const DeviceParams = Type.Object({ id: Uuid });

/** The filters of a device selection, shared by the REST API and the console. */
export const DeviceFilters = {
  schoolId: Type.Optional(Uuid),
  groupId: Type.Optional(Uuid),
  status: Type.Optional(Type.Union(DEVICE_STATUSES.map((s) => Type.Literal(s)))),
  platform: Type.Optional(Type.Union(PLATFORMS.map((p) => Type.Literal(p)))),
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
  osVersion: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
  batteryBelow: Type.Optional(Type.Integer({ minimum: 1, maximum: 100, description: 'Battery level strictly below this percentage' })),
  lostMode: Type.Optional(Type.Boolean()),
  pending: Type.Optional(Type.Boolean({ description: 'Has a command on its way (or not)' })),
  online: Type.Optional(Type.Boolean()),
  silentDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650, description: 'Not heard from for at least this many days, or never' })),
  q: Type.Optional(Type.String({ minLength: 1, maxLength: 100, description: 'Part of the name, serial number or model' })),
};

export const DeviceOrder = {
  sort: Type.Optional(Type.Union(DEVICE_SORTS.map((s) => Type.Literal(s)))),
  direction: Type.Optional(Type.Union([Type.Literal('asc'), Type.Literal('desc')])),
};

export const DeviceEvent = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ description: 'boot, shutdown, enrollment_complete, app_install_result... (open vocabulary)' }),
  at: Type.String({ format: 'date-time', description: 'When it happened, as the device reported it' }),
  receivedAt: Type.String({ format: 'date-time' }),
  timeUnverified: Type.Boolean({ description: 'true: `at` is the device clock, never compared with the server clock' }),
  shownAt: Type.String({ format: 'date-time', description: '`at`, or `receivedAt` when `at` cannot be trusted (unverified, or more than 5 minutes after it was received)' }),
  data: Type.Record(Type.String(), Type.Unknown()),
});

export const EventsQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, maximum: 200, default: 50 }),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: Number.MAX_SAFE_INTEGER, description: 'Cursor: the id of the last event already read' })),
  },
  { additionalProperties: false },
);
export const EventsPage = Type.Object({ items: Type.Array(DeviceEvent), next: Type.Union([Type.Integer(), Type.Null()]) });

export const ListDevicesQuery = Type.Object(
  {
    ...DeviceFilters,
    ...DeviceOrder,
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: Type.Integer({ minimum: 0, maximum: 1_000_000, default: 0 }),
  },
  { additionalProperties: false },
);

export const SummaryQuery = Type.Object({ silentDays: Type.Integer({ minimum: 1, maximum: 3650, default: 7 }) }, { additionalProperties: false });

export const FleetSummary = Type.Object({
  total: Type.Integer(),
  online: Type.Integer({ description: 'Heard from within two heartbeats' }),
  silent: Type.Integer({ description: 'Not heard from for silentDays or more' }),
  silentDays: Type.Integer(),
  lostMode: Type.Integer(),
  pendingCommands: Type.Integer({ description: 'Devices with a command on its way' }),
  bySchool: Type.Array(Type.Object({ schoolId: Uuid, count: Type.Integer() })),
  byPlatform: Type.Array(Type.Object({ platform: Type.String(), count: Type.Integer() })),
  byOsVersion: Type.Array(Type.Object({ platform: Type.String(), osVersion: NullableString, count: Type.Integer() })),
  computedAt: Type.String({ format: 'date-time', description: 'The figures are reused for a few seconds for the same scope' }),
});
