import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, primaryKey, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { APP_KINDS, APP_PLATFORMS } from '../../../domain/apps';
import { createdAt, id, oneOf, updatedAt } from './columns';
import { users } from './access';
import { devices } from './devices';
import { organisations } from './organisation';
import { PROFILE_SCOPE_TYPES } from './profiles';

/**
 * The app catalog: one row per app of an organisation and platform, named by the identifier the
 * platform knows it by (Android package name, iPad bundle id, MSI ProductCode, MSIX package
 * family name).
 */
export const apps = pgTable(
  'apps',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    platform: text('platform', { enum: APP_PLATFORMS }).notNull(),
    kind: text('kind', { enum: APP_KINDS }).notNull(),
    identifier: text('identifier').notNull(),
    name: text('name').notNull(),
    /** Kind-specific facts entered by a technician (an App Store id). */
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('apps_org_platform_identifier_uq').on(t.organisationId, t.platform, t.identifier),
    index('apps_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
    oneOf('apps_platform_ck', t.platform, APP_PLATFORMS),
    oneOf('apps_kind_ck', t.kind, APP_KINDS),
  ],
);

/**
 * The versions of an app. An uploaded binary is stored once under its SHA-256, whichever
 * versions name it; `signingCertSha256` is the Android signer every later version must share.
 */
export const appVersions = pgTable(
  'app_versions',
  {
    id: id(),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id, { onDelete: 'cascade' }),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    version: text('version').notNull(),
    /** Android's versionCode: what installs compare, never the display version. */
    versionCode: bigint('version_code', { mode: 'number' }),
    sha256: text('sha256'),
    sizeBytes: bigint('size_bytes', { mode: 'number' }),
    signingCertSha256: text('signing_cert_sha256'),
    /** What was read from the package (or entered), kind by kind: names, architectures, manifest URL. */
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
  },
  (t) => [
    index('app_versions_app_idx').on(t.appId, t.createdAt),
    uniqueIndex('app_versions_app_version_uq').on(t.appId, t.version),
    index('app_versions_sha256_idx').on(t.sha256),
    index('app_versions_organisation_idx').on(t.organisationId),
    index('app_versions_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
  ],
);

/**
 * An app a scope must hold, at one version of the catalog: its devices of the app's platform get
 * it installed, and lose it when no assignment reaches them any more. Scopes as for profiles
 * (`scopeKey` '' for the organisation). When two assignments reaching a device name two versions,
 * the newer one wins. A version stays in the catalog while an assignment names it.
 */
export const appAssignments = pgTable(
  'app_assignments',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    appId: uuid('app_id')
      .notNull()
      .references(() => apps.id),
    appVersionId: uuid('app_version_id')
      .notNull()
      .references(() => appVersions.id),
    scopeType: text('scope_type', { enum: PROFILE_SCOPE_TYPES }).notNull(),
    scopeKey: text('scope_key').notNull(),
    createdBy: uuid('created_by').references(() => users.id, { onDelete: 'set null' }),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    uniqueIndex('app_assignments_uq').on(t.appId, t.scopeType, t.scopeKey),
    index('app_assignments_org_idx').on(t.organisationId, t.scopeType, t.scopeKey),
    index('app_assignments_version_idx').on(t.appVersionId),
    index('app_assignments_created_by_idx').on(t.createdBy).where(sql`created_by is not null`),
    oneOf('app_assignments_scope_ck', t.scopeType, PROFILE_SCOPE_TYPES),
  ],
);

/** What Cartable last sent a device for an assigned app. */
export const ASSIGNED_APP_ACTIONS = ['install', 'remove'] as const;

/**
 * Per device and app, the install (of `appVersionId`) or the removal Cartable last sent because of
 * the app's assignments. Where it stands on the device is the state of `commandId`, read from the
 * command itself: nothing else records an outcome twice. Apps installed by a person or a campaign
 * are not here: only what assignments manage.
 */
export const deviceAssignedApps = pgTable(
  'device_assigned_apps',
  {
    deviceId: uuid('device_id')
      .notNull()
      .references(() => devices.id, { onDelete: 'cascade' }),
    /** No foreign key: a removal sent for an app may outlive the app's place in the catalog. */
    appId: uuid('app_id').notNull(),
    organisationId: uuid('organisation_id').notNull(),
    appVersionId: uuid('app_version_id').notNull(),
    action: text('action', { enum: ASSIGNED_APP_ACTIONS }).notNull(),
    /** The command that carries it. */
    commandId: uuid('command_id').notNull(),
    updatedAt: updatedAt(),
  },
  (t) => [
    primaryKey({ columns: [t.deviceId, t.appId] }),
    index('device_assigned_apps_app_idx').on(t.appId),
    oneOf('device_assigned_apps_action_ck', t.action, ASSIGNED_APP_ACTIONS),
  ],
);
