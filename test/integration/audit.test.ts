import { sql } from 'drizzle-orm';
import type { Client } from 'pg';
import { createPrincipalToken } from '../helpers/auth';
import { openApiWorld, type ApiWorld } from '../helpers/api-world';
import { queryDatabase } from '../helpers/databases';
import { asDatabaseOwner, chainEvents, newOrganisation, rewriteWithoutKey, truncateTail, writeEvents } from '../helpers/audit-chain';
import type { TestApp, TestEnv } from '../helpers/test-env';

let w: ApiWorld;
let env: TestEnv;
let t: TestApp;
let tree: ApiWorld['tree'];
let admin: string;
let auditor: string;

beforeAll(async () => {
  w = await openApiWorld();
  ({ env, t, tree, admin } = w);
  auditor = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'auditor', scopeType: 'organisation' });
  for (let i = 0; i < 4; i++) {
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/groups', headers: { authorization: `Bearer ${admin}` }, payload: { schoolId: tree.schools[0]!.id, name: `Chariot ${i}` } });
    expect(res.statusCode).toBe(201);
  }
});
afterAll(async () => w.close());

const get = (url: string, token = auditor) => t.app.inject({ url, headers: { authorization: `Bearer ${token}` } });
const db = () => t.infra.database.db;
const verifyOrg = (organisationId: string) => t.services.auditChain.verify({ organisationIds: [organisationId] });
const owner = <T>(fn: (c: Client) => Promise<T>) => asDatabaseOwner(env.config.DATABASE_URL, fn);

const appSql = (text: string, params: unknown[] = []) => queryDatabase(env.config.DATABASE_URL, text, params);

describe('audit trail API', () => {
  it('records each mutation with actor, role, target, scope, source IP and its place in the chain', async () => {
    const res = await get('/api/v1/audit/events?action=group.create');
    expect(res.statusCode).toBe(200);
    const events = res.json().items;
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({ actorType: 'api_token', role: 'admin', targetType: 'group', schoolId: tree.schools[0]!.id, sourceIp: '127.0.0.1', outcome: 'success', erased: false });
    expect(events[0].hash).toMatch(/^[0-9a-f]{64}$/);
    const seqs = events.map((e: { seq: number }) => e.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(4);
  });

  it('filters by prefix and outcome, and pages by id cursor', async () => {
    const first = (await get('/api/v1/audit/events?action=group.*&limit=3')).json();
    expect(first.items).toHaveLength(3);
    expect(first.next).toBe(first.items[2].id);
    const second = (await get(`/api/v1/audit/events?action=group.*&limit=3&after=${first.next}`)).json();
    expect(second.items).toHaveLength(1);
    expect(second.next).toBeNull();
    expect((await get('/api/v1/audit/events?outcome=failure')).json().items).toHaveLength(0);
  });

  it('exports CSV, and audits the export', async () => {
    const res = await get('/api/v1/audit/events.csv?action=group.create');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/csv/);
    const lines = res.body.trim().split('\r\n');
    expect(lines[0]).toMatch(/^id,occurredAt,actorType.*,seq,erased,hash$/);
    expect(lines).toHaveLength(5);
    const exports = (await get('/api/v1/audit/events?action=audit.export')).json().items;
    expect(exports).toHaveLength(1);
    expect(exports[0].details).toMatchObject({ rows: 4, filters: { action: 'group.create' } });
  });

  it('offers no way to change or delete events', async () => {
    const id = (await get('/api/v1/audit/events?limit=1')).json().items[0].id;
    for (const method of ['PATCH', 'PUT', 'DELETE'] as const) {
      const res = await t.app.inject({ method, url: `/api/v1/audit/events/${id}`, headers: { authorization: `Bearer ${admin}` }, payload: {} });
      expect(res.statusCode).toBe(404);
    }
  });

  it('keeps technicians and directors away from the trail and its verification', async () => {
    const tech = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'organisation' });
    for (const url of ['/api/v1/audit/events', '/api/v1/audit/events.csv', '/api/v1/audit/verification']) expect((await get(url, tech)).statusCode).toBe(403);
  });

  it("tells an auditor that the organisation's chain verified, and when", async () => {
    const res = await get('/api/v1/audit/verification');
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toMatchObject({ intact: true, unlinkedEvents: 0 });
    expect(Date.now() - Date.parse(body.verifiedAt)).toBeLessThan(60_000);
    const mine = body.chains.find((c: { organisationId: string }) => c.organisationId === tree.org.id);
    expect(mine).toMatchObject({ intact: true, problem: null, firstSeq: 1 });
    expect(mine.events).toBeGreaterThanOrEqual(4);
    // Only this organisation's chain, and the one of events without organisation.
    expect(body.chains.every((c: { organisationId: string | null }) => c.organisationId === tree.org.id || c.organisationId === null)).toBe(true);
  });

  it('tells the auditor where the chain broke after an edit in PostgreSQL', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 3);
    const auditorB = await createPrincipalToken(t.services, { organisationId: org, role: 'auditor', scopeType: 'organisation' });
    const victim = await owner(async (c) => {
      const row = (await chainEvents(c, org))[1]!;
      await c.query(`update audit_events set action = 'test.nothing' where id = $1`, [row.id]);
      return row;
    });
    const body = (await get('/api/v1/audit/verification', auditorB)).json();
    expect(body.intact).toBe(false);
    const chain = body.chains.find((c: { organisationId: string }) => c.organisationId === org);
    expect(chain.problem).toMatchObject({ eventId: Number(victim.id), seq: Number(victim.seq) });
    expect(chain.problem.reason).toMatch(/keyed MAC/);
    // Another organisation's chain is not affected.
    expect((await get('/api/v1/audit/verification')).json().intact).toBe(true);
  });
});

