import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { recordAudit } from '../../server/modules/audit/audit.service';
import { asDatabaseOwner, chainEvents, newOrganisation, rewriteWithoutKey, truncateTail, writeEvents } from '../helpers/audit-chain';
import { buildOnce, npxCartable } from '../helpers/cli';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/** An installation that has run: its CA and secret exist, two organisations have written events. */
interface World {
  env: TestEnv;
  t: TestApp;
  orgs: [string, string];
  close(): Promise<void>;
}
const worlds: World[] = [];
const scratch = mkdtempSync(join(tmpdir(), 'cartable-audit-'));

async function world(): Promise<World> {
  const env = await createTestEnv();
  const t = await startTestApp(env);
  const orgs: [string, string] = [await newOrganisation(t.infra.database.db), await newOrganisation(t.infra.database.db)];
  for (const org of orgs) await writeEvents(t.infra.database.db, org, 5);
  await writeEvents(t.infra.database.db, null, 2);
  const w = { env, t, orgs, close: async () => (await t.close(), await env.cleanup()) };
  worlds.push(w);
  return w;
}

const verify = (w: World, ...args: string[]) => npxCartable(['audit', 'verify', ...args], { env: w.env.env });
const owner = <T>(w: World, fn: Parameters<typeof asDatabaseOwner<T>>[1]) => asDatabaseOwner(w.env.config.DATABASE_URL, fn);

// Each npx start costs seconds on a busy machine; a test makes several.
jest.setTimeout(120_000);

beforeAll(async () => buildOnce(), 300_000);
afterAll(async () => {
  for (const w of worlds) await w.close();
  rmSync(scratch, { recursive: true, force: true });
});

