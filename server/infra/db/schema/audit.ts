import { bigserial, index, jsonb, pgTable, text, uuid } from 'drizzle-orm/pg-core';
import { tstz } from './columns';

/**
 * Append-only trail. Each row's hash covers its content and the previous row's hash, so an edit
 * or a deletion made directly in the database breaks the chain at that row.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    organisationId: uuid('organisation_id'),
    occurredAt: tstz('occurred_at').notNull().defaultNow(),
    actorType: text('actor_type', { enum: ['user', 'api_token', 'device', 'system'] }).notNull(),
    actorId: text('actor_id'),
    actorLabel: text('actor_label'),
    role: text('role'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    schoolId: uuid('school_id'),
    communeId: uuid('commune_id'),
    sourceIp: text('source_ip'),
    outcome: text('outcome', { enum: ['success', 'denied', 'failure'] }).notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [index('audit_events_time_idx').on(t.occurredAt), index('audit_events_target_idx').on(t.targetType, t.targetId)],
);
