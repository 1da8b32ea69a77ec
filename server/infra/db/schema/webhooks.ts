import { sql } from 'drizzle-orm';
import { boolean, index, integer, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz } from './columns';
import { organisations } from './organisation';

export const WEBHOOK_DELIVERY_STATES = ['pending', 'delivered', 'failed'] as const;

/**
 * Where an organisation wants its events posted. The secret signs each body; it is shown once at
 * creation and kept sealed with the server's key, since signing needs it back in clear.
 */
export const webhookEndpoints = pgTable(
  'webhook_endpoints',
  {
    id: id(),
    organisationId: uuid('organisation_id').notNull().references(() => organisations.id),
    url: text('url').notNull(),
    /** Event types posted here; an empty list means every type. */
    events: text('events').array().notNull().default(sql`'{}'::text[]`),
    secretSealed: text('secret_sealed').notNull(),
    enabled: boolean('enabled').notNull().default(true),
    createdBy: uuid('created_by'),
    createdAt: createdAt(),
  },
  (t) => [index('webhook_endpoints_org_idx').on(t.organisationId)],
);

/**
 * One event for one endpoint, and every attempt's outcome. The body is stored as it was signed and
 * sent, so that a retry sends the same bytes and a reader can check what left the server.
 */
export const webhookDeliveries = pgTable(
  'webhook_deliveries',
  {
    id: id(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => webhookEndpoints.id, { onDelete: 'cascade' }),
    organisationId: uuid('organisation_id')
      .notNull()
      .references(() => organisations.id),
    /** The event's own id: emitting the same event twice delivers it once per endpoint. */
    eventId: text('event_id').notNull(),
    eventType: text('event_type').notNull(),
    body: text('body').notNull(),
    state: text('state', { enum: WEBHOOK_DELIVERY_STATES }).notNull().default('pending'),
    attempts: integer('attempts').notNull().default(0),
    lastStatus: integer('last_status'),
    lastError: text('last_error'),
    createdAt: createdAt(),
    lastAttemptAt: tstz('last_attempt_at'),
    deliveredAt: tstz('delivered_at'),
  },
  (t) => [
    uniqueIndex('webhook_deliveries_endpoint_event_uq').on(t.endpointId, t.eventId),
    index('webhook_deliveries_org_idx').on(t.organisationId, t.createdAt),
    index('webhook_deliveries_pending_idx').on(t.createdAt).where(sql`state = 'pending'`),
    oneOf('webhook_deliveries_state_ck', t.state, WEBHOOK_DELIVERY_STATES),
  ],
);
