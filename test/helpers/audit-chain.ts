import { createHash, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { Db } from '../../server/infra/db/client';
import { organisations } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { canonicalJson, personalDigest } from '../../server/modules/audit/audit.mac';
import { recordAudit } from '../../server/modules/audit/audit.service';

/** A new organisation: its audit events form a chain of their own. */
export async function newOrganisation(db: Db): Promise<string> {
  const [org] = await db.insert(organisations).values({ slug: `org-${randomUUID().slice(0, 8)}`, name: 'Agglo' }).returning();
  return org!.id;
}

/** `n` audited transactions for one organisation (null: the chain without organisation). */
export async function writeEvents(db: Db, organisationId: string | null, n: number, action = 'test.event'): Promise<void> {
  for (let i = 0; i < n; i++) {
    await db.transaction((tx) =>
      recordAudit(tx, { organisationId, actor: { ...SYSTEM_ACTOR, label: `writer ${i}`, ip: '192.0.2.7' }, action, outcome: 'success', details: { i, note: 'élève Jeanne Dupont' } }),
    );
  }
}

/**
 * What a database owner can do behind Cartable's back: run SQL with the append-only triggers
 * switched off (`session_replication_role = replica`, as a superuser can).
 */
export async function asDatabaseOwner<T>(url: string, fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('set session_replication_role = replica');
    return await fn(client);
  } finally {
    await client.end();
  }
}

export interface RawEvent {
  id: string;
  seq: string;
  prev_hash: string;
  hash: string;
  [column: string]: unknown;
}

export async function chainEvents(client: Client, chainId: string): Promise<RawEvent[]> {
  return (await client.query<RawEvent>('select * from audit_events where chain_id = $1 order by seq', [chainId])).rows;
}

/**
 * The attack the key defeats: edit an event's details, recompute its personal digest (salted
 * SHA-256, computable by anyone), then every MAC from there on with plain SHA-256 (the old
 * unkeyed chain's algorithm), and move the head record along.
 */
export async function rewriteWithoutKey(client: Client, chainId: string, seq: number, details: Record<string, unknown>): Promise<void> {
  const [victim] = (await client.query<{ personal_salt: string; actor_label: string | null; source_ip: string | null }>('select * from audit_events where chain_id = $1 and seq = $2', [chainId, seq])).rows;
  const digest = personalDigest(victim!.personal_salt, { actorLabel: victim!.actor_label, sourceIp: victim!.source_ip, details });
  await client.query('update audit_events set details = $3, personal_digest = $4 where chain_id = $1 and seq = $2', [chainId, seq, JSON.stringify(details), digest]);
  const rows = await chainEvents(client, chainId);
  let prev = rows[0]!.prev_hash;
  for (const row of rows) {
    if (Number(row.seq) >= seq) {
      const { id: _id, hash: _hash, prev_hash: _prev, ...content } = row;
      const hash = createHash('sha256').update(prev).update('\n').update(canonicalJson(content)).digest('hex');
      await client.query('update audit_events set prev_hash = $2, hash = $3 where id = $1', [row.id, prev, hash]);
      row.hash = hash;
    }
    prev = row.hash;
  }
  await client.query('update audit_chains set head_hash = $2 where id = $1', [chainId, prev]);
}

/** Removes the newest `n` events of a chain and moves its head record back, leaving no broken link. */
export async function truncateTail(client: Client, chainId: string, n: number): Promise<void> {
  const rows = await chainEvents(client, chainId);
  const kept = rows.slice(0, rows.length - n);
  const last = kept.at(-1)!;
  await client.query('delete from audit_events where chain_id = $1 and seq > $2', [chainId, last.seq]);
  await client.query('update audit_chains set head_seq = $2, head_hash = $3 where id = $1', [chainId, last.seq, last.hash]);
}
