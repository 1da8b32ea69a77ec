import { randomBytes } from 'node:crypto';
import { devices, type RoleName, type ScopeType } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Every REST route × every kind of caller, with the exact status expected. The route list comes
 * from the OpenAPI document, so a route added without a row here fails this test.
 */
const WHO = ['admin', 'techIn', 'techOut', 'dirA', 'dirB', 'auditor', 'anonymous', 'expired'] as const;
type Who = (typeof WHO)[number];
type Expect = [admin: number, techIn: number, techOut: number, dirA: number, dirB: number, auditor: number, anonymous: number, expired: number];
interface Req {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  payload?: unknown;
  csv?: string;
}
type Build = (who: Who) => Promise<Req> | Req;

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
const tokens = {} as Record<Who, string | null>;
const grants = {} as Record<Who, { role: RoleName; scopeType: ScopeType; scopeId: string | null }>;
const fx = {} as { communeA: string; schoolA: string; schoolB: string; groupA: string; deviceA: string; userX: string; enrollA: string; commandA: string; batchA: string };

const uid = () => randomBytes(4).toString('hex');
const ok = (res: { statusCode: number; body: string }, status: number) => {
  if (res.statusCode !== status) throw new Error(`fixture call answered ${res.statusCode}: ${res.body}`);
  return JSON.parse(res.body || 'null');
};
async function asAdmin(method: Req['method'], url: string, payload?: unknown, status = 201) {
  return ok(await t.app.inject({ method, url: `/api/v1${url}`, payload: payload as object, headers: { authorization: `Bearer ${tokens.admin}` } }), status);
}
const freshGroup = async () => (await asAdmin('POST', '/groups', { schoolId: fx.schoolA, name: `g-${uid()}` })).id as string;
const freshUser = async () => (await t.services.users.createUser({ organisationId: tree.org.id, email: `u-${uid()}@example.org`, displayName: 'U' })).id;
const freshEnrollment = async () => (await asAdmin('POST', '/enrollment-tokens', { schoolId: fx.schoolA, label: `e-${uid()}` })).enrollmentToken.id as string;
const freshCommand = async () => (await asAdmin('POST', `/devices/${fx.deviceA}/commands`, { kind: 'refresh_inventory' })).id as string;
const AGENT = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://example.org/agent.apk', signatureChecksum: 'A'.repeat(43) };

