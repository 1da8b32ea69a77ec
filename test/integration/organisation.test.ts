import { devices } from '../../server/infra/db/schema';
import { createPrincipalToken, signIn } from '../helpers/auth';
import { openApiWorld, type ApiWorld } from '../helpers/api-world';
import type { TestApp } from '../helpers/test-env';

let w: ApiWorld;
let t: TestApp;
let tree: ApiWorld['tree'];
let admin: string;

beforeAll(async () => {
  w = await openApiWorld({ communes: 2, schools: 4 });
  ({ t, tree, admin } = w);
});
afterAll(async () => w.close());

const call = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, token = admin, payload?: object) =>
  t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, payload });

describe('organisation', () => {
  it('shows a commune technician only that commune and its schools', async () => {
    const [c1] = tree.communes;
    const tech = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'commune', scopeId: c1!.id });
    expect((await call('GET', '/communes', tech)).json().map((c: { id: string }) => c.id)).toEqual([c1!.id]);
    const schools = (await call('GET', '/schools', tech)).json().map((s: { id: string }) => s.id).sort();
    expect(schools).toEqual(tree.schools.filter((s) => s.communeId === c1!.id).map((s) => s.id).sort());
    const outside = tree.schools.find((s) => s.communeId !== c1!.id)!;
    expect((await call('GET', `/schools/${outside.id}`, tech)).statusCode).toBe(404);
    expect((await call('GET', `/schools?communeId=${outside.communeId}`, tech)).json()).toEqual([]);
  });

  it('creates, renames and deletes a school, auditing each change', async () => {
    const created = await call('POST', '/schools', admin, { communeId: tree.communes[0]!.id, code: '0699999x', name: ' École du Parc ' });
    expect(created.statusCode).toBe(201);
    expect(created.json()).toMatchObject({ code: '0699999X', name: 'École du Parc', kind: 'primaire', pilot: false });
    const dup = await call('POST', '/schools', admin, { communeId: tree.communes[0]!.id, code: '0699999X', name: 'Doublon' });
    expect(dup.statusCode).toBe(409);
    const id = created.json().id;
    expect((await call('PATCH', `/schools/${id}`, admin, { name: 'École du Parc Nord' })).json().name).toBe('École du Parc Nord');
    expect((await call('PATCH', `/schools/${id}`, admin, { name: 'x', unknown: 1 })).statusCode).toBe(400);
    expect((await call('DELETE', `/schools/${id}`)).statusCode).toBe(204);
    const actions = (await call('GET', `/audit/events?targetId=${id}`)).json().items.map((e: { action: string }) => e.action);
    expect(actions).toEqual(['school.create', 'school.update', 'school.delete']);
  });

  it('refuses to delete a school that still has devices, or a commune that still has schools', async () => {
    const school = tree.schools[3]!;
    await t.infra.database.db.insert(devices).values({ organisationId: tree.org.id, schoolId: school.id, platform: 'android', name: 'Tablette' });
    const res = await call('DELETE', `/schools/${school.id}`);
    expect(res.statusCode).toBe(409);
    expect(res.json()).toMatchObject({ code: 'school_has_devices', devices: 1 });
    expect((await call('DELETE', `/communes/${school.communeId}`)).json().code).toBe('commune_has_schools');
  });

  it('manages groups inside a school and refuses an unknown school', async () => {
    const school = tree.schools[0]!;
    const group = await call('POST', '/groups', admin, { schoolId: school.id, name: 'Classe mobile 1' });
    expect(group.statusCode).toBe(201);
    expect((await call('POST', '/groups', admin, { schoolId: school.id, name: 'Classe mobile 1' })).statusCode).toBe(409);
    expect((await call('GET', `/groups?schoolId=${school.id}`)).json()).toHaveLength(1);
    const unknown = await call('POST', '/groups', admin, { schoolId: '00000000-0000-4000-8000-000000000000', name: 'x' });
    expect(unknown.json()).toMatchObject({ status: 400, code: 'unknown_school' });
  });

  it('manages users and role assignments, refusing a role outside its allowed scopes', async () => {
    // Accounts and grants are managed by a signed-in person, not by a token.
    const person = await t.services.users.createUser({ organisationId: tree.org.id, email: 'dsi@example.org', displayName: 'DSI' });
    await t.services.users.assignRole({ organisationId: tree.org.id, userId: person.id, role: 'admin', scopeType: 'organisation', scopeId: null });
    const session = await signIn(t, person.email, '10.5.0.1');
    const asPerson = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: object) =>
      t.app.inject({ method, url: `/api/v1${url}`, cookies: session.cookies, headers: { 'x-csrf-token': session.csrf }, payload });
    const user = (await asPerson('POST', '/users', { email: 'Tech@Example.org', displayName: 'Tech', password: 'a long enough password' })).json();
    expect(user).toMatchObject({ email: 'tech@example.org', hasPassword: true, roles: [] });
    expect(JSON.stringify(user)).not.toMatch(/scrypt|password_hash|passwordHash/);
    const bad = await asPerson('POST', `/users/${user.id}/roles`, { role: 'director', scopeType: 'organisation' });
    expect(bad.json().code).toBe('invalid_scope');
    const role = await asPerson('POST', `/users/${user.id}/roles`, { role: 'technician', scopeType: 'commune', scopeId: tree.communes[1]!.id });
    expect(role.statusCode).toBe(201);
    expect((await asPerson('GET', `/users/${user.id}`)).json().roles).toHaveLength(1);
    expect((await asPerson('POST', '/users', { email: 'tech@example.org', displayName: 'Again' })).statusCode).toBe(409);
    expect((await asPerson('DELETE', `/users/${user.id}/roles/${role.json().id}`)).statusCode).toBe(204);
    expect((await asPerson('DELETE', `/users/${user.id}`)).statusCode).toBe(204);
    expect((await asPerson('GET', `/users/${user.id}`)).statusCode).toBe(404);
  });
});
