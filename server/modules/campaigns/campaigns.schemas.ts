import { Type, type Static } from '@sinclair/typebox';
import { CAMPAIGN_ACTIONS, CAMPAIGN_STATUSES, TARGET_STATUSES, WAVE_PROMOTIONS, WAVE_STATUSES, WEEKDAYS } from '../../domain/campaigns';
import { PLATFORMS } from '../../domain/devices';

const strict = { additionalProperties: false } as const;
const Uuid = Type.String({ format: 'uuid' });
const literals = <T extends readonly string[]>(values: T) => Type.Unsafe<T[number]>({ type: 'string', enum: [...values] });
const Pct = (description: string) => Type.Integer({ minimum: 0, maximum: 100, description });
const LocalDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$', description: 'A local date, YYYY-MM-DD' });

export const Window = Type.Object(
  {
    days: Type.Array(literals(WEEKDAYS), { minItems: 1, maxItems: 7, uniqueItems: true }),
    start: Type.String({ pattern: '^([01]\\d|2[0-3]):[0-5]\\d$', description: 'HH:MM, in the school’s time zone' }),
    end: Type.String({ pattern: '^(([01]\\d|2[0-3]):[0-5]\\d|24:00)$', description: 'HH:MM; 24:00 is midnight at the end of the day' }),
    nextDay: Type.Optional(Type.Boolean({ description: 'The window ends on the next day (17:30 to 07:30)' })),
  },
  strict,
);

export const Target = Type.Object(
  {
    schoolIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000, uniqueItems: true })),
    communeIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000, uniqueItems: true })),
    groupIds: Type.Optional(Type.Array(Uuid, { maxItems: 1000, uniqueItems: true })),
    deviceIds: Type.Optional(Type.Array(Uuid, { maxItems: 100_000, uniqueItems: true })),
    platforms: Type.Optional(Type.Array(literals(PLATFORMS), { minItems: 1, uniqueItems: true })),
    tags: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { minItems: 1, maxItems: 50, uniqueItems: true })),
    installedApp: Type.Optional(Type.String({ minLength: 1, maxLength: 255, description: 'Only devices that report this app installed (an update)' })),
  },
  { ...strict, description: 'Schools, communes, groups and listed devices add up; platforms and tags then narrow the set. Empty: every device of the caller’s scope.' },
);

export const WaveInput = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 100 })),
    schoolIds: Type.Optional(Type.Array(Uuid, { minItems: 1, maxItems: 1000, uniqueItems: true })),
    pilot: Type.Optional(Type.Boolean({ description: 'The organisation’s pilot schools' })),
    minSuccessPct: Pct('Promoted once at least this share of its devices succeeded'),
    maxFailurePct: Pct('Failed, and the campaign stopped, once more than this share failed'),
    promotion: Type.Optional(literals(WAVE_PROMOTIONS)),
  },
  { ...strict, description: 'Without schoolIds nor pilot, the wave takes every school no earlier wave took; it must be the last.' },
);

export const Plan = {
  windows: Type.Array(Window, { minItems: 1, maxItems: 50 }),
  timeZone: Type.Optional(Type.String({ minLength: 1, maxLength: 64, description: 'Read the windows in this zone rather than in each school’s own' })),
  excludedDates: Type.Optional(Type.Array(Type.Object({ from: LocalDate, to: LocalDate, summary: Type.Optional(Type.String({ maxLength: 200 })), schoolIds: Type.Optional(Type.Array(Uuid, { minItems: 1 })) }, strict), { maxItems: 1000 })),
  calendars: Type.Optional(
    Type.Array(Type.Object({ ics: Type.String({ minLength: 1, maxLength: 1_000_000, description: 'An iCalendar file: each event is excluded' }), schoolIds: Type.Optional(Type.Array(Uuid, { minItems: 1 })) }, strict), { maxItems: 20 }),
  ),
  waves: Type.Optional(Type.Array(WaveInput, { minItems: 1, maxItems: 20 })),
  perSchoolCap: Type.Integer({ minimum: 1, maximum: 100_000, description: 'Devices of one school installing at once' }),
  retry: Type.Optional(Type.Object({ maxAttempts: Type.Integer({ minimum: 1, maximum: 10 }), backoffSec: Type.Integer({ minimum: 10, maximum: 86_400 }) }, strict)),
  offlineDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 365 })),
};

