import { sql } from 'drizzle-orm';
import { auditVerify } from '../../server/cli/audit-verify';
import { createPrincipalToken } from '../helpers/auth';
import { openApiWorld, type ApiWorld } from '../helpers/api-world';
import type { TestApp, TestEnv } from '../helpers/test-env';

let w: ApiWorld;
let env: TestEnv;
let t: TestApp;
let tree: ApiWorld['tree'];
let admin: string;
let auditor: string;
const quiet = () => undefined;

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

describe('audit trail', () => {
  it('records each mutation with actor, role, target, scope and source IP', async () => {
    const res = await get('/api/v1/audit/events?action=group.create');
    expect(res.statusCode).toBe(200);
    const events = res.json().items;
    expect(events).toHaveLength(4);
    expect(events[0]).toMatchObject({ actorType: 'api_token', role: 'admin', targetType: 'group', schoolId: tree.schools[0]!.id, sourceIp: '127.0.0.1', outcome: 'success' });
    expect(events[0].hash).toMatch(/^[0-9a-f]{64}$/);
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
    expect(lines[0]).toMatch(/^id,occurredAt,actorType/);
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

  it('keeps technicians and directors away from the trail', async () => {
    const tech = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'organisation' });
    expect((await get('/api/v1/audit/events', tech)).statusCode).toBe(403);
    expect((await get('/api/v1/audit/events.csv', tech)).statusCode).toBe(403);
  });

  it('verifies an intact chain', async () => {
    const result = await auditVerify(env.config.DATABASE_URL, quiet);
    expect(result.ok).toBe(true);
    expect(result.checked).toBeGreaterThan(8);
  });

  it('names the row edited directly in PostgreSQL', async () => {
    const db = t.infra.database.db;
    const rows = await db.execute<{ id: string }>(sql`select id from audit_events where action = 'group.create' order by id limit 1 offset 1`);
    const id = Number(rows.rows[0]!.id);
    await db.execute(sql`update audit_events set details = '{"name":"Chariot falsifié"}'::jsonb where id = ${id}`);
    const lines: string[] = [];
    const result = await auditVerify(env.config.DATABASE_URL, (l) => lines.push(l));
    expect(result).toMatchObject({ ok: false, brokenAt: id });
    expect(result.reason).toMatch(/modified/);
    expect(lines[0]).toContain(`event ${id}`);
  });

  it('names the row after one deleted from the middle of the chain', async () => {
    const db = t.infra.database.db;
    await db.execute(sql`truncate audit_events`);
    for (let i = 0; i < 5; i++) await t.app.inject({ method: 'POST', url: '/api/v1/groups', headers: { authorization: `Bearer ${admin}` }, payload: { schoolId: tree.schools[1]!.id, name: `Tablettes ${i}` } });
    const ids = (await db.execute<{ id: string }>(sql`select id from audit_events order by id`)).rows.map((r) => Number(r.id));
    expect(ids).toHaveLength(5);
    expect((await auditVerify(env.config.DATABASE_URL, quiet)).ok).toBe(true);
    await db.execute(sql`delete from audit_events where id = ${ids[2]!}`);
    const result = await auditVerify(env.config.DATABASE_URL, quiet);
    expect(result).toMatchObject({ ok: false, brokenAt: ids[3], checked: 2 });
    expect(result.reason).toMatch(/removed/);
  });
});
