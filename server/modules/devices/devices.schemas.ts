import { Type } from '@sinclair/typebox';

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
  status: Type.String(),
  serial: NullableString,
  manufacturer: NullableString,
  model: NullableString,
  osVersion: NullableString,
  agentVersion: NullableString,
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

export const DeviceEvent = Type.Object({
  id: Type.Integer(),
  kind: Type.String({ description: 'boot, shutdown, enrollment_complete, app_install_result... (open vocabulary)' }),
  at: Type.String({ format: 'date-time', description: 'When it happened, by the device clock' }),
  receivedAt: Type.String({ format: 'date-time' }),
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
    schoolId: Type.Optional(Uuid),
    groupId: Type.Optional(Uuid),
    status: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('wiped'), Type.Literal('retired')])),
    platform: Type.Optional(Type.Union([Type.Literal('android'), Type.Literal('ios'), Type.Literal('windows')])),
    online: Type.Optional(Type.Boolean()),
    q: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
    offset: Type.Integer({ minimum: 0, default: 0 }),
  },
  { additionalProperties: false },
);
