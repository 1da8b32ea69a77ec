import { sql } from 'drizzle-orm';
import { bigint, boolean, index, integer, jsonb, pgSequence, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { devices, deviceLocations } from './devices';
import { organisations, schools } from './organisation';
import { users } from './access';
import { GEOFENCE_ALERT_KINDS, LOCATION_MODES, LOCATION_POLICY_SCOPES, type GeofenceShape, type WeeklyHours } from '../../../domain/location';

export { GEOFENCE_ALERT_KINDS, LOCATION_MODES, LOCATION_POLICY_SCOPES } from '../../../domain/location';

/** Every change of a location policy takes a new number: devices see a new desired state when theirs changes. */
export const locationPolicyVersions = pgSequence('location_policy_version_seq', { startWith: 1 });

/**
 * A location policy set on the organisation, a commune or a school; a school without its own takes
 * its commune's, then its organisation's, and `off` when none is set. `scope_id` is the commune or
 * school (null for the organisation): no foreign key, the scope type says which table.
 */
export const locationPolicies = pgTable(
  'location_policies',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    scopeType: text('scope_type', { enum: LOCATION_POLICY_SCOPES }).notNull(),
    scopeId: uuid('scope_id'),
    mode: text('mode', { enum: LOCATION_MODES }).notNull(),
    intervalMinutes: integer('interval_minutes'),
    /** The school's hours, in its own time zone: where `school_hours` reports and where geofences are watched. */
    hours: jsonb('hours').$type<WeeklyHours>().notNull().default([]),
    /** Holidays and closures, `{ from, to }` calendar dates, both included. */
    excludedDates: jsonb('excluded_dates').$type<{ from: string; to: string }[]>().notNull().default([]),
    version: bigint('version', { mode: 'number' }).notNull().default(sql`nextval('location_policy_version_seq')`),
    updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('location_policies_scope_uq').on(t.organisationId, t.scopeType, sql`coalesce(${t.scopeId}, '00000000-0000-0000-0000-000000000000'::uuid)`),
    index('location_policies_updated_by_idx').on(t.updatedBy).where(sql`updated_by is not null`),
    oneOf('location_policies_scope_ck', t.scopeType, LOCATION_POLICY_SCOPES),
    oneOf('location_policies_mode_ck', t.mode, LOCATION_MODES),
  ],
);

/** A perimeter around a school: a circle or a polygon (WGS 84). */
export const geofences = pgTable(
  'geofences',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    schoolId: uuid('school_id').notNull().references(() => schools.id, { onDelete: 'cascade' }),
    name: text('name').notNull(),
    shape: jsonb('shape').$type<GeofenceShape>().notNull(),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [index('geofences_organisation_idx').on(t.organisationId), index('geofences_school_idx').on(t.schoolId)],
);

/** Whether a device was last seen outside its school's perimeters during school hours: alerts are raised on a change only. */
export const deviceGeofenceStates = pgTable('device_geofence_states', {
  deviceId: uuid('device_id')
    .primaryKey()
    .references(() => devices.id, { onDelete: 'cascade' }),
  outside: boolean('outside').notNull(),
  changedAt: tstz('changed_at').notNull().defaultNow(),
});

/**
 * A device that left its school's perimeters during school hours (`exit`), or came back (`return`).
 * The position is a reference to the fix: it goes with the fix when retention purges it, and is
 * shown only to a reader allowed to see positions.
 */
export const geofenceAlerts = pgTable(
  'geofence_alerts',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    schoolId: uuid('school_id').notNull().references(() => schools.id, { onDelete: 'cascade' }),
    kind: text('kind', { enum: GEOFENCE_ALERT_KINDS }).notNull(),
    locationId: bigint('location_id', { mode: 'number' }).references(() => deviceLocations.id, { onDelete: 'set null' }),
    at: tstz('at').notNull().defaultNow(),
  },
  (t) => [
    index('geofence_alerts_organisation_at_idx').on(t.organisationId, t.at),
    index('geofence_alerts_device_idx').on(t.deviceId),
    index('geofence_alerts_school_idx').on(t.schoolId),
    index('geofence_alerts_location_idx').on(t.locationId).where(sql`location_id is not null`),
    oneOf('geofence_alerts_kind_ck', t.kind, GEOFENCE_ALERT_KINDS),
  ],
);
