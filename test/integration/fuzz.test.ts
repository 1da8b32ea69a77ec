import { randomUUID } from 'node:crypto';
import { devices } from '../../server/infra/db/schema';
import { signIn } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Every operation of the OpenAPI document, every parameter (path, query, body field), one hostile
 * value at a time, as an organisation-wide administrator signed in with a session: no answer is a
 * 500, and the REST API and device endpoints refuse with a problem+json document. Bounded: one
 * pass of a fixed list of values.
 */
interface Schema {
  type?: string | string[];
  format?: string;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  minimum?: number;
  minLength?: number;
  pattern?: string;
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
}
interface Parameter {
  in: 'path' | 'query' | 'header' | 'cookie';
  name: string;
  required?: boolean;
  schema: Schema;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}

const HOSTILE: unknown[] = [
  'a\u0000b',
  'x\ud800y',
  '99999999999999999999',
  1e20,
  -1,
  1.5,
  'x'.repeat(20_000),
  {},
  [],
  null,
  // A forged cursor: base64 of JSON that is not one of ours.
  'eyJpZCI6IjEnOyBkcm9wIHRhYmxlIGRldmljZXM7IC0tIn0',
];

let env: TestEnv;
let t: TestApp;
let fixtures: { device: string; school: string; commune: string; org: string };
let session: { cookies: Record<string, string>; csrf: string };

/** A plausible value for a schema, so that one hostile value at a time reaches the handler. */
function sample(schema: Schema | undefined, name: string): unknown {
  if (!schema) return 'x';
  if (schema.const !== undefined) return schema.const;
  if (schema.enum) return schema.enum[0];
  if (schema.anyOf) return sample(schema.anyOf.find((s) => s.type !== 'null') ?? schema.anyOf[0], name);
  const type = Array.isArray(schema.type) ? schema.type[0] : schema.type;
  if (type === 'integer' || type === 'number') return Math.max(schema.minimum ?? 1, 1);
  if (type === 'boolean') return false;
  if (type === 'array') return [sample(schema.items, name)];
  if (type === 'object') return Object.fromEntries((schema.required ?? []).map((k) => [k, sample(schema.properties?.[k], k)]));
  if (schema.format === 'uuid') return /school/i.test(name) ? fixtures.school : /commune/i.test(name) ? fixtures.commune : fixtures.device;
  if (schema.format === 'date-time') return new Date(Date.now() + 86400_000).toISOString();
  if (schema.format === 'date') return new Date(Date.now() + 86400_000).toISOString().slice(0, 10);
  if (schema.format === 'email') return `fuzz-${randomUUID().slice(0, 8)}@fuzz.test`;
  return 'x'.repeat(Math.max(schema.minLength ?? 1, 1));
}

const asText = (v: unknown) => (typeof v === 'string' ? v : JSON.stringify(v));
/** Percent-encodes as a browser would, a lone surrogate included (as the bytes no UTF-8 decoder accepts). */
const encode = (v: string) => Array.from(v, (ch) => (/^[\ud800-\udfff]$/.test(ch) ? '%ED%A0%80' : encodeURIComponent(ch))).join('');

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  const tree = await createOrgTree(t.infra.database.db);
  const [device] = await t.infra.database.db.insert(devices).values({ organisationId: tree.org.id, schoolId: tree.schools[0]!.id, platform: 'android', name: 'Tablette' }).returning();
  fixtures = { device: device!.id, school: tree.schools[0]!.id, commune: tree.communes[0]!.id, org: tree.org.id };
  const email = `fuzz-admin-${randomUUID().slice(0, 8)}@fuzz.test`;
  const admin = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: 'Fuzz' });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: admin.id, role: 'admin', scopeType: 'organisation', scopeId: null });
  session = await signIn(t, email, '10.88.0.1');
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

