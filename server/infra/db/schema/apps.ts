import { sql } from 'drizzle-orm';
import { bigint, index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { APP_KINDS, APP_PLATFORMS } from '../../../domain/apps';
import { createdAt, id, oneOf, updatedAt } from './columns';
import { users } from './access';
import { organisations } from './organisation';

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
