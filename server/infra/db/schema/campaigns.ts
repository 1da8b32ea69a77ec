import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, primaryKey, text, uuid } from 'drizzle-orm/pg-core';
import { CAMPAIGN_ACTIONS, CAMPAIGN_STATUSES, TARGET_STATUSES, WAVE_PROMOTIONS, WAVE_STATUSES, type CampaignTarget, type CampaignWindow, type ExcludedRange, type RetryPolicy } from '../../../domain/campaigns';
import { PLATFORMS } from '../../../domain/devices';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { users } from './access';
import { apps } from './apps';
import { devices } from './devices';
import { organisations, schools } from './organisation';

/**
 * A planned deployment of an app version or a profile. The row, its waves and its target set are
 * the whole truth: the engine derives every command from them, a chunk at a time, and can be
 * stopped, flushed or killed at any point.
 */
export const campaigns = pgTable(
  'campaigns',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    name: text('name').notNull(),
    action: text('action', { enum: CAMPAIGN_ACTIONS }).notNull(),
    /** What the action names, as given: `{appVersionId}`, `{appId}` or `{profileId}`. */
    subject: jsonb('subject').$type<Record<string, string>>().notNull(),
    /** The app the campaign is about, when it is about one (automatic updates find theirs by it). */
    appId: uuid('app_id').references(() => apps.id, { onDelete: 'set null' }),
    target: jsonb('target').$type<CampaignTarget>().notNull(),
    /** The creator's schools; null for an organisation-wide creator. */
    scopeSchoolIds: uuid('scope_school_ids').array(),
    status: text('status', { enum: CAMPAIGN_STATUSES }).notNull().default('draft'),
    startAt: tstz('start_at').notNull(),
    deadline: tstz('deadline'),
    windows: jsonb('windows').$type<CampaignWindow[]>().notNull(),
    /** Windows are read in this zone when set, in each school's own otherwise. */
    timeZone: text('time_zone'),
    excluded: jsonb('excluded').$type<ExcludedRange[]>().notNull().default([]),
    perSchoolCap: integer('per_school_cap').notNull(),
    retry: jsonb('retry').$type<RetryPolicy>().notNull(),
    /** Devices offline for longer than this are left out at fan-out time (shown in the preview). */
    offlineDays: integer('offline_days').notNull().default(30),
    /** Bumped by every audited change of the target of a started campaign. */
    revision: integer('revision').notNull().default(1),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    /** `automatic` for a campaign a catalog upload started from the organisation's template. */
    origin: text('origin').notNull().default('manual'),
    startedAt: tstz('started_at'),
    completedAt: tstz('completed_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('campaigns_organisation_idx').on(t.organisationId, t.createdAt),
    index('campaigns_active_idx').on(t.status).where(sql`status in ('running', 'paused')`),
    index('campaigns_app_idx').on(t.appId).where(sql`app_id is not null`),
    index('campaigns_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
    oneOf('campaigns_action_ck', t.action, CAMPAIGN_ACTIONS),
    oneOf('campaigns_status_ck', t.status, CAMPAIGN_STATUSES),
  ],
);

/** Ordered waves: a wave starts once the one before it passed; `schoolIds` null takes every school left. */
export const campaignWaves = pgTable(
  'campaign_waves',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    position: integer('position').notNull(),
    name: text('name').notNull(),
    schoolIds: uuid('school_ids').array(),
    minSuccessPct: integer('min_success_pct').notNull(),
    maxFailurePct: integer('max_failure_pct').notNull(),
    promotion: text('promotion', { enum: WAVE_PROMOTIONS }).notNull().default('auto'),
    status: text('status', { enum: WAVE_STATUSES }).notNull().default('waiting'),
    startedAt: tstz('started_at'),
    endedAt: tstz('ended_at'),
    approvedBy: uuid('approved_by').references(() => users.id, { onDelete: 'set null' }),
  },
  (t) => [
    primaryKey({ columns: [t.campaignId, t.position] }),
    index('campaign_waves_approved_by_idx').on(t.approvedBy).where(sql`approved_by is not null`),
    oneOf('campaign_waves_status_ck', t.status, WAVE_STATUSES),
    oneOf('campaign_waves_promotion_ck', t.promotion, WAVE_PROMOTIONS),
  ],
);

/**
 * The target set, one row per device, stored when the campaign is created (and when a device
 * joins it). `attempts` counts the commands created for the device; the current one's id is
 * derived from (campaign, device, attempts), so a chunk replayed after a crash creates nothing twice.
 */
export const campaignTargets = pgTable(
  'campaign_targets',
  {
    campaignId: uuid('campaign_id')
      .notNull()
      .references(() => campaigns.id, { onDelete: 'cascade' }),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    schoolId: uuid('school_id')
      .notNull()
      .references(() => schools.id),
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    wave: integer('wave').notNull(),
    status: text('status', { enum: TARGET_STATUSES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    commandId: uuid('command_id'),
    nextAttemptAt: tstz('next_attempt_at'),
    /** Why the device failed or was skipped: the device's error code, or the campaign's own reason. */
    reason: text('reason'),
    /** Joined after the campaign was created (enrolled, or moved into the target). */
    joined: boolean('joined').notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.campaignId, t.deviceId] }),
    // A school's devices in the fan-out's order, no sort, no scan of other schools. No index holds
    // status (nor attempts, command_id, next_attempt_at): moving a device from pending to sent and
    // on is then a heap-only update, which the table's fillfactor (50, set by migration 0025)
    // leaves room for on the row's own page; with status indexed, every such move wrote a new
    // entry in each of the table's four indexes.
    index('campaign_targets_work_idx').on(t.campaignId, t.schoolId, t.deviceId),
    index('campaign_targets_device_idx').on(t.deviceId),
    index('campaign_targets_school_idx').on(t.schoolId),
    oneOf('campaign_targets_status_ck', t.status, TARGET_STATUSES),
    oneOf('campaign_targets_platform_ck', t.platform, PLATFORMS),
  ],
);

/**
 * The organisation's default plan for campaigns (windows, waves, cap, retries), and the apps
 * whose new versions start a campaign from it by themselves.
 */
export const campaignTemplates = pgTable(
  'campaign_templates',
  {
  organisationId: uuid('organisation_id')
    .primaryKey()
    .references(() => organisations.id),
  plan: jsonb('plan').$type<Record<string, unknown>>().notNull(),
  /** Apps whose every new catalog version starts a campaign from the plan. */
  autoUpdateAppIds: uuid('auto_update_app_ids').array().notNull().default(sql`'{}'::uuid[]`),
  updatedBy: uuid('updated_by').references(() => users.id, { onDelete: 'set null' }),
  updatedAt: updatedAt(),
  },
  (t) => [index('campaign_templates_updated_by_idx').on(t.updatedBy).where(sql`updated_by is not null`)],
);