it('answers every hostile parameter of every documented operation without a server error', async () => {
  const doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  const failures: unknown[] = [];
  let sent = 0;
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      // Signing out ends the session every other request is made with.
      if (path.endsWith('/logout')) continue;
      const params = (operation.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query');
      const [contentType, media] = Object.entries(operation.requestBody?.content ?? {})[0] ?? [];
      const bodySchema = media?.schema;
      const base = {
        path: Object.fromEntries(params.filter((p) => p.in === 'path').map((p) => [p.name, sample(p.schema, p.name)])),
        query: Object.fromEntries(params.filter((p) => p.in === 'query' && p.required).map((p) => [p.name, sample(p.schema, p.name)])),
        body: bodySchema?.type === 'object' ? (sample(bodySchema, '') as Record<string, unknown>) : bodySchema ? sample(bodySchema, '') : undefined,
      };
      const targets: Array<['path' | 'query' | 'body', string]> = [
        ...params.map((p) => [p.in as 'path' | 'query', p.name] as ['path' | 'query', string]),
        ...Object.keys(bodySchema?.properties ?? {}).map((k) => ['body', k] as ['body', string]),
      ];
      for (const [where, name] of targets) {
        // The values of one parameter go together, as a burst of concurrent requests would.
        await Promise.all(HOSTILE.map(async (value) => {
            const pathValues = { ...base.path, ...(where === 'path' ? { [name]: asText(value) } : {}) };
            const query = { ...base.query, ...(where === 'query' ? { [name]: asText(value) } : {}) };
            const body = where === 'body' ? { ...(base.body as object), [name]: value } : base.body;
            const search = Object.entries(query).map(([k, v]) => `${k}=${encode(asText(v))}`);
            const url = path.replace(/\{(\w+)\}/g, (_m, p: string) => encode(String(pathValues[p]))) + (search.length ? `?${search.join('&')}` : '');
            const form = contentType === 'application/x-www-form-urlencoded';
            const payload = body === undefined ? undefined : form ? Object.entries(body as object).map(([k, v]) => `${k}=${encode(asText(v))}`).join('&') : contentType === 'text/csv' ? asText(body) : JSON.stringify(body);
            const headers: Record<string, string> = { 'x-csrf-token': session.csrf, ...(payload !== undefined ? { 'content-type': contentType ?? 'application/json' } : {}) };
            const res = await t.app.inject({ method: method.toUpperCase() as 'GET', url, headers, cookies: session.cookies, payload, remoteAddress: '10.88.0.2' });
            sent++;
            const problemJson = String(res.headers['content-type']).startsWith('application/problem+json');
            const onConsole = path.startsWith('/console');
            if (res.statusCode >= 500 || (!onConsole && res.statusCode >= 400 && !problemJson)) {
              failures.push({ operation: `${method.toUpperCase()} ${path}`, where, name, value: asText(value).slice(0, 30), status: res.statusCode, body: res.body.slice(0, 140) });
            }
        }));
      }
    }
  }
  expect(sent).toBeGreaterThan(1000);
  expect(failures).toEqual([]);
}, 300_000);

it('bounds every number a caller can send, so none reaches the database out of its range', async () => {
  const doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, Operation>> };
  const unbounded: string[] = [];
  const walk = (schema: Schema | undefined, at: string): void => {
    if (!schema) return;
    const types = [schema.type].flat();
    const fixed = schema.const !== undefined || schema.enum !== undefined;
    if (!fixed && (types.includes('integer') || types.includes('number')) && (schema.minimum === undefined || (schema as { maximum?: number }).maximum === undefined)) unbounded.push(at);
    for (const inner of schema.anyOf ?? []) walk(inner, at);
    for (const [name, inner] of Object.entries(schema.properties ?? {})) walk(inner, `${at}.${name}`);
    walk(schema.items, `${at}[]`);
  };
  for (const [path, operations] of Object.entries(doc.paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      for (const p of operation.parameters ?? []) walk(p.schema, `${method.toUpperCase()} ${path} ${p.in}:${p.name}`);
      for (const media of Object.values(operation.requestBody?.content ?? {})) walk(media.schema, `${method.toUpperCase()} ${path} body`);
    }
  }
  expect(unbounded).toEqual([]);
});

it('refuses NUL characters, lone surrogates and numbers out of range with a 400 problem document', async () => {
  const cases = [
    ['/api/v1/devices?q=a%00b', 'invalid_text'],
    ['/api/v1/devices/%ED%A0%80', 'bad_request'],
    ['/api/v1/audit/events?after=99999999999999999999', 'validation_failed'],
    ['/api/v1/enrollment-tokens?offset=1e20', 'validation_failed'],
  ] as const;
  for (const [url, code] of cases) {
    const res = await t.app.inject({ url, cookies: session.cookies, remoteAddress: '10.88.0.3' });
    expect({ url, status: res.statusCode, type: res.headers['content-type'], code: res.json().code }).toEqual({ url, status: 400, type: expect.stringContaining('application/problem+json'), code });
  }
  const body = await t.app.inject({ method: 'POST', url: '/api/v1/groups', cookies: session.cookies, headers: { 'x-csrf-token': session.csrf }, payload: { schoolId: fixtures.school, name: 'Classe\u0000mobile' }, remoteAddress: '10.88.0.3' });
  expect(body.json()).toMatchObject({ status: 400, code: 'invalid_text', path: '/body/name' });
});
