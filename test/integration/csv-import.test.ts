import { eq } from 'drizzle-orm';
import { roleAssignments, schools, users } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { openApiWorld, type ApiWorld } from '../helpers/api-world';
import type { TestApp } from '../helpers/test-env';

let w: ApiWorld;
let t: TestApp;
let tree: ApiWorld['tree'];
let admin: string;

beforeAll(async () => {
  w = await openApiWorld({ communes: 1, schools: 1 });
  ({ t, tree, admin } = w);
});
afterAll(async () => w.close());

const post = (url: string, csv: string, token = admin) => t.app.inject({ method: 'POST', url, headers: { authorization: `Bearer ${token}`, 'content-type': 'text/csv' }, payload: csv });
const schoolCount = async () => (await t.infra.database.db.select().from(schools).where(eq(schools.organisationId, tree.org.id))).length;

describe('CSV import of schools', () => {
  it('creates and updates schools, reporting each line', async () => {
    const commune = tree.communes[0]!.code;
    const csv = `code,name,commune_code,pilot\n0690001A,École A,${commune},yes\n0690002B,École B,${commune},no\n${tree.schools[0]!.code},École renommée,${commune},no\n`;
    const dry = await post('/api/v1/import/schools?dryRun=true', csv);
    expect(dry.statusCode).toBe(200);
    expect(dry.json()).toMatchObject({ dryRun: true, applied: false, summary: { created: 2, updated: 1, rejected: 0 } });
    expect(await schoolCount()).toBe(1);
    const res = await post('/api/v1/import/schools', csv);
    expect(res.statusCode).toBe(200);
    expect(res.json().lines).toEqual([
      { line: 2, code: '0690001A', outcome: 'created', reason: null },
      { line: 3, code: '0690002B', outcome: 'created', reason: null },
      { line: 4, code: tree.schools[0]!.code, outcome: 'updated', reason: null },
    ]);
    expect(await schoolCount()).toBe(3);
    const [pilot] = await t.infra.database.db.select().from(schools).where(eq(schools.code, '0690001A'));
    expect(pilot!.pilot).toBe(true);
    expect((await post('/api/v1/import/schools', csv)).json().summary).toMatchObject({ created: 0, updated: 0, unchanged: 3 });
  });

  it('rejects the whole file with a per-line report and writes nothing', async () => {
    const commune = tree.communes[0]!.code;
    const csv = [
      'code;name;commune_code',
      `0690010C;École C;${commune}`,
      `0690010C;École C bis;${commune}`,
      `0690011D;École D;99999`,
      `BAD;École E;${commune}`,
      `0690012E;trop;de;champs`,
    ].join('\n');
    const res = await post('/api/v1/import/schools', csv);
    expect(res.statusCode).toBe(422);
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    const report = res.json().report;
    expect(report.applied).toBe(false);
    expect(report.lines.map((l: { line: number; outcome: string }) => [l.line, l.outcome])).toEqual([
      [2, 'created'],
      [3, 'rejected'],
      [4, 'rejected'],
      [5, 'rejected'],
      [6, 'rejected'],
    ]);
    expect(report.lines[1].reason).toMatch(/duplicate school code.*line 2/);
    expect(report.lines[2].reason).toMatch(/unknown commune 99999/);
    expect(report.lines[3].reason).toMatch(/UAI/);
    expect(report.lines[4].reason).toMatch(/expected 3 fields/);
    expect(await schoolCount()).toBe(3);
  });

  it('reports a malformed file and a missing column', async () => {
    const broken = await post('/api/v1/import/schools', 'code,name,commune_code\n"0690020A,École,69001\n');
    expect(broken.statusCode).toBe(422);
    expect(broken.json().report.lines[0].reason).toMatch(/malformed CSV/);
    const missing = await post('/api/v1/import/schools', 'code,name\n0690020A,École\n');
    expect(missing.statusCode).toBe(422);
    expect(missing.json().report.lines[0]).toMatchObject({ line: 1, reason: 'missing column(s): commune_code' });
  });

  it('refuses a body that is not CSV, and non-administrators', async () => {
    const json = await t.app.inject({ method: 'POST', url: '/api/v1/import/schools', headers: { authorization: `Bearer ${admin}` }, payload: { code: 'x' } });
    expect(json.statusCode).toBe(400);
    const tech = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'organisation' });
    expect((await post('/api/v1/import/schools', 'code,name,commune_code\n', tech)).statusCode).toBe(403);
  });
});

