import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { ISSUABLE_COMMAND_KINDS as COMMAND_KINDS, COMMAND_STATUSES, type IssuableCommandKind as CommandKind } from '../../domain/commands';
import { NeutralProfile, PROFILE_ID_PATTERN } from '../profiles/profile.schemas';

/** The kinds a person issues through the API (`apply_policy` comes from profiles only). */
export { COMMAND_KINDS, type CommandKind };

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
  /** A version of the app catalog; the server fills in its download URL, hash, size and signer. */
  install_app: Type.Object({ appVersionId: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }) }, strict),
  /** An Android package or iPad bundle id by name, or any app of the catalog (an MSI by its ProductCode, an MSIX by its family). */
  remove_app: Type.Union([
    Type.Object({ packageName: Type.String({ pattern: '^[A-Za-z][A-Za-z0-9_]*(\\.[A-Za-z][A-Za-z0-9_]*)+$', maxLength: 255 }) }, strict),
    Type.Object({ appId: Type.String({ pattern: '^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$' }) }, strict),
  ]),
  refresh_apps: Empty,
  lost_mode_sound: Empty,
  /** The neutral profile itself: the platform compiles (and for Apple signs) it when handing it out. */
  install_profile: Type.Object({ profile: NeutralProfile }, strict),
  remove_profile: Type.Object({ profileId: Type.String({ pattern: PROFILE_ID_PATTERN, maxLength: 100 }) }, strict),
  profile_list: Empty,
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
  install_app: 7 * DAY,
  remove_app: 7 * DAY,
  refresh_apps: DAY,
  lost_mode_sound: HOUR,
  install_profile: 7 * DAY,
  remove_profile: 7 * DAY,
  profile_list: DAY,
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

const Nullable = <T extends TSchema>(t: T, options?: { description: string }) => Type.Union([t, Type.Null()], options);
const Time = Type.String({ format: 'date-time' });

export const CommandView = Type.Object({
  id: Uuid,
  deviceId: Uuid,
  kind: Type.String(),
  params: Type.Record(Type.String(), Type.Unknown()),
  status: Type.Union(COMMAND_STATUSES.map((s) => Type.Literal(s))),
  origin: Type.String(),
  issuedBy: Nullable(Uuid, { description: 'The person who issued it; null when the system or a campaign did (campaignId names the campaign).' }),
  batchId: Nullable(Uuid),
  campaignId: Nullable(Uuid),
  attempts: Type.Integer(),
  createdAt: Time,
  expiresAt: Time,
  sentAt: Nullable(Time),
  acknowledgedAt: Nullable(Time),
  completedAt: Nullable(Time),
  result: Nullable(Type.Record(Type.String(), Type.Unknown(), { description: 'What the device reported. A locate result never carries the position: read it from the device\'s location (audited).' })),
  error: Nullable(Type.Object({ code: Type.String(), message: Nullable(Type.String()) })),
  lateResult: Nullable(
    Type.Object(
      { status: Type.String(), result: Nullable(Type.Record(Type.String(), Type.Unknown())), error: Nullable(Type.Object({ code: Type.String(), message: Nullable(Type.String()) })), receivedAt: Time },
      { description: 'A result the device sent after the command was already final (e.g. cancelled or expired): recorded, never applied.' },
    ),
  ),
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
  created: Type.Integer({ description: 'Devices that get the command: already stored (`inline`), or being stored by background chunks (`fanout`, see the batch progress).' }),
  skipped: Type.Array(Type.Object({ deviceId: Uuid, reason: Type.String() })),
  mode: Type.Union([Type.Literal('inline'), Type.Literal('fanout')]),
});

export const BatchQuery = Type.Object({ batchId: Uuid }, strict);
export const BatchProgress = Type.Object({
  batchId: Uuid,
  state: Type.Union([Type.Literal('pending'), Type.Literal('done')], { description: '`pending` while background chunks are still storing commands.' }),
  eligible: Type.Integer({ description: 'Devices the bulk action was decided for.' }),
  stored: Type.Integer({ description: 'Commands stored so far.' }),
  total: Type.Integer({ description: 'Commands stored so far that the caller may see.' }),
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

const problemFields = { type: Type.String(), title: Type.String(), status: Type.Integer(), detail: Type.String(), code: Type.String(), instance: Type.Optional(Type.String()) };

/** The answers of a wipe sent without, or with a wrong, confirmation. */
export const WipeRefusals = {
  400: Type.Object(
    { ...problemFields, errors: Type.Optional(Type.Array(Type.Unknown())) },
    { description: 'Invalid request; `code` is `confirmation_mismatch` when `confirm` matches neither the device name nor a confirmation token.' },
  ),
  428: Type.Object(
    {
      ...problemFields,
      code: Type.Literal('confirmation_required'),
      confirmationToken: Type.String({ description: 'Repeat the same request with `confirm` set to this token (valid `expiresInSec`, bound to you and this target).' }),
      expiresInSec: Type.Integer(),
      deviceName: Type.Optional(Type.String({ description: 'The name to type back as `confirm` instead (single device).' })),
    },
    { description: 'A wipe needs a confirmation: the device name, or this token.' },
  ),
};

/** Why a command cannot be created for this device now. */
export const IssueConflict = {
  409: Type.Object(
    {
      ...problemFields,
      minAgentVersionCode: Type.Optional(Type.Integer({ description: '`agent_outdated`: the lowest agent versionCode given commands.' })),
      agentVersionCode: Type.Optional(Type.Integer({ description: "`agent_outdated`: the versionCode the device's agent last announced." })),
    },
    {
      description:
        '`device_not_active` (wiped or retired), or `agent_outdated`: the Android agent is older than `AGENT_MIN_VERSION_CODE` and takes nothing but its own update until it is updated (agent protocol §24.1).',
    },
  ),
};
