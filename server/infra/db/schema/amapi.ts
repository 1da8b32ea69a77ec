import { sql } from 'drizzle-orm';
import { boolean, index, integer, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { commands } from './commands';
import { devices } from './devices';
import { enrollmentTokens } from './enrollment';
import { organisations } from './organisation';

/**
 * `signup_pending`: the DSI was sent to Google's signup page; `bound`: the enterprise exists and
 * Cartable manages tablets through it; `error`: the last step failed (the error is kept);
 * `unbound`: a technician ended the binding (its tablets stay in the inventory, unmanaged).
 */
export const AMAPI_BINDING_STATES = ['signup_pending', 'bound', 'error', 'unbound'] as const;
export type AmapiBindingState = (typeof AMAPI_BINDING_STATES)[number];

/** Where Google's notifications come from: a pull subscription Cartable reads, or pushes to Cartable's endpoint. */
export const AMAPI_NOTIFICATION_MODES = ['pull', 'push', 'none'] as const;
export type AmapiNotificationMode = (typeof AMAPI_NOTIFICATION_MODES)[number];

/**
 * An organisation's binding to an Android Management enterprise, in the DSI's own Cloud project.
 * The service account's key is sealed with the server's secret like the CA key; it never leaves
 * the server again.
 */
export const amapiEnterprises = pgTable(
  'amapi_enterprises',
  {
    organisationId: uuid('organisation_id')
      .primaryKey()
      .references(() => organisations.id),
    projectId: text('project_id').notNull(),
    serviceAccountEmail: text('service_account_email').notNull(),
    credentialsSealed: text('credentials_sealed').notNull(),
    state: text('state', { enum: AMAPI_BINDING_STATES }).notNull(),
    /** The signup URL's resource name, needed once by `enterprises.create`. */
    signupUrlName: text('signup_url_name'),
    /** `enterprises/{id}`: Google lists customer-managed enterprises to nobody, so it is kept here. */
    enterpriseName: text('enterprise_name'),
    enterpriseDisplayName: text('enterprise_display_name'),
    notificationMode: text('notification_mode', { enum: AMAPI_NOTIFICATION_MODES }).notNull().default('none'),
    pubsubTopic: text('pubsub_topic'),
    /** `projects/{p}/subscriptions/{s}`, for pull. */
    pubsubSubscription: text('pubsub_subscription'),
    /** For push: the audience and the service account e-mail the signed token must carry. */
    pushAudience: text('push_audience'),
    pushServiceAccount: text('push_service_account'),
    /** Google's device quota for the project: 500 until Google validates more. */
    deviceCap: integer('device_cap').notNull().default(500),
    lastError: text('last_error'),
    lastErrorAt: tstz('last_error_at'),
    boundAt: tstz('bound_at'),
    unboundAt: tstz('unbound_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('amapi_enterprises_name_uq').on(t.enterpriseName).where(sql`enterprise_name is not null`),
    oneOf('amapi_enterprises_state_ck', t.state, AMAPI_BINDING_STATES),
    oneOf('amapi_enterprises_notification_mode_ck', t.notificationMode, AMAPI_NOTIFICATION_MODES),
  ],
);

/** The Google half of a tablet managed through AMAPI. */
export const amapiDevices = pgTable(
  'amapi_devices',
  {
    deviceId: uuid('device_id')
      .primaryKey()
      .references(() => devices.id, { onDelete: 'cascade' }),
    organisationId: uuid('organisation_id')
      .notNull()
      .references(() => organisations.id),
    /** `enterprises/{e}/devices/{d}`. */
    googleName: text('google_name').notNull(),
    policyName: text('policy_name'),
    appliedPolicyVersion: integer('applied_policy_version'),
    policyCompliant: boolean('policy_compliant'),
    nonCompliance: jsonb('non_compliance').$type<unknown[]>(),
    /** The device's desired state as AMAPI policy (from its latest `apply_policy`) and the Cartable version it stands for. */
    basePolicy: jsonb('base_policy').$type<Record<string, unknown>>(),
    desiredVersion: integer('desired_version'),
    /** Catalog apps installed or removed on this tablet, merged into its policy's `applications` by package. */
    apps: jsonb('apps').$type<Record<string, unknown>[]>().notNull().default([]),
    /** Newest notification applied: an older or equal one is ignored (delivery is at least once, in any order). */
    lastPublishTime: tstz('last_publish_time'),
    updatedAt: updatedAt(),
  },
  (t) => [uniqueIndex('amapi_devices_google_name_uq').on(t.googleName), index('amapi_devices_organisation_idx').on(t.organisationId)],
);

/**
 * One AMAPI policy per distinct compiled content, shared by the tablets whose effective profiles
 * compile to it; patched only when the content changes.
 */
export const amapiPolicies = pgTable(
  'amapi_policies',
  {
    id: id(),
    organisationId: uuid('organisation_id')
      .notNull()
      .references(() => organisations.id),
    /** `enterprises/{e}/policies/{p}`. */
    name: text('name').notNull(),
    contentSha256: text('content_sha256').notNull(),
    policy: jsonb('policy').$type<Record<string, unknown>>().notNull(),
    /** Google's `Policy.version` after the last successful patch; null until then. */
    googleVersion: integer('google_version'),
    patchedAt: tstz('patched_at'),
    lastError: text('last_error'),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex('amapi_policies_name_uq').on(t.name), uniqueIndex('amapi_policies_content_uq').on(t.organisationId, t.contentSha256)],
);

/** The long-running operation Google returned for a command, polled until done. */
export const amapiOperations = pgTable(
  'amapi_operations',
  {
    commandId: uuid('command_id')
      .primaryKey()
      .references(() => commands.id, { onDelete: 'cascade' }),
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** Null while the call to Google is in flight or failed before Google answered. */
    operationName: text('operation_name'),
    issuedAt: tstz('issued_at'),
    checkedAt: tstz('checked_at'),
    createdAt: createdAt(),
  },
  (t) => [index('amapi_operations_device_idx').on(t.deviceId), index('amapi_operations_open_idx').on(t.checkedAt).where(sql`operation_name is not null`)],
);

/** The AMAPI enrollment token made for a Cartable enrollment token: same school, expiry and revocation. */
export const amapiEnrollmentTokens = pgTable('amapi_enrollment_tokens', {
  tokenId: uuid('token_id')
    .primaryKey()
    .references(() => enrollmentTokens.id, { onDelete: 'cascade' }),
  googleName: text('google_name').notNull(),
  /** The JSON Google returns for the provisioning QR code, encoded verbatim. */
  qrCode: text('qr_code').notNull(),
  expiresAt: tstz('expires_at').notNull(),
  createdAt: createdAt(),
});

/** Pub/Sub message ids already handled: delivery is at least once. Purged after Pub/Sub's retention. */
export const amapiMessages = pgTable(
  'amapi_messages',
  {
    messageId: text('message_id').primaryKey(),
    receivedAt: tstz('received_at').notNull().defaultNow(),
  },
  (t) => [index('amapi_messages_received_idx').on(t.receivedAt)],
);