describe('CSV import of directors', () => {
  it('creates accounts and director grants, all or nothing', async () => {
    const bad = await post('/api/v1/import/directors', `name,email,school_code\nMme Martin,martin@ecole.fr,0690001A\nM. Durand,pas-un-email,0690001A\nMme Petit,petit@ecole.fr,0000000Z\n`);
    expect(bad.statusCode).toBe(422);
    expect(bad.json().report.lines.map((l: { reason: string | null }) => l.reason)).toEqual([null, 'email is not a valid address', 'unknown school 0000000Z']);
    expect(await t.infra.database.db.select().from(users).where(eq(users.email, 'martin@ecole.fr'))).toHaveLength(0);

    const ok = await post('/api/v1/import/directors', `name,email,school_code\nMme Martin,Martin@ecole.fr,0690001A\nMme Martin,martin@ecole.fr,0690002B\n`);
    expect(ok.statusCode).toBe(200);
    expect(ok.json().summary).toMatchObject({ created: 2, rejected: 0 });
    const [martin] = await t.infra.database.db.select().from(users).where(eq(users.email, 'martin@ecole.fr'));
    const grants = await t.infra.database.db.select().from(roleAssignments).where(eq(roleAssignments.userId, martin!.id));
    expect(grants.map((g) => g.role)).toEqual(['director', 'director']);
    expect(martin!.passwordHash).toBeNull();
  });
});

describe('CSV import bounds', () => {
  const problemOf = (res: { statusCode: number; headers: Record<string, unknown>; json(): Record<string, unknown> }) => {
    expect(res.headers['content-type']).toMatch(/problem\+json/);
    return { status: res.statusCode, ...res.json() };
  };

  it('refuses a NUL byte with 400, naming the line and the column, and writes nothing', async () => {
    const school = tree.schools[0]!.code;
    const res = await post('/api/v1/import/directors', `name,email,school_code\nAnne,anne.nul@example.org,${school}\nBad\u0000Name,bad.nul@example.org,${school}\n`);
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'csv_nul_byte', line: 3, column: 'name' });
    expect(res.json().detail).toMatch(/Line 3, column name/);
    expect(await t.infra.database.db.select().from(users).where(eq(users.email, 'anne.nul@example.org'))).toEqual([]);
  });

  it('refuses a value longer than any field takes with 400, naming the line and the column', async () => {
    const res = await post('/api/v1/import/directors', `name,email,school_code\nLong,${'a'.repeat(300)}@example.org,${tree.schools[0]!.code}\n`);
    expect(problemOf(res)).toMatchObject({ status: 400, code: 'csv_cell_too_long', line: 2, column: 'email', maxLength: 254 });
  });

  it('rejects the line of a name longer than the API takes', async () => {
    const res = await post('/api/v1/import/schools', `code,name,commune_code\n0690100A,${'N'.repeat(201)},${tree.communes[0]!.code}\n`);
    expect(res.statusCode).toBe(422);
    expect(res.json().report.lines).toEqual([{ line: 2, code: '0690100A', outcome: 'rejected', reason: 'name is longer than 200 characters' }]);
  });

  it('refuses more lines than an import takes with 413', async () => {
    const commune = tree.communes[0]!.code;
    const lines = Array.from({ length: 5001 }, (_, i) => `069${String(i).padStart(4, '0')}Z,École ${i},${commune}`);
    const res = await post('/api/v1/import/schools?dryRun=true', `code,name,commune_code\n${lines.join('\n')}\n`);
    expect(problemOf(res)).toMatchObject({ status: 413, code: 'csv_too_many_rows', rows: 5001, maxRows: 5000 });
  });

  it('refuses a file over its size bound with 413, over HTTP and from any other caller', async () => {
    const header = 'code,name,commune_code\n';
    const big = header + `0690200A,${'x'.repeat(200)},${tree.communes[0]!.code}\n`.repeat(5000);
    expect(Buffer.byteLength(big)).toBeGreaterThan(1024 * 1024);
    const res = await post('/api/v1/import/schools?dryRun=true', big);
    expect(problemOf(res)).toMatchObject({ status: 413, code: 'body_too_large' });
    const scope = { all: true as const, organisationId: tree.org.id };
    const actor = { type: 'system' as const, id: null, label: 'test', role: null, ip: null };
    await expect(t.services.csvImport.importSchools(scope, big, { dryRun: true }, actor)).rejects.toMatchObject({ kind: 'too_large', code: 'csv_too_large' });
  });

  it('refuses a NUL character anywhere in a JSON body or a query with 400, naming where, as the CSV does', async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const nameOf = async (id: string) => (await t.infra.database.db.select().from(schools).where(eq(schools.id, id)))[0]!.name;
    const school = tree.schools[0]!;
    const before = await nameOf(school.id);
    const body = await t.app.inject({ method: 'PATCH', url: `/api/v1/schools/${school.id}`, headers: auth, payload: { name: 'a\u0000b' } });
    expect(problemOf(body)).toMatchObject({ status: 400, code: 'invalid_text', path: '/body/name' });
    const query = await t.app.inject({ url: '/api/v1/users?after=a%00b', headers: auth });
    expect(problemOf(query)).toMatchObject({ status: 400, code: 'invalid_text', path: '/query/after' });
    expect(await nameOf(school.id)).toBe(before);
  });
});
