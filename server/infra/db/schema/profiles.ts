import { sql } from 'drizzle-orm';
import { bigint, index, integer, jsonb, pgSequence, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { users } from './access';
import { devices } from './devices';
import { organisations } from './organisation';

/** Where a profile applies: the whole organisation, a commune, a school, a group, a platform, or a device tag. */
export const PROFILE_SCOPE_TYPES = ['organisation', 'commune', 'school', 'group', 'platform', 'tag'] as const;
export type ProfileScopeType = (typeof PROFILE_SCOPE_TYPES)[number];
export const ROLLOUT_REASONS = ['assign', 'unassign', 'edit', 'delete', 'location_policy', 'app_assign', 'app_unassign'] as const;
export type RolloutReason = (typeof ROLLOUT_REASONS)[number];
export const ROLLOUT_STATUSES = ['pending', 'done'] as const;

/**
 * Every desired-state version comes from this one sequence: a version only grows, for a device
 * and across devices, so an agent re-enrolled without a reset (which keeps the version it
 * applied) still takes the next one.
 */
export const desiredStateVersions = pgSequence('desired_state_version_seq', { startWith: 1 });

/** The organisation's profile catalog: the neutral body, numbered by a version that grows at each edit. */
export const profiles = pgTable(
  'profiles',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    /** The neutral profile's own `id`: it names the profile in every platform identifier. */
    slug: text('slug').notNull(),
    name: text('name').notNull(),
    description: text('description'),
    version: integer('version').notNull().default(1),
    /** The neutral profile, its `id` and `version` kept equal to `slug` and `version`. */
    body: jsonb('body').$type<Record<string, unknown>>().notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('profiles_org_slug_uq').on(t.organisationId, t.slug), index('profiles_created_by_idx').on(t.createdBy).where(sql`created_by is not null`)],
);

/**
 * A profile applied to a scope. `scopeKey` is the commune, school or group id (as text), the
 * platform or the tag, and '' for the organisation: one key column keeps "assigned twice" a
 * unique-index conflict.
 */
export const profileAssignments = pgTable(
  'profile_assignments',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    profileId: uuid('profile_id')
      .notNull()
      .references(() => profiles.id, { onDelete: 'cascade' }),
    scopeType: text('scope_type', { enum: PROFILE_SCOPE_TYPES }).notNull(),
    scopeKey: text('scope_key').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex('profile_assignments_uq').on(t.profileId, t.scopeType, t.scopeKey),
    index('profile_assignments_org_idx').on(t.organisationId, t.scopeType, t.scopeKey),
    index('profile_assignments_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
    oneOf('profile_assignments_scope_ck', t.scopeType, PROFILE_SCOPE_TYPES),
  ],
);

/**
 * A change of the catalog as an outbox: written with the change and its audit event, then turned
 * chunk by chunk (device-id ranges, from `cursor`) into new desired states and `apply_policy`
 * commands for the devices whose effective set changed. The reconciler resumes it until done.
 */
export const profileRollouts = pgTable(
  'profile_rollouts',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    reason: text('reason', { enum: ROLLOUT_REASONS }).notNull(),
    /** What changed: the profile, location policy or app (by `reason`). No foreign key: the rollout of a deletion outlives its profile. */
    profileId: uuid('profile_id').notNull(),
    /** The devices a change can reach: an assignment's scope, or those holding the profile (null). */
    scopeType: text('scope_type', { enum: PROFILE_SCOPE_TYPES }),
    scopeKey: text('scope_key'),
    issuedBy: uuid('issued_by').references(() => users.id, { onDelete: 'set null' }),
    status: text('status', { enum: ROLLOUT_STATUSES }).notNull().default('pending'),
    cursor: uuid('cursor'),
    /** Devices whose desired state changed, and commands stored for them. */
    changed: integer('changed').notNull().default(0),
    commands: integer('commands').notNull().default(0),
    createdAt: createdAt(),
    completedAt: tstz('completed_at'),
  },
  (t) => [
    index('profile_rollouts_pending_idx').on(t.createdAt).where(sql`status = 'pending'`),
    index('profile_rollouts_organisation_idx').on(t.organisationId),
    index('profile_rollouts_issued_by_idx').on(t.issuedBy).where(sql`issued_by is not null`),
    oneOf('profile_rollouts_scope_ck', t.scopeType, PROFILE_SCOPE_TYPES),
    oneOf('profile_rollouts_reason_ck', t.reason, ROLLOUT_REASONS),
    oneOf('profile_rollouts_status_ck', t.status, ROLLOUT_STATUSES),
  ],
);

