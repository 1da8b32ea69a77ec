import { integer, pgTable, text, uniqueIndex } from 'drizzle-orm/pg-core';
import { createdAt, id, oneOf, tstz } from './columns';

export const IDEMPOTENCY_STATES = ['pending', 'done'] as const;

/**
 * The first answer to a request sent with an `Idempotency-Key`, per caller, so that a retried
 * request gets that answer again instead of creating something twice. Bodies are stored sealed
 * with the server's key: some carry a secret shown once.
 */
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    id: id(),
    /** The user (or API token) the key belongs to: two callers never share a key. */
    owner: text('owner').notNull(),
    key: text('key').notNull(),
    requestHash: text('request_hash').notNull(),
    state: text('state', { enum: IDEMPOTENCY_STATES }).notNull().default('pending'),
    statusCode: integer('status_code'),
    contentType: text('content_type'),
    responseSealed: text('response_sealed'),
    createdAt: createdAt(),
    expiresAt: tstz('expires_at').notNull(),
  },
  (t) => [uniqueIndex('idempotency_keys_owner_key_uq').on(t.owner, t.key), oneOf('idempotency_keys_state_ck', t.state, IDEMPOTENCY_STATES)],
);