//                                                 admin techIn techOut dirA dirB auditor anon expired
const MATRIX: Record<string, [Build, Expect]> = {
  'POST /api/v1/auth/login': [() => ({ method: 'POST', url: '/auth/login', payload: { email: 'nobody@example.org', password: 'x' } }), [401, 401, 401, 401, 401, 401, 401, 401]],
  'POST /api/v1/auth/logout': [() => ({ method: 'POST', url: '/auth/logout' }), [204, 204, 204, 204, 204, 204, 401, 401]],
  // Only a person signed in with a session changes a password, creates tokens, accounts or grants: every token gets 403 person_required.
  'POST /api/v1/auth/password': [() => ({ method: 'POST', url: '/auth/password', payload: { currentPassword: 'x', newPassword: 'x'.repeat(12) } }), [403, 403, 403, 403, 403, 403, 401, 401]],
  'GET /api/v1/auth/me': [() => ({ method: 'GET', url: '/auth/me' }), [200, 200, 200, 200, 200, 200, 401, 401]],
  'POST /api/v1/auth/tokens': [
    (who) => ({ method: 'POST', url: '/auth/tokens', payload: { name: 'm', ...(grants[who] ?? grants.admin), expiresAt: new Date(Date.now() + 86400_000).toISOString() } }),
    [403, 403, 403, 403, 403, 403, 401, 401],
  ],
  'GET /api/v1/auth/tokens': [() => ({ method: 'GET', url: '/auth/tokens' }), [200, 200, 200, 200, 200, 200, 401, 401]],
  'DELETE /api/v1/auth/tokens/{id}': [
    async () => {
      const { view } = await t.services.apiTokens.createApiToken(fx.userX, { name: 'x', role: 'technician', scopeType: 'organisation', scopeId: null, expiresAt: new Date(Date.now() + 3600_000) });
      return { method: 'DELETE', url: `/auth/tokens/${view.id}` };
    },
    [200, 404, 404, 404, 404, 404, 401, 401],
  ],
  'GET /api/v1/users': [() => ({ method: 'GET', url: '/users' }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'POST /api/v1/users': [() => ({ method: 'POST', url: '/users', payload: { email: `n-${uid()}@example.org`, displayName: 'N' } }), [403, 403, 403, 403, 403, 403, 401, 401]],
  'GET /api/v1/users/{id}': [() => ({ method: 'GET', url: `/users/${fx.userX}` }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'PATCH /api/v1/users/{id}': [() => ({ method: 'PATCH', url: `/users/${fx.userX}`, payload: { displayName: 'X' } }), [403, 403, 403, 403, 403, 403, 401, 401]],
  'DELETE /api/v1/users/{id}': [async () => ({ method: 'DELETE', url: `/users/${await freshUser()}` }), [403, 403, 403, 403, 403, 403, 401, 401]],
  'POST /api/v1/users/{id}/roles': [
    async () => ({ method: 'POST', url: `/users/${await freshUser()}/roles`, payload: { role: 'director', scopeType: 'school', scopeId: fx.schoolA } }),
    [403, 403, 403, 403, 403, 403, 401, 401],
  ],
  'DELETE /api/v1/users/{id}/roles/{assignmentId}': [
    async () => {
      const id = await freshUser();
      const role = await t.services.users.assignRole({ organisationId: tree.org.id, userId: id, role: 'director', scopeType: 'school', scopeId: fx.schoolA });
      return { method: 'DELETE', url: `/users/${id}/roles/${role.id}` };
    },
    [403, 403, 403, 403, 403, 403, 401, 401],
  ],
  'GET /api/v1/communes': [() => ({ method: 'GET', url: '/communes' }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/communes/{id}': [() => ({ method: 'GET', url: `/communes/${fx.communeA}` }), [200, 200, 404, 404, 404, 403, 401, 401]],
  'POST /api/v1/communes': [() => ({ method: 'POST', url: '/communes', payload: { code: String(10000 + Math.floor(Math.random() * 89999)), name: 'C' } }), [201, 403, 403, 403, 403, 403, 401, 401]],
  'PATCH /api/v1/communes/{id}': [() => ({ method: 'PATCH', url: `/communes/${fx.communeA}`, payload: { name: 'Commune A' } }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'DELETE /api/v1/communes/{id}': [
    async () => ({ method: 'DELETE', url: `/communes/${(await asAdmin('POST', '/communes', { code: String(10000 + Math.floor(Math.random() * 89999)), name: 'D' })).id}` }),
    [204, 403, 403, 403, 403, 403, 401, 401],
  ],
  'GET /api/v1/schools': [() => ({ method: 'GET', url: '/schools' }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/schools/{id}': [() => ({ method: 'GET', url: `/schools/${fx.schoolA}` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'POST /api/v1/schools': [
    () => ({ method: 'POST', url: '/schools', payload: { communeId: fx.communeA, code: `${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}Z`, name: 'S' } }),
    [201, 403, 403, 403, 403, 403, 401, 401],
  ],
  'PATCH /api/v1/schools/{id}': [() => ({ method: 'PATCH', url: `/schools/${fx.schoolA}`, payload: { pilot: true } }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'DELETE /api/v1/schools/{id}': [
    async () => {
      const code = `${String(Math.floor(Math.random() * 1e7)).padStart(7, '0')}Y`;
      return { method: 'DELETE', url: `/schools/${(await asAdmin('POST', '/schools', { communeId: fx.communeA, code, name: 'D' })).id}` };
    },
    [204, 403, 403, 403, 403, 403, 401, 401],
  ],
  'GET /api/v1/groups': [() => ({ method: 'GET', url: '/groups' }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/groups/{id}': [() => ({ method: 'GET', url: `/groups/${fx.groupA}` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'POST /api/v1/groups': [() => ({ method: 'POST', url: '/groups', payload: { schoolId: fx.schoolA, name: `p-${uid()}` } }), [201, 403, 403, 403, 403, 403, 401, 401]],
  'PATCH /api/v1/groups/{id}': [async () => ({ method: 'PATCH', url: `/groups/${await freshGroup()}`, payload: { name: `r-${uid()}` } }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'DELETE /api/v1/groups/{id}': [async () => ({ method: 'DELETE', url: `/groups/${await freshGroup()}` }), [204, 403, 403, 403, 403, 403, 401, 401]],
  'POST /api/v1/import/schools': [() => ({ method: 'POST', url: '/import/schools', csv: 'code,name,commune_code\n' }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'POST /api/v1/import/directors': [() => ({ method: 'POST', url: '/import/directors', csv: 'name,email,school_code\n' }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'GET /api/v1/audit/events': [() => ({ method: 'GET', url: '/audit/events' }), [200, 403, 403, 403, 403, 200, 401, 401]],
  'GET /api/v1/audit/events.csv': [() => ({ method: 'GET', url: '/audit/events.csv' }), [200, 403, 403, 403, 403, 200, 401, 401]],
  'GET /api/v1/audit/verification': [() => ({ method: 'GET', url: '/audit/verification' }), [200, 403, 403, 403, 403, 200, 401, 401]],
  'POST /api/v1/enrollment-tokens': [() => ({ method: 'POST', url: '/enrollment-tokens', payload: { schoolId: fx.schoolA, label: 'm' } }), [201, 201, 404, 403, 403, 403, 401, 401]],
  'GET /api/v1/enrollment-tokens': [() => ({ method: 'GET', url: '/enrollment-tokens' }), [200, 200, 200, 403, 403, 403, 401, 401]],
  'GET /api/v1/enrollment-tokens/{id}': [() => ({ method: 'GET', url: `/enrollment-tokens/${fx.enrollA}` }), [200, 200, 404, 403, 403, 403, 401, 401]],
  'POST /api/v1/enrollment-tokens/{id}/revoke': [async () => ({ method: 'POST', url: `/enrollment-tokens/${await freshEnrollment()}/revoke` }), [200, 200, 404, 403, 403, 403, 401, 401]],
  'GET /api/v1/enrollment-tokens/{id}/qr': [() => ({ method: 'GET', url: `/enrollment-tokens/${fx.enrollA}/qr` }), [200, 200, 404, 403, 403, 403, 401, 401]],
  'POST /api/v1/enrollment-tokens/{id}/qr': [() => ({ method: 'POST', url: `/enrollment-tokens/${fx.enrollA}/qr`, payload: {} }), [200, 200, 404, 403, 403, 403, 401, 401]],
  'PATCH /api/v1/organisation/settings/agent-package': [() => ({ method: 'PATCH', url: '/organisation/settings/agent-package', payload: AGENT }), [200, 403, 403, 403, 403, 403, 401, 401]],
  'GET /api/v1/devices': [() => ({ method: 'GET', url: '/devices' }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/devices/summary': [() => ({ method: 'GET', url: '/devices/summary' }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/devices/{id}': [() => ({ method: 'GET', url: `/devices/${fx.deviceA}` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'GET /api/v1/devices/{id}/apps': [() => ({ method: 'GET', url: `/devices/${fx.deviceA}/apps` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'GET /api/v1/devices/{id}/events': [() => ({ method: 'GET', url: `/devices/${fx.deviceA}/events` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'POST /api/v1/devices/{id}/commands': [() => ({ method: 'POST', url: `/devices/${fx.deviceA}/commands`, payload: { kind: 'refresh_inventory' } }), [201, 201, 404, 403, 403, 403, 401, 401]],
  'GET /api/v1/devices/{id}/commands': [() => ({ method: 'GET', url: `/devices/${fx.deviceA}/commands` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'POST /api/v1/commands/bulk': [() => ({ method: 'POST', url: '/commands/bulk', payload: { kind: 'refresh_inventory', target: { schoolId: fx.schoolA } } }), [201, 201, 404, 403, 403, 403, 401, 401]],
  // Batch progress counts only the caller's devices: out of scope it reads like an unknown batch (total 0).
  'GET /api/v1/commands': [() => ({ method: 'GET', url: `/commands?batchId=${fx.batchA}` }), [200, 200, 200, 200, 200, 403, 401, 401]],
  'GET /api/v1/commands/{id}': [() => ({ method: 'GET', url: `/commands/${fx.commandA}` }), [200, 200, 404, 200, 404, 403, 401, 401]],
  'POST /api/v1/commands/{id}/cancel': [async () => ({ method: 'POST', url: `/commands/${await freshCommand()}/cancel` }), [200, 200, 404, 403, 403, 403, 401, 401]],
  'GET /api/v1/devices/{id}/location': [() => ({ method: 'GET', url: `/devices/${fx.deviceA}/location` }), [404, 404, 404, 403, 403, 403, 401, 401]],
};

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  const db = t.infra.database.db;
  tree = await createOrgTree(db);
  const [communeA, communeB] = tree.communes;
  const [schoolA, schoolB] = tree.schools;
  Object.assign(grants, {
    admin: { role: 'admin', scopeType: 'organisation', scopeId: null },
    techIn: { role: 'technician', scopeType: 'commune', scopeId: communeA!.id },
    techOut: { role: 'technician', scopeType: 'commune', scopeId: communeB!.id },
    dirA: { role: 'director', scopeType: 'school', scopeId: schoolA!.id },
    dirB: { role: 'director', scopeType: 'school', scopeId: schoolB!.id },
    auditor: { role: 'auditor', scopeType: 'organisation', scopeId: null },
  });
  for (const who of WHO) {
    if (who === 'anonymous') tokens[who] = null;
    else if (who === 'expired') tokens[who] = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation', expired: true }, db);
    else tokens[who] = await createPrincipalToken(t.services, { organisationId: tree.org.id, ...grants[who] });
  }
  const [device] = await db.insert(devices).values({ organisationId: tree.org.id, schoolId: schoolA!.id, platform: 'android', name: 'Tablette A1' }).returning();
  Object.assign(fx, { communeA: communeA!.id, schoolA: schoolA!.id, schoolB: schoolB!.id, deviceA: device!.id });
  fx.groupA = await freshGroup();
  fx.userX = await freshUser();
  fx.enrollA = await freshEnrollment();
  fx.commandA = await freshCommand();
  fx.batchA = (await asAdmin('POST', '/commands/bulk', { kind: 'refresh_inventory', target: { schoolId: fx.schoolA } })).batchId;
  await asAdmin('PATCH', '/organisation/settings/agent-package', AGENT, 200);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('route × role matrix', () => {
  it('has a row for every REST route of the OpenAPI document, and no stale row', async () => {
    const doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
    const documented = Object.entries(doc.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    expect(Object.keys(MATRIX).sort()).toEqual(documented);
  });

  it.each(Object.entries(MATRIX))('%s', async (route, [build, expected]) => {
    const actual: Record<string, number> = {};
    const wanted: Record<string, number> = {};
    for (const [i, who] of WHO.entries()) {
      const req = await build(who);
      const headers: Record<string, string> = tokens[who] ? { authorization: `Bearer ${tokens[who]}` } : {};
      if (req.csv !== undefined) headers['content-type'] = 'text/csv';
      const res = await t.app.inject({ method: req.method, url: `/api/v1${req.url}`, headers, payload: req.csv ?? (req.payload as object | undefined) });
      actual[who] = res.statusCode;
      wanted[who] = expected[i]!;
    }
    expect({ route, ...actual }).toEqual({ route, ...wanted });
  });

  it('gives a director the devices of their school and nothing else', async () => {
    const list = await t.app.inject({ url: '/api/v1/devices', headers: { authorization: `Bearer ${tokens.dirA}` } });
    const ids = JSON.stringify(list.json());
    expect(ids).toContain(fx.deviceA);
    const other = await t.app.inject({ url: '/api/v1/devices', headers: { authorization: `Bearer ${tokens.dirB}` } });
    expect(JSON.stringify(other.json())).not.toContain(fx.deviceA);
    const schools = (await t.app.inject({ url: '/api/v1/schools', headers: { authorization: `Bearer ${tokens.dirA}` } })).json();
    expect(schools.map((s: { id: string }) => s.id)).toEqual([fx.schoolA]);
    expect((await t.app.inject({ url: '/api/v1/communes', headers: { authorization: `Bearer ${tokens.dirA}` } })).json()).toEqual([]);
    const batch = await t.app.inject({ url: `/api/v1/commands?batchId=${fx.batchA}`, headers: { authorization: `Bearer ${tokens.dirB}` } });
    expect(batch.json().total).toBe(0);
  });
});
