import { and, asc, desc, eq, gt, gte, isNull, like, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { auditChains, auditCheckpoints, auditEvents } from '../../infra/db/schema';
import { GENESIS } from './audit.mac';

export type AuditRow = typeof auditEvents.$inferSelect;
export type NewAuditRow = typeof auditEvents.$inferInsert;
export type CheckpointRow = typeof auditCheckpoints.$inferSelect;
export interface ChainHead {
  seq: number;
  hash: string;
}

/**
 * Locks the chain's head row until COMMIT and returns the head, creating the row at the chain's
 * first event. One statement: in READ COMMITTED it waits for a concurrent writer of the same
 * chain and then returns what that writer committed; under REPEATABLE READ it fails rather than
 * fork the chain from a stale head.
 */
export async function lockChainHead(tx: DbOrTx, chainId: string, organisationId: string | null): Promise<ChainHead> {
  const [head] = await tx
    .insert(auditChains)
    .values({ id: chainId, organisationId, headSeq: 0, headHash: GENESIS })
    .onConflictDoUpdate({ target: auditChains.id, set: { headSeq: sql`${auditChains}.${sql.identifier('head_seq')}` } })
    .returning({ seq: auditChains.headSeq, hash: auditChains.headHash });
  return head!;
}

/** An event as the chain stores it: every column its MAC covers, its place and its hashes. */
export type ChainedAuditRow = Required<Omit<NewAuditRow, 'id' | 'erasedAt'>>;

/**
 * Inserts the chain's next events and moves its head, in one round trip. The events travel as one
 * JSON document: a parameter per column and event (a burst of enrollments appends a hundred
 * events at once) cost more to build and to plan than the insert itself.
 */
export async function appendToChain(tx: DbOrTx, chainId: string, rows: ChainedAuditRow[], head: ChainHead): Promise<void> {
  const events = rows.map((e) => ({
    organisation_id: e.organisationId,
    chain_id: e.chainId,
    seq: e.seq,
    occurred_at: e.occurredAt,
    actor_type: e.actorType,
    actor_id: e.actorId,
    actor_label: e.actorLabel,
    role: e.role,
    action: e.action,
    target_type: e.targetType,
    target_id: e.targetId,
    school_id: e.schoolId,
    commune_id: e.communeId,
    source_ip: e.sourceIp,
    outcome: e.outcome,
    details: e.details,
    personal_salt: e.personalSalt,
    personal_digest: e.personalDigest,
    prev_hash: e.prevHash,
    hash: e.hash,
  }));
  await tx.execute(sql`
    with appended as (
      insert into ${auditEvents} (organisation_id, chain_id, seq, occurred_at, actor_type, actor_id, actor_label, role, action, target_type, target_id,
                                  school_id, commune_id, source_ip, outcome, details, personal_salt, personal_digest, prev_hash, hash)
      select organisation_id, chain_id, seq, occurred_at, actor_type, actor_id, actor_label, role, action, target_type, target_id,
             school_id, commune_id, source_ip, outcome, details, personal_salt, personal_digest, prev_hash, hash
      from jsonb_to_recordset(${JSON.stringify(events)}::jsonb) as e(
        organisation_id uuid, chain_id uuid, seq bigint, occurred_at timestamptz, actor_type text, actor_id text, actor_label text, role text, action text,
        target_type text, target_id text, school_id uuid, commune_id uuid, source_ip text, outcome text, details jsonb, personal_salt text, personal_digest text,
        prev_hash text, hash text)
    )
    update ${auditChains} set head_seq = ${head.seq}, head_hash = ${head.hash}, updated_at = now() where id = ${chainId}`);
}

/** One page of a chain in sequence order, for verification. */
export function readChainPage(db: DbOrTx, chainId: string, afterSeq: number, limit: number): Promise<AuditRow[]> {
  return db
    .select()
    .from(auditEvents)
    .where(and(eq(auditEvents.chainId, chainId), gt(auditEvents.seq, afterSeq)))
    .orderBy(asc(auditEvents.seq))
    .limit(limit);
}

export interface ChainListing {
  chainId: string;
  organisationId: string | null;
  head: ChainHead | null;
}

/**
 * Every chain anything knows of: a head row, events or checkpoints. A chain whose head row was
 * deleted still shows up through its events, and one whose events were deleted through its checkpoints.
 */
export async function listChains(db: DbOrTx, organisationIds?: (string | null)[]): Promise<ChainListing[]> {
  const result = await db.execute<{ chain_id: string; organisation_id: string | null; head_seq: string | null; head_hash: string | null }>(sql`
    with known as (
      select id as chain_id, organisation_id from audit_chains
      union select chain_id, organisation_id from audit_events where chain_id is not null group by chain_id, organisation_id
      union select chain_id, organisation_id from audit_checkpoints group by chain_id, organisation_id
    )
    select k.chain_id, min(k.organisation_id::text) as organisation_id, min(c.head_seq) as head_seq, min(c.head_hash) as head_hash
    from known k left join audit_chains c on c.id = k.chain_id
    group by k.chain_id order by k.chain_id`);
  const chains = result.rows.map((r) => ({
    chainId: r.chain_id,
    organisationId: r.organisation_id,
    head: r.head_seq === null ? null : { seq: Number(r.head_seq), hash: r.head_hash! },
  }));
  return organisationIds ? chains.filter((c) => organisationIds.includes(c.organisationId)) : chains;
}

/** Events written before chains were keyed and not linked into one yet. */
export async function countUnlinkedEvents(db: DbOrTx): Promise<number> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(auditEvents).where(isNull(auditEvents.seq));
  return row!.n;
}

