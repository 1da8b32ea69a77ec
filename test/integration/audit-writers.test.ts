import { createHash } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { createDatabase, type Database } from '../../server/infra/db/client';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { canonicalJson, GENESIS } from '../../server/modules/audit/audit.mac';
import { recordAudit } from '../../server/modules/audit/audit.service';
import { newOrganisation } from '../helpers/audit-chain';
import { queryDatabase } from '../helpers/databases';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let database: Database;
const lockHeld: number[] = [];

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  // A pool of its own, larger than the number of writers, so they really run at the same time.
  database = createDatabase(env.config.DATABASE_URL, 12, { auditKey: t.infra.secrets.auditKey, observeAuditLock: (s) => lockHeld.push(s) });
});
afterAll(async () => {
  await database.close();
  await t.close();
  await env.cleanup();
});

const db = () => database.db;
const event = (organisationId: string | null, action = 'test.write', details: Record<string, unknown> = {}) => ({ organisationId, actor: SYSTEM_ACTOR, action, outcome: 'success' as const, details });

const query = <T>(text: string, params: unknown[] = []) => queryDatabase<T>(env.config.DATABASE_URL, text, params);

async function seqs(chainId: string): Promise<number[]> {
  return (await query<{ seq: string }>('select seq from audit_events where chain_id = $1 order by seq', [chainId])).map((r) => Number(r.seq));
}

const range = (n: number) => Array.from({ length: n }, (_, i) => i + 1);

describe('concurrent audit writers', () => {
  it('8 writers on several organisations, several on the same one, keep every chain valid and contiguous', async () => {
    const [a, b, c] = [await newOrganisation(db()), await newOrganisation(db()), await newOrganisation(db())];
    const committed = new Map<string | null, number>();
    const count = (org: string | null, n: number) => committed.set(org, (committed.get(org) ?? 0) + n);
    // Three writers on A, two on B, one on C, one without organisation, one writing to A and B in each transaction.
    const writers: (string | null)[][] = [[a], [a], [a], [b], [b], [c], [null], [a, b]];
    await Promise.all(
      writers.map(async (orgs, w) => {
        for (let i = 0; i < 25; i++) {
          const perOrg = 1 + ((w + i) % 3);
          const rollback = i % 7 === 3;
          await db()
            .transaction(async (tx) => {
              for (const org of orgs) for (let k = 0; k < perOrg; k++) await recordAudit(tx, event(org, 'test.write', { w, i, k }));
              // Other work of the caller's transaction, after its audit calls.
              await tx.execute(sql`select pg_sleep(0.002)`);
              if (rollback) throw new Error('rolled back on purpose');
            })
            .then(
              () => orgs.forEach((org) => count(org, perOrg)),
              (e: Error) => expect(e.message).toBe('rolled back on purpose'),
            );
        }
      }),
    );
    const report = await t.services.auditChain.verify({ organisationIds: [a, b, c] });
    expect(report.chains.map((ch) => ch.problem)).toEqual([null, null, null]);
    for (const org of [a, b, c]) expect(await seqs(org)).toEqual(range(committed.get(org)!));
    expect(report.intact).toBe(true);
    const unscoped = await t.services.auditChain.verify({ organisationIds: [null] });
    expect(unscoped.intact).toBe(true);
    // Each chain lock was held from its acquisition to the commit: two statements and a commit.
    expect(lockHeld.length).toBeGreaterThan(100);
    const sorted = [...lockHeld].sort((x, y) => x - y);
    expect(sorted[0]).toBeGreaterThan(0);
    expect(sorted[Math.floor(sorted.length / 2)]).toBeLessThan(0.5);
  });

  it('writers of different organisations never wait on each other', async () => {
    const [a, b] = [await newOrganisation(db()), await newOrganisation(db())];
    await db().transaction((tx) => recordAudit(tx, event(a)));
    // Someone holds chain A's lock for as long as this test wants.
    const holder = new Client({ connectionString: env.config.DATABASE_URL });
    await holder.connect();
    await holder.query('begin');
    await holder.query('select * from audit_chains where id = $1 for update', [a]);
    let aDone = false;
    const writeA = db()
      .transaction((tx) => recordAudit(tx, event(a)))
      .then(() => (aDone = true));
    const started = Date.now();
    await db().transaction((tx) => recordAudit(tx, event(b)));
    expect(Date.now() - started).toBeLessThan(2000);
    await new Promise((r) => setTimeout(r, 200));
    expect(aDone).toBe(false);
    await holder.query('commit');
    await holder.end();
    await writeA;
    expect(await seqs(a)).toEqual([1, 2]);
  });

  it("takes a chain's lock only at the end of the caller's transaction", async () => {
    const org = await newOrganisation(db());
    const finished: string[] = [];
    // The slow transaction records its event first, then works for a second before committing.
    const slow = db()
      .transaction(async (tx) => {
        await recordAudit(tx, event(org, 'test.slow'));
        await tx.execute(sql`select pg_sleep(1)`);
      })
      .then(() => finished.push('slow'));
    await new Promise((r) => setTimeout(r, 150));
    const fast = db()
      .transaction((tx) => recordAudit(tx, event(org, 'test.fast')))
      .then(() => finished.push('fast'));
    await Promise.all([slow, fast]);
    expect(finished).toEqual(['fast', 'slow']);
    const rows = await query<{ action: string; seq: string }>('select action, seq from audit_events where chain_id = $1 order by seq', [org]);
    expect(rows).toEqual([
      { action: 'test.fast', seq: '1' },
      { action: 'test.slow', seq: '2' },
    ]);
  });

  it('drops the events of a rolled-back transaction or savepoint, and keeps those of a released savepoint', async () => {
    const org = await newOrganisation(db());
    await expect(
      db().transaction(async (tx) => {
        await recordAudit(tx, event(org, 'test.lost'));
        throw new Error('no');
      }),
    ).rejects.toThrow('no');
    await db().transaction(async (tx) => {
      await recordAudit(tx, event(org, 'test.outer'));
      await tx.transaction((sp) => recordAudit(sp, event(org, 'test.kept')));
      await tx
        .transaction(async (sp) => {
          await recordAudit(sp, event(org, 'test.undone'));
          throw new Error('savepoint rolled back');
        })
        .catch(() => undefined);
    });
    const rows = await query<{ action: string }>('select action from audit_events where chain_id = $1 order by seq', [org]);
    expect(rows.map((r) => r.action)).toEqual(['test.outer', 'test.kept']);
    expect((await t.services.auditChain.verify({ organisationIds: [org] })).intact).toBe(true);
  });

  it('refuses to write through a database handle opened without the audit key', async () => {
    const keyless = createDatabase(env.config.DATABASE_URL, 1);
    try {
      await expect(keyless.db.transaction((tx) => recordAudit(tx, event(null)))).rejects.toThrow(/without the audit key/);
    } finally {
      await keyless.close();
    }
  });
});