/**
 * A device's desired state and what it reported of it. `profiles` is its effective set,
 * `{ profileId: version }`; `version` changes only when that set changes.
 */
export const deviceDesiredStates = pgTable(
  'device_desired_states',
  {
    deviceId: uuid('device_id')
      .primaryKey()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** The device's, copied for the compliance counts; no foreign key: the device's own holds it, and checking it again costs a lookup per row of a rollout. */
    organisationId: uuid('organisation_id').notNull(),
    version: bigint('version', { mode: 'number' }).notNull(),
    profiles: jsonb('profiles').$type<Record<string, number>>().notNull().default({}),
    desiredAt: tstz('desired_at').notNull().defaultNow(),
    /** The newest version the device said it applied (`policy_applied`, or `hello.appliedStateVersion`). */
    appliedVersion: bigint('applied_version', { mode: 'number' }),
    appliedAt: tstz('applied_at'),
    /** `policy_applied.nonCompliance` of `appliedVersion`: fields the device could not apply. */
    nonCompliance: jsonb('non_compliance').$type<{ fieldPath: string; reason: string }[]>().notNull().default([]),
    /** The newest version the device refused (`policy_rejected`), with its errors. */
    rejectedVersion: bigint('rejected_version', { mode: 'number' }),
    rejectionErrors: jsonb('rejection_errors').$type<unknown[]>().notNull().default([]),
    reportedAt: tstz('reported_at'),
  },
  // No GIN index on `profiles`: maintaining it doubled the cost of storing a rollout, and the
  // queries that look inside the set (devices holding a profile) read one organisation's rows.
  (t) => [index('device_desired_states_org_idx').on(t.organisationId)],
);

/** Where a profile stands on a device that takes profiles one by one (iPads, Windows tablets). */
export const DEVICE_PROFILE_STATUSES = ['pending', 'installed', 'failed', 'removing'] as const;
export type DeviceProfileStatus = (typeof DEVICE_PROFILE_STATUSES)[number];

/**
 * Per device and profile, what Cartable last sent (an install of `version`, or a removal) and what
 * the device answered. iPads and Windows tablets take each profile as its own install or removal,
 * so their applied state is kept profile by profile; the row goes when a removal succeeds.
 */
export const deviceProfiles = pgTable(
  'device_profiles',
  {
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** No foreign key: a deleted profile stays here until the device has removed it. */
    profileId: uuid('profile_id').notNull(),
    organisationId: uuid('organisation_id').notNull(),
    /** The neutral profile's `id`: what names it on the device (`fr.cartable.profile.{slug}` on iPad). */
    slug: text('slug').notNull(),
    version: integer('version').notNull(),
    status: text('status', { enum: DEVICE_PROFILE_STATUSES }).notNull(),
    /** The command that carries the current install or removal. */
    commandId: uuid('command_id').notNull(),
    error: jsonb('error').$type<{ code: string; message: string }>(),
    /** Last time the device listed it among its installed profiles (iPad `ProfileList`). */
    verifiedAt: tstz('verified_at'),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.profileId] }),
    index('device_profiles_profile_idx').on(t.profileId),
    index('device_profiles_command_idx').on(t.commandId),
    oneOf('device_profiles_status_ck', t.status, DEVICE_PROFILE_STATUSES),
  ],
);
