import { randomUUID } from 'node:crypto';
import { and, eq, gt, max } from 'drizzle-orm';
import { auditEvents, devices } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { ConsoleClient } from '../helpers/console-client';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let deviceA: string;
const tokens = {} as Record<'admin' | 'techA' | 'techB' | 'director', string>;
const userIds = {} as Record<keyof typeof tokens, string>;

const db = () => t.infra.database.db;

/** The events written since `after`, as the trail keeps them. */
async function eventsSince(after: number) {
  return db().select().from(auditEvents).where(gt(auditEvents.id, after)).orderBy(auditEvents.id);
}
async function lastEventId(): Promise<number> {
  const [row] = await db().select({ id: max(auditEvents.id) }).from(auditEvents);
  return row?.id ?? 0;
}
const call = (who: keyof typeof tokens, method: 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
  t.app.inject({ method, url, headers: { authorization: `Bearer ${tokens[who]}` }, ...(payload ? { payload } : {}) });

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(db());
  const [communeA, communeB] = tree.communes;
  const grants = {
    admin: { role: 'admin', scopeType: 'organisation' },
    techA: { role: 'technician', scopeType: 'commune', scopeId: communeA!.id },
    techB: { role: 'technician', scopeType: 'commune', scopeId: communeB!.id },
    director: { role: 'director', scopeType: 'school', scopeId: tree.schools[0]!.id },
  } as const;
  for (const [who, grant] of Object.entries(grants) as [keyof typeof tokens, (typeof grants)[keyof typeof grants]][]) {
    tokens[who] = await createPrincipalToken(t.services, { organisationId: tree.org.id, ...grant });
    userIds[who] = (await t.services.auth.authenticateBearer(tokens[who])).userId;
  }
  const [device] = await db().insert(devices).values({ organisationId: tree.org.id, schoolId: tree.schools[0]!.id, platform: 'android', name: 'Tablette A' }).returning();
  deviceA = device!.id;
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('refused sensitive writes are audited', () => {
  it('records a wipe refused out of scope (404) and one refused for lack of permission (403): actor, action, target, denied', async () => {
    const before = await lastEventId();
    const outOfScope = await call('techB', 'POST', `/api/v1/devices/${deviceA}/commands`, { kind: 'wipe', confirm: 'Tablette A' });
    expect(outOfScope.statusCode).toBe(404);
    const forbidden = await call('director', 'POST', `/api/v1/devices/${deviceA}/commands`, { kind: 'lock' });
    expect(forbidden.statusCode).toBe(403);
    const events = await eventsSince(before);
    expect(events.map((e) => ({ action: e.action, outcome: e.outcome, actorId: e.actorId, actorType: e.actorType, targetType: e.targetType, targetId: e.targetId, details: e.details }))).toEqual([
      { action: 'command.create', outcome: 'denied', actorId: userIds.techB, actorType: 'api_token', targetType: 'device', targetId: deviceA, details: { status: 404, targetType: 'device' } },
      { action: 'command.create', outcome: 'denied', actorId: userIds.director, actorType: 'api_token', targetType: 'device', targetId: deviceA, details: { status: 403, targetType: 'device' } },
    ]);
    // Nothing of what exists leaks: a device that exists elsewhere and one that does not exist read the same.
    const ghost = randomUUID();
    const missing = await call('techB', 'POST', `/api/v1/devices/${ghost}/commands`, { kind: 'wipe', confirm: 'x' });
    expect(missing.statusCode).toBe(404);
    const [ghostEvent] = await eventsSince(events.at(-1)!.id);
    expect(ghostEvent).toMatchObject({ action: 'command.create', outcome: 'denied', targetId: ghost, details: events[0]!.details });
    expect(JSON.stringify(events)).not.toContain('Tablette A');
  });

  it('records refused changes to accounts, grants and tokens, and nothing for refused reads or accepted writes', async () => {
    const before = await lastEventId();
    expect((await call('techA', 'POST', `/api/v1/users/${userIds.director}/roles`, { role: 'admin', scopeType: 'organisation' })).statusCode).toBe(403);
    expect((await call('admin', 'PATCH', `/api/v1/users/${userIds.director}`, { password: 'a password typed by a thief' })).statusCode).toBe(403);
    expect((await call('admin', 'POST', '/api/v1/auth/tokens', { name: 'x', role: 'admin', scopeType: 'organisation', expiresAt: new Date(Date.now() + 86400_000).toISOString() })).statusCode).toBe(403);
    expect((await t.app.inject({ url: '/api/v1/users', headers: { authorization: `Bearer ${tokens.techA}` } })).statusCode).toBe(403);
    expect((await call('techA', 'POST', `/api/v1/devices/${deviceA}/commands`, { kind: 'refresh_inventory' })).statusCode).toBe(201);
    const events = await eventsSince(before);
    const denied = events.filter((e) => e.outcome === 'denied');
    expect(denied.map((e) => [e.action, e.actorId, e.targetId])).toEqual([
      ['role.assign', userIds.techA, userIds.director],
      ['user.update', userIds.admin, userIds.director],
      ['api_token.create', userIds.admin, null],
    ]);
    expect(JSON.stringify(denied)).not.toContain('thief');
    expect(events.filter((e) => e.outcome === 'success').map((e) => e.action)).toEqual(['command.create']);
  });

  it('records a refusal made through the console, with the session of the person', async () => {
    const email = `director-${randomUUID().slice(0, 8)}@example.org`;
    const person = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: 'Directrice', password: 'correct horse battery' });
    await t.services.users.assignRole({ organisationId: tree.org.id, userId: person.id, role: 'director', scopeType: 'school', scopeId: tree.schools[0]!.id });
    const browser = new ConsoleClient(t.app, '10.1.2.3');
    expect((await browser.signIn(email, 'correct horse battery')).statusCode).toBe(303);
    const before = await lastEventId();
    const refused = await browser.post(`/console/devices/${deviceA}/actions/lock`, {}, `/console/devices/${deviceA}`);
    expect(refused.statusCode).toBe(403);
    const [event] = await db().select().from(auditEvents).where(and(gt(auditEvents.id, before), eq(auditEvents.outcome, 'denied')));
    expect(event).toMatchObject({ action: 'command.create', actorType: 'user', actorId: person.id, targetId: deviceA, sourceIp: '10.1.2.3', details: { status: 403, targetType: 'device' } });
  });
});
