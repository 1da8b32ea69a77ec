import { sql } from 'drizzle-orm';
import { type AnyPgColumn, bigint, bigserial, boolean, doublePrecision, index, integer, jsonb, pgTable, primaryKey, real, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { groups, organisations, schools } from './organisation';

import { DEVICE_CHANNELS, DEVICE_STATUSES, PLATFORMS } from '../../../domain/devices';

export { DEVICE_CHANNELS, DEVICE_STATUSES, PLATFORMS, type DeviceChannel, type DeviceStatus, type Platform } from '../../../domain/devices';
export const LOCATION_SOURCES = ['locate', 'lost_mode', 'policy'] as const;

/**
 * Hot, often-filtered facts are columns; the long tail of platform inventory lives in `facts`.
 * Frequently rewritten columns (battery, storage, last_seen_at, facts) are left unindexed so that
 * their updates are heap-only (no new index entries). That also needs room on the row's page for
 * its new version: the table's fillfactor is 50 (migration 0027). At the default of 100, most of
 * these updates were not heap-only, and the table kept growing.
 */
export const devices = pgTable(
  'devices',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    schoolId: uuid('school_id').notNull().references(() => schools.id),
    groupId: uuid('group_id').references(() => groups.id, { onDelete: 'set null' }),
    platform: text('platform', { enum: PLATFORMS }).notNull(),
    /** Null: the platform's own protocol; otherwise the channel that manages it (see DEVICE_CHANNELS). */
    channel: text('channel', { enum: DEVICE_CHANNELS }),
    status: text('status', { enum: DEVICE_STATUSES }).notNull().default('active'),
    name: text('name').notNull(),
    serial: text('serial'),
    imei: text('imei'),
    udid: text('udid'),
    manufacturer: text('manufacturer'),
    model: text('model'),
    osVersion: text('os_version'),
    agentVersion: text('agent_version'),
    /** The agent's versionCode from its latest session, compared with the configured minimum (§24). */
    agentVersionCode: integer('agent_version_code'),
    managementMode: text('management_mode'),
    /** What the device announced it can do (agent `hello`); null until it has said. */
    capabilities: text('capabilities').array(),
    tags: text('tags').array().notNull().default(sql`'{}'::text[]`),
    batteryLevel: integer('battery_level'),
    charging: text('charging'),
    storageTotalBytes: bigint('storage_total_bytes', { mode: 'number' }),
    storageFreeBytes: bigint('storage_free_bytes', { mode: 'number' }),
    lostMode: boolean('lost_mode').notNull().default(false),
    lostModeMessage: text('lost_mode_message'),
    facts: jsonb('facts').$type<Record<string, unknown>>().notNull().default({}),
    policyVersion: integer('policy_version').notNull().default(0),
    /** The enrollment this one replaced without a factory reset (agent protocol §22). */
    previousDeviceId: uuid('previous_device_id').references((): AnyPgColumn => devices.id),
    /** A `report.request` waiting for the agent's ack (§12.7): `{ id, kinds, reason }`. */
    reportRequest: jsonb('report_request').$type<{ id: string; kinds: string[]; reason: string }>(),
    lastSeenAt: tstz('last_seen_at'),
    inventoryAt: tstz('inventory_at'),
    enrolledAt: tstz('enrolled_at').notNull().defaultNow(),
    wipedAt: tstz('wiped_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('devices_school_name_idx').on(t.schoolId, t.name),
    index('devices_group_idx').on(t.groupId).where(sql`group_id is not null`),
    index('devices_org_status_idx').on(t.organisationId, t.status),
    index('devices_previous_idx').on(t.previousDeviceId).where(sql`previous_device_id is not null`),
    /** What commands reference, so that a command's organisation is its device's. */
    uniqueIndex('devices_id_organisation_uq').on(t.id, t.organisationId),
    uniqueIndex('devices_active_serial_uq').on(t.organisationId, t.platform, t.serial).where(sql`status = 'active' and serial is not null`),
    oneOf('devices_platform_ck', t.platform, PLATFORMS),
    oneOf('devices_channel_ck', t.channel, DEVICE_CHANNELS),
    oneOf('devices_status_ck', t.status, DEVICE_STATUSES),
  ],
);

/**
 * The highest outbox sequence number received from each device's agent (agent protocol §14.5).
 * It rises with nearly every message the agent sends, so it lives apart from the device's wide
 * row: a narrow row changed in place (a heap-only update: no indexed column changes, and the
 * table's fillfactor of 50, set by migration 0026, leaves room on its page) costs a fraction of a
 * new version of the device's row and of an entry in each of its indexes.
 */
export const deviceSequences = pgTable('device_sequences', {
  deviceId: uuid('device_id')
    .primaryKey()
    .references(() => devices.id, { onDelete: 'cascade' }),
  maxSeq: bigint('max_seq', { mode: 'number' }).notNull(),
  /** `max_seq` before its last raise: what that statement returns, to tell whether numbers were skipped. */
  previousMaxSeq: bigint('previous_max_seq', { mode: 'number' }),
});

export const deviceApps = pgTable(
  'device_apps',
  {
    deviceId: uuid('device_id').notNull().references(() => devices.id, { onDelete: 'cascade' }),
    identifier: text('identifier').notNull(),
    name: text('name'),
    version: text('version'),
    versionCode: bigint('version_code', { mode: 'number' }),
    installer: text('installer'),
    system: boolean('system').notNull().default(false),
    updatedAt: updatedAt(),
  },
  (t) => [primaryKey({ columns: [t.deviceId, t.identifier] })],
);

export const deviceCertificates = pgTable(
  'device_certificates',
  {
    id: id(),
    deviceId: uuid('device_id').notNull().references(() => devices.id, { onDelete: 'cascade' }),
    serialHex: text('serial_hex').notNull().unique(),
    fingerprintSha256: text('fingerprint_sha256').notNull().unique(),
    notBefore: tstz('not_before').notNull(),
    notAfter: tstz('not_after').notNull(),
    revokedAt: tstz('revoked_at'),
    revokeReason: text('revoke_reason'),
    /** SHA-256 of the certified public key: a re-sent renewal for the same key gets the same certificate. */
    spkiSha256: text('spki_sha256'),
    /** Issued by a renewal and not yet used: it becomes current when the device first authenticates with it (§20.3). */
    pending: boolean('pending').notNull().default(false),
    /** The certificate itself, kept for renewals so a lost answer can be sent again. */
    certPem: text('cert_pem'),
    createdAt: createdAt(),
  },
  (t) => [index('device_certificates_device_idx').on(t.deviceId)],
);

/** The latest push registration of a device (§23.2), and when it was last woken. */
export const devicePush = pgTable('device_push', {
  deviceId: uuid('device_id')
    .primaryKey()
    .references(() => devices.id, { onDelete: 'cascade' }),
  provider: text('provider').notNull(),
  token: text('token').notNull(),
  projectId: text('project_id'),
  lastPushAt: tstz('last_push_at'),
  updatedAt: updatedAt(),
});

/** Location fixes: only stored when a command or a policy allowed them, and purged by retention. */
export const deviceLocations = pgTable(
  'device_locations',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deviceId: uuid('device_id').notNull().references(() => devices.id, { onDelete: 'cascade' }),
    lat: doublePrecision('lat').notNull(),
    lon: doublePrecision('lon').notNull(),
    accuracyM: real('accuracy_m').notNull(),
    altitudeM: real('altitude_m'),
    speedMps: real('speed_mps'),
    bearingDeg: real('bearing_deg'),
    provider: text('provider').notNull(),
    fixTime: tstz('fix_time').notNull(),
    /** The fix time is the device's own clock, never checked against the server's (§21): shown by `receivedAt`. */
    timeUnverified: boolean('time_unverified').notNull().default(false),
    source: text('source', { enum: LOCATION_SOURCES }).notNull(),
    commandId: uuid('command_id'),
    /** The report that carried it: a re-sent report stores nothing twice. */
    messageId: uuid('message_id'),
    receivedAt: tstz('received_at').notNull().defaultNow(),
  },
  (t) => [
    index('device_locations_device_time_idx').on(t.deviceId, t.fixTime),
    /** Retention ages a fix by when the server received it (the device's clock is not trusted). */
    index('device_locations_received_idx').on(t.receivedAt),
    uniqueIndex('device_locations_message_uq').on(t.deviceId, t.messageId).where(sql`message_id is not null`),
    oneOf('device_locations_source_ck', t.source, LOCATION_SOURCES),
  ],
);

export const deviceEvents = pgTable(
  'device_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    deviceId: uuid('device_id').notNull().references(() => devices.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    at: tstz('at').notNull(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
    /** `at` is the device's own clock, never checked against the server's (§21): shown by `receivedAt`. */
    timeUnverified: boolean('time_unverified').notNull().default(false),
    /** The report that carried it and the event's place in it: a re-sent report stores nothing twice. */
    messageId: uuid('message_id'),
    position: integer('position'),
    receivedAt: tstz('received_at').notNull().defaultNow(),
  },
  (t) => [
    index('device_events_device_time_idx').on(t.deviceId, t.at),
    index('device_events_received_idx').on(t.receivedAt),
    uniqueIndex('device_events_message_uq').on(t.deviceId, t.messageId, t.position).where(sql`message_id is not null`),
  ],
);