describe('events of the unkeyed chain written before the upgrade', () => {
  /** Inserts events as the previous version did: no chain, one global SHA-256 chain in id order. */
  async function insertLegacy(rows: { organisationId: string | null; action: string }[], tamperIndex?: number): Promise<string[]> {
    const client = new Client({ connectionString: env.config.DATABASE_URL });
    await client.connect();
    try {
      const last = await client.query<{ hash: string }>('select hash from audit_events where seq is null order by id desc limit 1');
      let prev = last.rows[0]?.hash ?? GENESIS;
      const ids: string[] = [];
      for (const [i, r] of rows.entries()) {
        const fields = { organisationId: r.organisationId, occurredAt: new Date(Date.now() - 60_000 + i), actorType: 'system', actorId: null, actorLabel: 'cartable', role: null, action: r.action, targetType: null, targetId: null, schoolId: null, communeId: null, sourceIp: '198.51.100.4', outcome: 'success', details: { i } };
        const hash = createHash('sha256').update(prev).update('\n').update(canonicalJson(fields)).digest('hex');
        const stored = i === tamperIndex ? { ...fields, action: 'test.tampered' } : fields;
        const res = await client.query<{ id: string }>(
          `insert into audit_events (organisation_id, occurred_at, actor_type, actor_label, action, source_ip, outcome, details, prev_hash, hash)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) returning id`,
          [stored.organisationId, stored.occurredAt, stored.actorType, stored.actorLabel, stored.action, stored.sourceIp, stored.outcome, JSON.stringify(stored.details), prev, hash],
        );
        ids.push(res.rows[0]!.id);
        prev = hash;
      }
      return ids;
    } finally {
      await client.end();
    }
  }

  it('are reported as unlinked, then linked into their chains once at start, and the upgrade is recorded', async () => {
    const [a, b] = [await newOrganisation(db()), await newOrganisation(db())];
    await db().transaction((tx) => recordAudit(tx, event(a, 'test.before_upgrade')));
    await insertLegacy([
      { organisationId: a, action: 'legacy.one' },
      { organisationId: b, action: 'legacy.two' },
      { organisationId: null, action: 'legacy.three' },
      { organisationId: a, action: 'legacy.four' },
    ]);
    const before = await t.services.auditChain.verify({ organisationIds: [a, b] });
    expect(before).toMatchObject({ intact: false, unlinkedEvents: 4 });

    await t.services.startup();
    await t.services.startup();

    const after = await t.services.auditChain.verify();
    expect(after).toMatchObject({ unlinkedEvents: 0 });
    const touched = after.chains.filter((ch) => [a, b, null].includes(ch.organisationId));
    expect(touched).toHaveLength(3);
    expect(touched.map((ch) => ch.problem)).toEqual([null, null, null]);
    const chainA = await query<{ action: string; seq: string }>('select action, seq from audit_events where chain_id = $1 order by seq', [a]);
    expect(chainA.map((r) => r.action)).toEqual(['test.before_upgrade', 'legacy.one', 'legacy.four', 'audit.chain_upgrade']);
    const [upgrade] = await query<{ outcome: string; details: Record<string, unknown> }>("select outcome, details from audit_events where chain_id = $1 and action = 'audit.chain_upgrade'", [a]);
    expect(upgrade).toMatchObject({ outcome: 'success', details: { linkedEvents: 2, legacyEvents: 4, legacyChainIntact: true, legacyBrokenAtEvent: null } });
    expect(await query("select 1 from audit_events where action = 'audit.chain_upgrade' and chain_id = $1", [b])).toHaveLength(1);
  });

  it('records where the unkeyed chain was already broken before the upgrade', async () => {
    const org = await newOrganisation(db());
    const ids = await insertLegacy(
      [
        { organisationId: org, action: 'legacy.a' },
        { organisationId: org, action: 'legacy.b' },
        { organisationId: org, action: 'legacy.c' },
      ],
      1,
    );
    await t.services.startup();
    const [upgrade] = await query<{ outcome: string; details: Record<string, unknown> }>("select outcome, details from audit_events where chain_id = $1 and action = 'audit.chain_upgrade'", [org]);
    expect(upgrade).toMatchObject({ outcome: 'failure', details: { legacyChainIntact: false, legacyBrokenAtEvent: Number(ids[1]) } });
    expect((await t.services.auditChain.verify({ organisationIds: [org] })).intact).toBe(true);
  });
});
