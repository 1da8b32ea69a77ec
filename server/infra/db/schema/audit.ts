import { sql } from 'drizzle-orm';
import { bigint, bigserial, index, jsonb, pgTable, text, uniqueIndex, uuid } from 'drizzle-orm/pg-core';
import { oneOf, tstz } from './columns';

export const ACTOR_TYPES = ['user', 'api_token', 'device', 'system'] as const;
export const AUDIT_OUTCOMES = ['success', 'denied', 'failure'] as const;

/**
 * Append-only trail, one keyed chain per organisation (docs/audit-trail.md). Each event's MAC
 * (`hash`, HMAC-SHA256 with a key derived from the master secret) covers its chain, its sequence
 * number, the previous event's MAC and its content; the personal fields (actor label, source IP,
 * details) enter it through `personal_digest` only, so erasing them keeps the chain verifiable.
 * `chain_id` and `seq` are null only on events written before chains were keyed, until the
 * server links them at start.
 */
export const auditEvents = pgTable(
  'audit_events',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    organisationId: uuid('organisation_id'),
    chainId: uuid('chain_id'),
    seq: bigint('seq', { mode: 'number' }),
    occurredAt: tstz('occurred_at').notNull().defaultNow(),
    actorType: text('actor_type', { enum: ACTOR_TYPES }).notNull(),
    actorId: text('actor_id'),
    actorLabel: text('actor_label'),
    role: text('role'),
    action: text('action').notNull(),
    targetType: text('target_type'),
    targetId: text('target_id'),
    schoolId: uuid('school_id'),
    communeId: uuid('commune_id'),
    sourceIp: text('source_ip'),
    outcome: text('outcome', { enum: AUDIT_OUTCOMES }).notNull(),
    details: jsonb('details').$type<Record<string, unknown>>().notNull().default({}),
    /** Random, per event: without it the digest of a short value (an IP address) could be guessed. Blanked by erasure. */
    personalSalt: text('personal_salt'),
    personalDigest: text('personal_digest'),
    /** Set when the personal fields were blanked (erasure); the digest stays and still verifies the chain. */
    erasedAt: tstz('erased_at'),
    prevHash: text('prev_hash').notNull(),
    hash: text('hash').notNull(),
  },
  (t) => [
    index('audit_events_time_idx').on(t.occurredAt),
    index('audit_events_target_idx').on(t.targetType, t.targetId),
    uniqueIndex('audit_events_chain_seq_idx').on(t.chainId, t.seq),
    index('audit_events_unlinked_idx').on(t.id).where(sql`${t.seq} is null`),
    oneOf('audit_events_actor_type_ck', t.actorType, ACTOR_TYPES),
    oneOf('audit_events_outcome_ck', t.outcome, AUDIT_OUTCOMES),
  ],
);

/**
 * The head of each chain. Writers lock their chain's row just before COMMIT (never a lock shared
 * by every organisation); verification does not trust it, it only compares it with the events.
 */
export const auditChains = pgTable('audit_chains', {
  id: uuid('id').primaryKey(),
  organisationId: uuid('organisation_id'),
  headSeq: bigint('head_seq', { mode: 'number' }).notNull(),
  headHash: text('head_hash').notNull(),
  updatedAt: tstz('updated_at').notNull().defaultNow(),
});

/** Signed statements "chain X had N events ending with MAC H at time T", to detect a truncated tail. */
export const auditCheckpoints = pgTable(
  'audit_checkpoints',
  {
    id: bigserial('id', { mode: 'number' }).primaryKey(),
    chainId: uuid('chain_id').notNull(),
    organisationId: uuid('organisation_id'),
    headSeq: bigint('head_seq', { mode: 'number' }).notNull(),
    headHash: text('head_hash').notNull(),
    signedAt: tstz('signed_at').notNull(),
    /** Base64 signature by the internal CA's key over the canonical checkpoint (see audit.mac.ts). */
    signature: text('signature').notNull(),
  },
  (t) => [index('audit_checkpoints_chain_idx').on(t.chainId, t.headSeq)],
);