export async function insertCheckpoint(db: DbOrTx, checkpoint: Omit<CheckpointRow, 'id'>): Promise<CheckpointRow> {
  const [row] = await db.insert(auditCheckpoints).values(checkpoint).returning();
  return row!;
}

/** A chain's checkpoints, oldest first. */
export function listCheckpoints(db: DbOrTx, chainId: string): Promise<CheckpointRow[]> {
  return db.select().from(auditCheckpoints).where(eq(auditCheckpoints.chainId, chainId)).orderBy(asc(auditCheckpoints.headSeq), asc(auditCheckpoints.id));
}

/** The newest checkpoint of every chain, for an export. */
export function newestCheckpoints(db: DbOrTx): Promise<CheckpointRow[]> {
  return db
    .selectDistinctOn([auditCheckpoints.chainId])
    .from(auditCheckpoints)
    .orderBy(asc(auditCheckpoints.chainId), desc(auditCheckpoints.headSeq), desc(auditCheckpoints.id));
}

/** Blocks every chain writer until the transaction ends: for the one-off linking of older events. */
export async function lockAllChains(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`lock table ${auditChains} in share row exclusive mode`);
}

export function readUnlinkedPage(db: DbOrTx, afterId: number, limit: number): Promise<AuditRow[]> {
  return db.select().from(auditEvents).where(and(isNull(auditEvents.seq), gt(auditEvents.id, afterId))).orderBy(asc(auditEvents.id)).limit(limit);
}

export type LinkedFields = Pick<AuditRow, 'id' | 'personalSalt' | 'personalDigest' | 'prevHash' | 'hash'> & { chainId: string; seq: number };

/** Gives events written before chains were keyed their place in their chain; their content is untouched. */
export async function linkEvents(tx: DbOrTx, rows: LinkedFields[]): Promise<void> {
  if (rows.length === 0) return;
  const values = sql.join(
    rows.map((r) => sql`(${r.id}::bigint, ${r.chainId}::uuid, ${r.seq}::bigint, ${r.personalSalt}, ${r.personalDigest}, ${r.prevHash}, ${r.hash})`),
    sql`, `,
  );
  await tx.execute(sql`
    update ${auditEvents} e set chain_id = v.chain_id, seq = v.seq, personal_salt = v.salt, personal_digest = v.digest, prev_hash = v.prev_hash, hash = v.hash
    from (values ${values}) as v(id, chain_id, seq, salt, digest, prev_hash, hash) where e.id = v.id`);
}

export async function setChainHeads(tx: DbOrTx, heads: Map<string, ChainHead & { organisationId: string | null }>): Promise<void> {
  for (const [chainId, head] of heads) {
    await tx
      .insert(auditChains)
      .values({ id: chainId, organisationId: head.organisationId, headSeq: head.seq, headHash: head.hash })
      .onConflictDoUpdate({ target: auditChains.id, set: { headSeq: head.seq, headHash: head.hash, updatedAt: sql`now()` } });
  }
}

export interface AuditFilter {
  organisationId: string;
  from?: Date;
  to?: Date;
  action?: string;
  actorId?: string;
  targetType?: string;
  targetId?: string;
  schoolId?: string;
  outcome?: 'success' | 'denied' | 'failure';
}

/**
 * One page of the trail in id order. Events without an organisation (sign-in attempts on unknown
 * accounts) are shown to every organisation's auditors.
 */
export function listAuditEvents(db: DbOrTx, filter: AuditFilter, afterId: number, limit: number): Promise<AuditRow[]> {
  const action = filter.action?.endsWith('*') ? like(auditEvents.action, `${filter.action.slice(0, -1).replace(/[%_\\]/g, '\\$&')}%`) : filter.action ? eq(auditEvents.action, filter.action) : undefined;
  return db
    .select()
    .from(auditEvents)
    .where(
      and(
        or(eq(auditEvents.organisationId, filter.organisationId), isNull(auditEvents.organisationId)),
        gt(auditEvents.id, afterId),
        filter.from ? gte(auditEvents.occurredAt, filter.from) : undefined,
        filter.to ? lt(auditEvents.occurredAt, filter.to) : undefined,
        action,
        filter.actorId ? eq(auditEvents.actorId, filter.actorId) : undefined,
        filter.targetType ? eq(auditEvents.targetType, filter.targetType) : undefined,
        filter.targetId ? eq(auditEvents.targetId, filter.targetId) : undefined,
        filter.schoolId ? eq(auditEvents.schoolId, filter.schoolId) : undefined,
        filter.outcome ? eq(auditEvents.outcome, filter.outcome) : undefined,
      ),
    )
    .orderBy(asc(auditEvents.id))
    .limit(limit);
}

/** The oldest event still in a chain (null for an empty chain). */
export async function firstSeqOf(db: DbOrTx, chainId: string): Promise<number | null> {
  const [row] = await db.select({ seq: sql<string | null>`min(${auditEvents.seq})` }).from(auditEvents).where(eq(auditEvents.chainId, chainId));
  return row?.seq == null ? null : Number(row.seq);
}

/**
 * The one allowed deletion path (docs/audit-trail.md): the caller has recorded the purge event
 * naming the anchor in this same transaction. The setting is local to the transaction; the
 * anchor checkpoint itself is kept, older ones go with their events.
 */
export async function deleteChainPrefix(tx: DbOrTx, chainId: string, throughSeq: number): Promise<number> {
  await tx.execute(sql`set local cartable.audit_purge = 'on'`);
  const deleted = await tx.execute(sql`delete from ${auditEvents} where chain_id = ${chainId} and seq <= ${throughSeq}`);
  await tx.execute(sql`delete from ${auditCheckpoints} where chain_id = ${chainId} and head_seq < ${throughSeq}`);
  return deleted.rowCount ?? 0;
}
