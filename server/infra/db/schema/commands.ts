import { sql } from 'drizzle-orm';
import { index, integer, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, tstz, updatedAt } from './columns';
import { users } from './access';
import { devices } from './devices';
import { organisations } from './organisation';

export const COMMAND_STATUSES = ['queued', 'sent', 'acknowledged', 'succeeded', 'failed', 'not_now', 'expired', 'cancelled'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];
export const COMMAND_ORIGINS = ['technician', 'campaign', 'profile', 'system'] as const;

/** One row per device and command: PostgreSQL is the durable queue, Redis only carries nudges. */
export const commands = pgTable(
  'commands',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    deviceId: uuid('device_id').notNull().references(() => devices.id, { onDelete: 'cascade' }),
    kind: text('kind').notNull(),
    params: jsonb('params').$type<Record<string, unknown>>().notNull().default({}),
    /** The command as rendered for the device's platform. */
    payload: jsonb('payload').$type<Record<string, unknown>>(),
    status: text('status', { enum: COMMAND_STATUSES }).notNull().default('queued'),
    attempts: integer('attempts').notNull().default(0),
    origin: text('origin', { enum: COMMAND_ORIGINS }).notNull(),
    issuedBy: uuid('issued_by').references(() => users.id, { onDelete: 'set null' }),
    /** Commands created together by one bulk action share this id. */
    batchId: uuid('batch_id'),
    campaignId: uuid('campaign_id'),
    expiresAt: tstz('expires_at').notNull(),
    sentAt: tstz('sent_at'),
    acknowledgedAt: tstz('acknowledged_at'),
    completedAt: tstz('completed_at'),
    result: jsonb('result').$type<Record<string, unknown>>(),
    resultRaw: jsonb('result_raw'),
    errorCode: text('error_code'),
    errorMessage: text('error_message'),
    createdAt: createdAt(),
    updatedAt: updatedAt(),
  },
  (t) => [
    index('commands_device_created_idx').on(t.deviceId, t.createdAt),
    index('commands_pending_idx').on(t.deviceId, t.createdAt).where(sql`status in ('queued', 'sent')`),
    index('commands_in_flight_idx').on(t.status, t.sentAt).where(sql`status in ('queued', 'sent', 'acknowledged')`),
    index('commands_batch_idx').on(t.batchId).where(sql`batch_id is not null`),
  ],
);