describe('keyed chains', () => {
  it('one chain per organisation, plus one for events without organisation, each numbered from 1', async () => {
    const [a, b] = [await newOrganisation(db()), await newOrganisation(db())];
    await writeEvents(db(), a, 3);
    await writeEvents(db(), b, 2);
    await writeEvents(db(), null, 1);
    const report = await t.services.auditChain.verify({ organisationIds: [a, b, null] });
    expect(report.intact).toBe(true);
    const byOrg = Object.fromEntries(report.chains.map((c) => [String(c.organisationId), c]));
    expect(byOrg[a]).toMatchObject({ events: 3, firstSeq: 1, lastSeq: 3 });
    expect(byOrg[b]).toMatchObject({ events: 2, firstSeq: 1, lastSeq: 2 });
    expect(byOrg.null!.intact).toBe(true);
  });

  it('names an event whose personal fields were edited', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 3);
    const victim = await owner(async (c) => {
      const row = (await chainEvents(c, org))[2]!;
      await c.query(`update audit_events set source_ip = '203.0.113.9' where id = $1`, [row.id]);
      return row;
    });
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain!.problem).toMatchObject({ eventId: Number(victim.id), seq: 3 });
    expect(chain!.problem!.reason).toMatch(/do not match their digest/);
  });

  it('refuses a chain rewritten with plain SHA-256 from an edited event on', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 4);
    const victim = await owner(async (c) => {
      await rewriteWithoutKey(c, org, 2, { forged: true });
      return (await chainEvents(c, org))[1]!;
    });
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain).toMatchObject({ intact: false, events: 1 });
    expect(chain!.problem).toMatchObject({ eventId: Number(victim.id), seq: 2 });
    expect(chain!.problem!.reason).toMatch(/rewritten without the key/);
  });

  it('names the event after one deleted from the middle of a chain', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 5);
    const rows = await owner(async (c) => {
      const all = await chainEvents(c, org);
      await c.query('delete from audit_events where id = $1', [all[2]!.id]);
      return all;
    });
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain!.problem).toMatchObject({ eventId: Number(rows[3]!.id), seq: 4 });
    expect(chain!.problem!.reason).toMatch(/jumps from 2 to 4/);
  });

  it('detects a removed tail through the newest signed checkpoint, even with the head record moved back', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 4);
    const { written } = await t.services.auditChain.checkpoint();
    const mine = written.find((c) => c.chainId === org)!;
    expect(mine).toMatchObject({ headSeq: 4 });
    expect((await verifyOrg(org)).intact).toBe(true);
    await owner((c) => truncateTail(c, org, 2));
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain).toMatchObject({ intact: false, lastSeq: 2 });
    expect(chain!.problem!.reason).toMatch(new RegExp(`ends at seq 2, but checkpoint #${mine.id} .* vouches for seq 4`));
  });

  it('refuses a checkpoint that the CA did not sign', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 2);
    await t.services.auditChain.checkpoint();
    await owner((c) => c.query(`update audit_checkpoints set head_seq = 1 where chain_id = $1`, [org]));
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain!.problem!.reason).toMatch(/not signed by this installation's CA/);
  });

  it('a checkpoint is refused to a chain that does not verify', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 2);
    await t.services.auditChain.checkpoint();
    await writeEvents(db(), org, 2);
    await owner(async (c) => c.query(`update audit_events set role = 'admin' where chain_id = $1 and seq = 3`, [org]));
    const { written, refused } = await t.services.auditChain.checkpoint({ onlyChanged: true });
    expect(written.find((c) => c.chainId === org)).toBeUndefined();
    expect(refused.find((r) => r.chainId === org)).toMatchObject({ problem: { seq: 3, reason: expect.stringMatching(/keyed MAC/) } });
  });

  it('skips chains whose head has not moved when asked to', async () => {
    await t.services.auditChain.checkpoint();
    const again = await t.services.auditChain.checkpoint({ onlyChanged: true });
    expect(again.written.filter((c) => c.organisationId === tree.org.id)).toHaveLength(0);
    expect(again.skipped).toBeGreaterThan(0);
  });

  it('keeps verifying after the personal fields of events are erased', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 3);
    await t.services.auditChain.checkpoint();
    // The documented erasure: the personal fields and their salt blanked, nothing else.
    await appSql(`update audit_events set actor_label = null, source_ip = null, details = '{}', personal_salt = null, erased_at = now() where chain_id = $1 and seq <= 2`, [org]);
    const [chain] = (await verifyOrg(org)).chains;
    expect(chain).toMatchObject({ intact: true, events: 3, erasedEvents: 2 });
    const erased = (await get(`/api/v1/audit/events?action=test.event&limit=1000`, await createPrincipalToken(t.services, { organisationId: org, role: 'auditor', scopeType: 'organisation' }))).json().items;
    expect(erased.filter((e: { erased: boolean; actorLabel: string | null }) => e.erased && e.actorLabel === null)).toHaveLength(2);
    // Data written back into an erased event is caught.
    await owner((c) => c.query(`update audit_events set actor_label = 'quelqu''un' where chain_id = $1 and seq = 1`, [org]));
    expect((await verifyOrg(org)).chains[0]!.problem!.reason).toMatch(/written into an erased event/);
  });

  it('verifies a chain whose oldest events were purged at a signed checkpoint, and refuses one cut anywhere else', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 3);
    const anchor = (await t.services.auditChain.checkpoint()).written.find((c) => c.chainId === org)!;
    await writeEvents(db(), org, 1, 'test.later');
    // The purge records its anchor in the chain, then deletes up to it under its setting.
    await db().transaction(async (tx) => {
      const { recordAudit } = await import('../../server/modules/audit/audit.service');
      await recordAudit(tx, { organisationId: org, actor: { type: 'system', id: null, label: 'cartable', role: null, ip: null }, action: 'audit.purge', outcome: 'success', details: { throughSeq: anchor.headSeq, throughHash: anchor.headHash } });
      await tx.execute(sql`set local cartable.audit_purge = 'on'`);
      await tx.execute(sql`delete from audit_events where chain_id = ${org} and seq <= ${anchor.headSeq}`);
    });
    const [purged] = (await verifyOrg(org)).chains;
    expect(purged).toMatchObject({ intact: true, firstSeq: 4, lastSeq: 5, events: 2 });

    const other = await newOrganisation(db());
    await writeEvents(db(), other, 3);
    await t.services.auditChain.checkpoint();
    await owner((c) => c.query('delete from audit_events where chain_id = $1 and seq = 1', [other]));
    const [cut] = (await verifyOrg(other)).chains;
    expect(cut!.problem).toMatchObject({ seq: 2 });
    expect(cut!.problem!.reason).toMatch(/events before seq 2 are missing/);
  });

  it('is append-only for the application: updates, deletions and truncation are refused by the database', async () => {
    const org = await newOrganisation(db());
    await writeEvents(db(), org, 1);
    await expect(appSql(`update audit_events set action = 'x' where chain_id = $1`, [org])).rejects.toThrow(/append-only: UPDATE refused/);
    await expect(appSql(`update audit_events set details = '{}' where chain_id = $1`, [org])).rejects.toThrow(/append-only/);
    await expect(appSql(`delete from audit_events where chain_id = $1`, [org])).rejects.toThrow(/append-only: DELETE refused/);
    await expect(appSql('truncate audit_events')).rejects.toThrow(/append-only: TRUNCATE refused/);
    await expect(appSql('delete from audit_checkpoints')).rejects.toThrow(/append-only/);
    expect((await verifyOrg(org)).intact).toBe(true);
  });

  it('refuses a CA certificate swapped in the database', async () => {
    const { createPkiStore } = await import('../../server/modules/pki-store/pki-store.service');
    const { createCa } = await import('../../server/infra/pki');
    const other = await createCa({ commonName: 'Rogue', organisation: 'Rogue', validityYears: 1 });
    const [original] = await queryDatabase<{ cert_pem: string }>(env.config.DATABASE_URL, `select cert_pem from certificate_authorities where name = 'device'`);
    await appSql(`update certificate_authorities set cert_pem = $1 where name = 'device'`, [other.certPem]);
    try {
      const pki = createPkiStore({ db: db(), passphrase: t.infra.secrets.passphrase, organisationName: 'Cartable' });
      await expect(pki.load({ create: false })).rejects.toThrow(/does not match its key/);
    } finally {
      await appSql(`update certificate_authorities set cert_pem = $1 where name = 'device'`, [original!.cert_pem]);
    }
  });
});
