import { Type, type Static } from '@sinclair/typebox';

const Uuid = Type.String({ format: 'uuid' });
const LocalTime = Type.String({ pattern: '^([01][0-9]|2[0-3]):[0-5][0-9]$', description: 'HH:MM, local to the school' });
const CalendarDate = Type.String({ format: 'date', description: 'YYYY-MM-DD' });
const Lat = Type.Number({ minimum: -90, maximum: 90 });
const Lon = Type.Number({ minimum: -180, maximum: 180 });

export const PolicyScopeParams = Type.Object({
  scopeType: Type.Union([Type.Literal('organisation'), Type.Literal('commune'), Type.Literal('school')]),
  scopeId: Type.String({ minLength: 1, maxLength: 36, description: 'The commune or school id; `-` for the organisation' }),
});
export type PolicyScopeParams = Static<typeof PolicyScopeParams>;

export const SchoolParams = Type.Object({ schoolId: Uuid });
export const IdParams = Type.Object({ id: Uuid });

export const WeeklyHoursSchema = Type.Array(
  Type.Object(
    {
      days: Type.Array(Type.Integer({ minimum: 1, maximum: 7 }), { minItems: 1, maxItems: 7, uniqueItems: true, description: 'ISO weekdays: 1 Monday … 7 Sunday' }),
      start: LocalTime,
      end: LocalTime,
    },
    { additionalProperties: false },
  ),
  { maxItems: 28 },
);

export const LocationPolicyBody = Type.Object(
  {
    mode: Type.Union([Type.Literal('off'), Type.Literal('on_demand'), Type.Literal('school_hours')]),
    intervalMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 240, description: 'Minutes between two reports under school_hours' })),
    hours: Type.Optional(WeeklyHoursSchema),
    excludedDates: Type.Optional(Type.Array(Type.Object({ from: CalendarDate, to: CalendarDate }, { additionalProperties: false }), { maxItems: 400 })),
  },
  { additionalProperties: false },
);
export type LocationPolicyBody = Static<typeof LocationPolicyBody>;

export const LocationPolicyView = Type.Object({
  scopeType: Type.String(),
  scopeId: Type.Union([Type.String(), Type.Null()]),
  mode: Type.String(),
  intervalMinutes: Type.Union([Type.Integer(), Type.Null()]),
  hours: WeeklyHoursSchema,
  excludedDates: Type.Array(Type.Object({ from: Type.String(), to: Type.String() })),
  version: Type.Integer(),
  updatedAt: Type.String(),
});
export type LocationPolicyView = Static<typeof LocationPolicyView>;

export const EffectivePolicyView = Type.Object({
  schoolId: Type.String(),
  timeZone: Type.String(),
  /** Where the policy in force is set; null: none is, location is off. */
  inheritedFrom: Type.Union([Type.Literal('school'), Type.Literal('commune'), Type.Literal('organisation'), Type.Null()]),
  own: Type.Union([LocationPolicyView, Type.Null()]),
  effective: Type.Object({ mode: Type.String(), intervalMinutes: Type.Union([Type.Integer(), Type.Null()]), hours: WeeklyHoursSchema, excludedDates: Type.Array(Type.Object({ from: Type.String(), to: Type.String() })) }),
});
export type EffectivePolicyView = Static<typeof EffectivePolicyView>;

export const PointSchema = Type.Object({ lat: Lat, lon: Lon }, { additionalProperties: false });

export const GeofenceShapeSchema = Type.Union([
  Type.Object({ type: Type.Literal('circle'), center: PointSchema, radiusM: Type.Number({ minimum: 10, maximum: 50_000 }) }, { additionalProperties: false }),
  Type.Object({ type: Type.Literal('polygon'), points: Type.Array(PointSchema, { maxItems: 200 }) }, { additionalProperties: false }),
]);

export const GeofenceBody = Type.Object({ name: Type.String({ minLength: 1, maxLength: 120 }), shape: GeofenceShapeSchema }, { additionalProperties: false });
export type GeofenceBody = Static<typeof GeofenceBody>;

export const GeofenceView = Type.Object({ id: Type.String(), schoolId: Type.String(), name: Type.String(), shape: GeofenceShapeSchema, updatedAt: Type.String() });
export type GeofenceView = Static<typeof GeofenceView>;

export const LocationSettingsBody = Type.Object(
  {
    directorsReadPositions: Type.Boolean({ description: 'School directors may read the positions of their school’s tablets' }),
    alertEmails: Type.Array(Type.String({ format: 'email', maxLength: 254 }), { maxItems: 20, description: 'Who is mailed geofence alerts' }),
  },
  { additionalProperties: false },
);
export type LocationSettingsBody = Static<typeof LocationSettingsBody>;

export const AlertsQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })), schoolId: Type.Optional(Uuid) }, { additionalProperties: false });

const Position = Type.Object({ lat: Type.Number(), lon: Type.Number(), accuracyM: Type.Number(), fixTime: Type.String() });

export const AlertView = Type.Object({
  id: Type.String(),
  kind: Type.String(),
  at: Type.String(),
  deviceId: Type.String(),
  deviceName: Type.Union([Type.String(), Type.Null()]),
  schoolId: Type.String(),
  schoolName: Type.String(),
  /** Only for a reader allowed to see positions; the read is audited. */
  position: Type.Optional(Type.Union([Position, Type.Null()])),
});
export const AlertsPage = Type.Object({ items: Type.Array(AlertView), positionsShown: Type.Boolean() });
export type AlertsPage = Static<typeof AlertsPage>;

export const PositionsQuery = Type.Object({ schoolId: Type.Optional(Uuid) }, { additionalProperties: false });
export const PositionsView = Type.Object({
  items: Type.Array(Type.Object({ deviceId: Type.String(), deviceName: Type.Union([Type.String(), Type.Null()]), schoolId: Type.String(), ...Position.properties, source: Type.String() })),
});
export type PositionsView = Static<typeof PositionsView>;