describe('npx cartable audit verify', () => {
  it('exits 0 on intact chains, after 8 concurrent writers, and says what it checked per chain', async () => {
    const w = await world();
    const [a, b] = w.orgs;
    const db = w.t.infra.database.db;
    const writers = [a, a, a, b, b, null, a, b];
    await Promise.all(
      writers.map(async (org, i) => {
        for (let k = 0; k < 15; k++) {
          await db.transaction(async (tx) => {
            await recordAudit(tx, { organisationId: org, actor: SYSTEM_ACTOR, action: 'test.concurrent', outcome: 'success', details: { i, k } });
            await tx.execute(sql`select pg_sleep(0.001)`);
          });
        }
      }),
    );
    const res = await verify(w);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(new RegExp(`chain of organisation ${a}: intact: 65 event\\(s\\), seq 1–65, MACs verified with the key; no checkpoint yet`));
    expect(res.stdout).toMatch(new RegExp(`chain of organisation ${b}: intact: 50 event\\(s\\), seq 1–50`));
    expect(res.stdout).toMatch(/chain without organisation: intact: 17 event\(s\)/);
    expect(res.stdout).toMatch(/audit trail intact: \d+ event\(s\) checked in \d+ chain\(s\)\n$/);

    const checkpoint = await npxCartable(['audit', 'checkpoint'], { env: w.env.env });
    expect(checkpoint.code).toBe(0);
    expect(checkpoint.stdout).toMatch(new RegExp(`checkpoint #\\d+: chain of organisation ${a} at seq 65, head [0-9a-f]{64}`));
    const file = join(scratch, 'intact.json');
    const exported = await npxCartable(['audit', 'checkpoint', 'export', '--out', file], { env: w.env.env });
    expect(exported.code).toBe(0);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toMatchObject({ format: 'cartable-audit-checkpoints/1', caCertificate: expect.stringContaining('BEGIN CERTIFICATE') });
    expect(json.checkpoints.find((c: { chainId: string }) => c.chainId === a)).toMatchObject({ headSeq: 65 });
    const withFile = await verify(w, '--checkpoints', file);
    expect(withFile.code).toBe(0);
    expect(withFile.stdout).toMatch(/newest at seq 65 signed .*; 1 exported checkpoint\(s\) compared/);
  });

  it('exits 1 and names the event edited in PostgreSQL', async () => {
    const w = await world();
    const victim = await owner(w, async (c) => {
      const row = (await chainEvents(c, w.orgs[1]))[2]!;
      await c.query(`update audit_events set outcome = 'failure' where id = $1`, [row.id]);
      return row;
    });
    const res = await verify(w);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`chain of organisation ${w.orgs[1]}: BROKEN at event ${victim.id} (seq 3): content does not match its keyed MAC`);
    expect(res.stdout).toContain(`chain of organisation ${w.orgs[0]}: intact`);
    expect(res.stdout).toMatch(/audit trail BROKEN: 1 of \d+ chain\(s\) failed verification\n$/);
  });

  it('exits 1 on a chain recomputed with plain SHA-256 without the key', async () => {
    const w = await world();
    const victim = await owner(w, async (c) => {
      await rewriteWithoutKey(c, w.orgs[0], 2, { note: 'rien à signaler' });
      return (await chainEvents(c, w.orgs[0]))[1]!;
    });
    const res = await verify(w);
    expect(res.code).toBe(1);
    expect(res.stdout).toContain(`BROKEN at event ${victim.id} (seq 2): content does not match its keyed MAC (the event was modified, or the chain was rewritten without the key)`);
  });

  it('exits 1 on a removed tail, through the newest checkpoint, or through an exported file when the checkpoints were removed too', async () => {
    const w = await world();
    const [a, b] = w.orgs;
    expect((await npxCartable(['audit', 'checkpoint'], { env: w.env.env })).code).toBe(0);
    const file = join(scratch, 'tail.json');
    expect((await npxCartable(['audit', 'checkpoint', 'export', '--out', file], { env: w.env.env })).code).toBe(0);

    await owner(w, (c) => truncateTail(c, a, 2));
    const res = await verify(w);
    expect(res.code).toBe(1);
    expect(res.stdout).toMatch(new RegExp(`chain of organisation ${a}: BROKEN after seq 3: the chain ends at seq 3, but checkpoint #\\d+ \\(signed .*\\) vouches for seq 5 \\(the newest events were removed\\)`));

    // A careful administrator also removes the checkpoints: only the copy kept elsewhere still knows.
    await owner(w, async (c) => {
      await truncateTail(c, b, 1);
      await c.query('delete from audit_checkpoints where chain_id = $1', [b]);
    });
    const withoutFile = await verify(w);
    expect(withoutFile.stdout).toContain(`chain of organisation ${b}: intact: 4 event(s)`);
    const withFile = await verify(w, '--checkpoints', file);
    expect(withFile.code).toBe(1);
    expect(withFile.stdout).toMatch(new RegExp(`chain of organisation ${b}: BROKEN after seq 4: the chain ends at seq 4, but the exported checkpoint signed .* vouches for seq 5`));
  });

  it('refuses to run without the server secret, or with another one, and explains a bad checkpoints file', async () => {
    const w = await world();
    const elsewhere = mkdtempSync(join(scratch, 'empty-'));
    const noSecret = await npxCartable(['audit', 'verify'], { env: { ...w.env.env, CARTABLE_SECRETS_DIR: elsewhere } });
    expect(noSecret.code).toBe(1);
    expect(noSecret.stderr).toMatch(/^cartable: no master secret: CARTABLE_SECRET_KEY is not set and there is no key file at .*\n$/);
    const wrong = await npxCartable(['audit', 'verify'], { env: { ...w.env.env, CARTABLE_SECRET_KEY: 'x'.repeat(40) } });
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toMatch(/^cartable: CA key cannot be decrypted: wrong CARTABLE_SECRET_KEY\?\n$/);
    const bad = join(scratch, 'bad.json');
    writeFileSync(bad, '{"format":"something else"}');
    const badFile = await verify(w, '--checkpoints', bad);
    expect(badFile.code).toBe(1);
    expect(badFile.stderr).toMatch(/^cartable: the checkpoints file is not a Cartable checkpoint export: .*\n$/);
    const usage = await npxCartable(['audit'], { env: w.env.env });
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^cartable: usage: cartable audit verify/);
  });
});