export const CreateCampaignBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 200 }),
    action: literals(CAMPAIGN_ACTIONS),
    appVersionId: Type.Optional(Uuid),
    appId: Type.Optional(Uuid),
    profileId: Type.Optional(Uuid),
    target: Target,
    startAt: Type.String({ format: 'date-time' }),
    deadline: Type.Optional(Type.String({ format: 'date-time' })),
    ...Plan,
  },
  strict,
);
export type CreateCampaignBody = Static<typeof CreateCampaignBody>;

export const ReviseTargetBody = Type.Object({ target: Target, reason: Type.String({ minLength: 1, maxLength: 500 }) }, strict);
export type ReviseTargetBody = Static<typeof ReviseTargetBody>;

export const TemplateBody = Type.Object({ ...Plan, autoUpdateAppIds: Type.Array(Uuid, { maxItems: 1000, uniqueItems: true }) }, strict);
export type TemplateBody = Static<typeof TemplateBody>;

export const IdParams = Type.Object({ id: Uuid }, strict);
export const WaveParams = Type.Object({ id: Uuid, position: Type.Integer({ minimum: 1, maximum: 20 }) }, strict);

const Counts = Type.Object(Object.fromEntries(TARGET_STATUSES.map((s) => [s, Type.Integer()])) as Record<(typeof TARGET_STATUSES)[number], ReturnType<typeof Type.Integer>>);

export const CampaignView = Type.Object({
  id: Uuid,
  name: Type.String(),
  action: literals(CAMPAIGN_ACTIONS),
  subject: Type.Record(Type.String(), Type.String()),
  target: Target,
  status: literals(CAMPAIGN_STATUSES),
  origin: Type.String(),
  startAt: Type.String({ format: 'date-time' }),
  deadline: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  windows: Type.Array(Window),
  excludedDates: Type.Array(Type.Object({ from: LocalDate, to: LocalDate, summary: Type.Optional(Type.String()), schoolIds: Type.Optional(Type.Array(Uuid)) })),
  perSchoolCap: Type.Integer(),
  retry: Type.Object({ maxAttempts: Type.Integer(), backoffSec: Type.Integer() }),
  offlineDays: Type.Integer(),
  revision: Type.Integer(),
  startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  counts: Counts,
  waves: Type.Array(
    Type.Object({
      position: Type.Integer(),
      name: Type.String(),
      schoolIds: Type.Union([Type.Array(Uuid), Type.Null()]),
      minSuccessPct: Type.Integer(),
      maxFailurePct: Type.Integer(),
      promotion: literals(WAVE_PROMOTIONS),
      status: literals(WAVE_STATUSES),
      startedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      endedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
      counts: Counts,
    }),
  ),
});

export const ProgressView = Type.Object({
  campaignId: Uuid,
  status: literals(CAMPAIGN_STATUSES),
  counts: Counts,
  waves: Type.Array(Type.Object({ position: Type.Integer(), status: literals(WAVE_STATUSES), counts: Counts })),
  schools: Type.Array(Type.Object({ schoolId: Uuid, name: Type.String(), wave: Type.Integer(), open: Type.Boolean(), counts: Counts })),
  failures: Type.Array(Type.Object({ reason: Type.String(), devices: Type.Integer() })),
  estimatedEnd: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const PreviewView = Type.Object({
  campaignId: Uuid,
  devices: Type.Integer({ description: 'Devices the campaign will send to' }),
  bySchool: Type.Array(Type.Object({ schoolId: Uuid, name: Type.String(), wave: Type.Integer(), devices: Type.Integer() })),
  byWave: Type.Array(Type.Object({ position: Type.Integer(), name: Type.String(), devices: Type.Integer(), expectedStart: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]), expectedEnd: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]) })),
  byPlatform: Type.Array(Type.Object({ platform: literals(PLATFORMS), devices: Type.Integer() })),
  unreachable: Type.Array(Type.Object({ reason: Type.String(), platform: literals(PLATFORMS), devices: Type.Integer() })),
});

export const DevicesQuery = Type.Object({ status: Type.Optional(literals(TARGET_STATUSES)), limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500 })) }, strict);
export const DeviceRows = Type.Array(
  Type.Object({ deviceId: Uuid, name: Type.String(), schoolId: Uuid, platform: literals(PLATFORMS), wave: Type.Integer(), status: literals(TARGET_STATUSES), attempts: Type.Integer(), reason: Type.Union([Type.String(), Type.Null()]) }),
);
