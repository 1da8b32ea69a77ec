import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { COMMAND_STATUSES } from '../../infra/db/schema';

/** Neutral command kinds a technician can issue today; app and profile kinds join this list later. */
export const COMMAND_KINDS = ['lock', 'wipe', 'reboot', 'shutdown', 'locate', 'lost_mode_on', 'lost_mode_off', 'refresh_inventory', 'message'] as const;
export type CommandKind = (typeof COMMAND_KINDS)[number];

const strict = { additionalProperties: false } as const;
const Empty = Type.Object({}, strict);

/** Neutral parameters per kind: what the technician means, whatever the platform. */
export const KIND_PARAMS: Record<CommandKind, TSchema> = {
  lock: Type.Object({ message: Type.Optional(Type.String({ maxLength: 500 })), phone: Type.Optional(Type.String({ maxLength: 64 })) }, strict),
  wipe: Type.Object(
    {
      preserveFactoryResetProtection: Type.Optional(Type.Boolean()),
      wipeExternalStorage: Type.Optional(Type.Boolean()),
      reason: Type.Optional(Type.String({ maxLength: 200 })),
    },
    strict,
  ),
  reboot: Empty,
  shutdown: Empty,
  locate: Empty,
  lost_mode_on: Type.Object(
    {
      message: Type.String({ minLength: 1, maxLength: 500 }),
      phone: Type.Optional(Type.String({ maxLength: 64 })),
      footnote: Type.Optional(Type.String({ maxLength: 200 })),
    },
    strict,
  ),
  lost_mode_off: Empty,
  refresh_inventory: Empty,
  message: Type.Object({ title: Type.Optional(Type.String({ maxLength: 100 })), text: Type.String({ minLength: 1, maxLength: 2000 }) }, strict),
};

const HOUR = 3600;
const DAY = 24 * HOUR;
/** How long a command may wait for its device: an old lock or message is pointless, a wipe is not. */
export const DEFAULT_TTL_SEC: Record<CommandKind, number> = {
  lock: HOUR,
  wipe: 7 * DAY,
  reboot: HOUR,
  shutdown: HOUR,
  locate: HOUR,
  lost_mode_on: 7 * DAY,
  lost_mode_off: 7 * DAY,
  refresh_inventory: DAY,
  message: HOUR,
};
export const MAX_TTL_SEC = 30 * DAY;

const Kind = Type.Union(COMMAND_KINDS.map((k) => Type.Literal(k)));
const Uuid = Type.String({ format: 'uuid' });

const issueFields = {
  kind: Kind,
  params: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'Kind-specific parameters (see docs/commands.md).' })),
  expiresInSec: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_TTL_SEC, description: 'Defaults per kind.' })),
  confirm: Type.Optional(Type.String({ description: 'Wipe only: the exact device name, or the confirmationToken of a first call.' })),
};

export const IssueBody = Type.Object(issueFields, strict);
export type IssueBody = Static<typeof IssueBody>;

export const BulkBody = Type.Object(
  {
    ...issueFields,
    target: Type.Union(
      [
        Type.Object({ schoolId: Uuid }, strict),
        Type.Object({ groupId: Uuid }, strict),
        Type.Object({ deviceIds: Type.Array(Uuid, { minItems: 1, maxItems: 20000, uniqueItems: true }) }, strict),
      ],
      { description: 'One school, one group or a list of devices.' },
    ),
  },
  strict,
);
export type BulkBody = Static<typeof BulkBody>;

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Time = Type.String({ format: 'date-time' });

export const CommandView = Type.Object({
  id: Uuid,
  deviceId: Uuid,
  kind: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union(COMMAND_STATUSES.map((s) => Type.Literal(s))),
  origin: Type.String(),
  issuedBy: Nullable(Uuid),
  batchId: Nullable(Uuid),
  attempts: Type.Integer(),
  createdAt: Time,
  expiresAt: Time,
  sentAt: Nullable(Time),
  acknowledgedAt: Nullable(Time),
  completedAt: Nullable(Time),
  result: Nullable(Type.Record(Type.String(), Type.Unknown())),
  error: Nullable(Type.Object({ code: Type.String(), message: Nullable(Type.String()) })),
});
export type CommandView = Static<typeof CommandView>;

export const HistoryQuery = Type.Object(
  {
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 200, default: 50 })),
    cursor: Type.Optional(Type.String({ maxLength: 200, description: 'nextCursor of the previous page.' })),
  },
  strict,
);
export const HistoryPage = Type.Object({ items: Type.Array(CommandView), nextCursor: Nullable(Type.String()) });

export const BulkResult = Type.Object({
  batchId: Uuid,
  created: Type.Integer({ description: 'Commands created (or being created by background chunks, see `mode`).' }),
  skipped: Type.Array(Type.Object({ deviceId: Uuid, reason: Type.String() })),
  mode: Type.Union([Type.Literal('inline'), Type.Literal('fanout')]),
});

export const BatchQuery = Type.Object({ batchId: Uuid }, strict);
export const BatchProgress = Type.Object({
  batchId: Uuid,
  total: Type.Integer(),
  counts: Type.Record(Type.String(), Type.Integer(), { description: 'Commands of the batch by status.' }),
});

export const LocationView = Type.Object({
  deviceId: Uuid,
  lat: Type.Number(),
  lon: Type.Number(),
  accuracyM: Type.Number(),
  altitudeM: Nullable(Type.Number()),
  provider: Type.String(),
  fixTime: Time,
  receivedAt: Time,
  source: Type.String(),
  commandId: Nullable(Uuid),
});

export const IdParams = Type.Object({ id: Uuid });
