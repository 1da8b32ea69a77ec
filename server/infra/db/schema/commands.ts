import { sql } from 'drizzle-orm';
import { foreignKey, index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { COMMAND_KINDS, COMMAND_ORIGINS, COMMAND_STATUSES } from '../../../domain/commands';
import { createdAt, id, oneOf, tstz, updatedAt } from './columns';
import { users } from './access';
import { devices } from './devices';
import { organisations } from './organisation';

export { COMMAND_ORIGINS, COMMAND_STATUSES, type CommandStatus } from '../../../domain/commands';
export const BATCH_STATUSES = ['pending', 'done'] as const;

/**
 * One row per device and command: PostgreSQL is the durable queue, Redis only carries nudges.
 * The row holds the neutral intent; each platform renders it when handing it out.
 */
export const commands = pgTable(
  'commands',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull(),
    deviceId: uuid('device_id').notNull(),
    kind: text('kind', { enum: COMMAND_KINDS }).notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    status: text('status', { enum: COMMAND_STATUSES }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    origin: text('origin', { enum: COMMAND_ORIGINS }).notNull(),
    issuedBy: uuid('issued_by').references(() => users.id, { onDelete: 'set null' }),
    /** Commands created together by one bulk action share this id (see command_batches). */
    batchId: uuid('batch_id'),
    campaignId: uuid('campaign_id'),
    expiresAt: tstz('expires_at').notNull(),
    sentAt: tstz('sent_at'),
    acknowledgedAt: tstz('acknowledged_at'),
    completedAt: tstz('completed_at'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    /** The device's last message about the command exactly as received, even when it did not parse. */
    resultRaw: jsonb('result_raw'),
    resultMessageId: uuid('result_message_id'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    /** A result that came after the command was already final (cancelled, expired...): kept, never applied. */
    lateResult: jsonb('late_result').$type<Record<string, unknown>>(),
    /** When the device was told that this command, which it had been given, was cancelled. */
    cancelNotifiedAt: tstz('cancel_notified_at'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    // One check per inserted row instead of two (device, then organisation), and the command's
    // organisation is its device's: bulk actions and campaigns insert tens of thousands at once.
    foreignKey({ name: 'commands_device_organisation_fk', columns: [t.deviceId, t.organisationId], foreignColumns: [devices.id, devices.organisationId] }).onDelete('cascade'),
    index('commands_device_created_idx').on(t.deviceId, t.createdAt),
    index('commands_open_idx').on(t.deviceId, t.createdAt).where(sql`status in ('queued', 'sent', 'acknowledged', 'executing', 'not_now')`),
    index('commands_in_flight_idx').on(t.status, t.sentAt).where(sql`status in ('queued', 'sent', 'acknowledged', 'executing', 'not_now')`),
    index('commands_cancel_pending_idx').on(t.deviceId).where(sql`status = 'cancelled' and sent_at is not null and cancel_notified_at is null`),
    index('commands_batch_idx').on(t.batchId).where(sql`batch_id is not null`),
    index('commands_issued_by_idx').on(t.issuedBy).where(sql`issued_by is not null`),
    // Also serves the device foreign key's cascade, which looks rows up by (device_id, organisation_id).
    index('commands_organisation_idx').on(t.organisationId, t.deviceId),
    /** Retention deletes finished commands by age, in bounded chunks. */
    index('commands_finished_idx').on(t.completedAt).where(sql`status in ('succeeded', 'failed', 'expired', 'cancelled')`),
    oneOf('commands_kind_ck', t.kind, COMMAND_KINDS),
    oneOf('commands_status_ck', t.status, COMMAND_STATUSES),
    oneOf('commands_origin_ck', t.origin, COMMAND_ORIGINS),
  ],
);

/**
 * A bulk action (and later each campaign run) as an outbox: written with its audit event, then
 * turned into command rows chunk by chunk, in device-id order from `cursor`, until done. The
 * reconciler resumes any batch left pending, so a Redis flush or a worker crash loses nothing.
 */
export const commandBatches = pgTable(
  'command_batches',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    kind: text('kind', { enum: COMMAND_KINDS }).notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    /** The selection as the caller gave it: `{schoolId}`, `{groupId}` or `{deviceIds}`. */
    target: jsonb('target').$type<{ schoolId?: string; groupId?: string; deviceIds?: string[] }>().notNull(),
    /** The caller's schools when the batch was created; null for an organisation-wide caller. */
    scopeSchoolIds: uuid('scope_school_ids').array(),
    origin: text('origin', { enum: COMMAND_ORIGINS }).notNull(),
    issuedBy: uuid('issued_by').references(() => users.id, { onDelete: 'set null' }),
    expiresAt: tstz('expires_at').notNull(),
    status: text('status', { enum: BATCH_STATUSES }).notNull().default('pending'),
    /** Devices were taken in id order; every device id up to this one has its command. */
    cursor: uuid('cursor'),
    eligible: integer('eligible').notNull(),
    created: integer('created').notNull().default(0),
    createdAt: createdAt(),
    completedAt: tstz('completed_at'),
  },
  (t) => [
    index('command_batches_pending_idx').on(t.createdAt).where(sql`status = 'pending'`),
    index('command_batches_issued_by_idx').on(t.issuedBy).where(sql`issued_by is not null`),
    index('command_batches_organisation_idx').on(t.organisationId),
    oneOf('command_batches_kind_ck', t.kind, COMMAND_KINDS),
    oneOf('command_batches_status_ck', t.status, BATCH_STATUSES),
    oneOf('command_batches_origin_ck', t.origin, COMMAND_ORIGINS),
  ],
);
