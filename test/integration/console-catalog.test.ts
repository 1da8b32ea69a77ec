import { and, eq } from 'drizzle-orm';
import { auditEvents, commands, devices } from '../../server/infra/db/schema';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { createPrincipalToken } from '../helpers/auth';
import { ConsoleClient, textOf } from '../helpers/console-client';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let adminToken: string;
let profileId: string;
let deviceId: string;
let versionId: string;
let signerSha: string;
const PASSWORD = 'correct horse battery';
let ipCounter = 0;
const client = () => new ConsoleClient(t.app, `10.41.0.${++ipCounter}`);
const db = () => t.infra.database.db;

async function api(method: 'GET' | 'POST', url: string, payload?: object) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${adminToken}` }, ...(payload ? { payload } : {}) });
  if (res.statusCode >= 300) throw new Error(`${method} ${url} answered ${res.statusCode}: ${res.body}`);
  return res.json();
}

async function person(email: string, role: 'technician' | 'director', scope: { scopeType: 'organisation' | 'school'; scopeId: string | null }) {
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: email.split('@')[0]!, password: PASSWORD });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role, ...scope });
}

async function signedIn(email: string) {
  const c = client();
  expect((await c.signIn(email, PASSWORD)).statusCode).toBe(303);
  return c;
}

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(db(), { communes: 1, schools: 2 });
  adminToken = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: tree.org.id });
  await person('tech@example.org', 'technician', { scopeType: 'organisation', scopeId: null });
  await person('dir@example.org', 'director', { scopeType: 'school', scopeId: tree.schools[0]!.id });
  profileId = (await api('POST', '/profiles', { schemaVersion: 1, id: 'ecran-verrouille', name: 'Écran verrouillé', lockScreenMessage: 'Tablette de l’école' })).profile.id;
  const [row] = await db()
    .insert(devices)
    .values({ organisationId: tree.org.id, schoolId: tree.schools[0]!.id, platform: 'android', name: 'Tablette CM2-01', model: 'SM-X210', osVersion: '14', serial: 'CM201', lastSeenAt: new Date() })
    .returning();
  deviceId = row!.id;
  const signer = makeSigner('Mairie développeur');
  const apk = await buildApk({ packageName: 'fr.agglo.lecture', versionCode: 7, signer });
  const uploaded = await t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/octet-stream' }, payload: apk });
  expect(uploaded.statusCode).toBe(201);
  versionId = uploaded.json().version.id;
  signerSha = uploaded.json().version.signingCertSha256;
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('profiles', () => {
  it('lists the catalog with versions, assignments and compliance, in French', async () => {
    const c = await signedIn('tech@example.org');
    const page = await c.get('/console/profiles');
    expect(page.statusCode).toBe(200);
    const text = textOf(page.body);
    expect(text).toContain('Profils de configuration');
    expect(text).toContain('1 profil dans le catalogue');
    expect(text).toMatch(/Écran verrouillé 1 0 0 0 0/);
    expect(page.body).toContain('href="/console/apps"');
  });

  it('shows the body read-only and each platform’s preview with its warnings', async () => {
    const c = await signedIn('tech@example.org');
    const page = await c.get(`/console/profiles/${profileId}`);
    expect(page.statusCode).toBe(200);
    expect(textOf(page.body)).toContain('"lockScreenMessage": "Tablette de l’école"');
    expect(textOf(page.body)).toContain('Forme native pour Android');
    for (const platform of ['ios', 'windows']) {
      const preview = await c.get(`/console/profiles/${profileId}?platform=${platform}`);
      expect(preview.statusCode).toBe(200);
      const { warnings } = await api('GET', `/profiles/${profileId}/preview?platform=${platform}`);
      expect(textOf(preview.body)).toContain(warnings.length === 0 ? 'Aucun avertissement' : `${warnings.length} avertissement`);
      for (const w of warnings as Array<{ path: string }>) expect(preview.body).toContain(`<code>${w.path}</code>`);
    }
    expect((await c.get(`/console/profiles/${profileId}?platform=macos`)).statusCode).toBe(400);
  });

  it('assigns to a school and removes the assignment, refusing an empty choice in words', async () => {
    const c = await signedIn('tech@example.org');
    const refused = await c.post(`/console/profiles/${profileId}/assignments`, {}, `/console/profiles/${profileId}`);
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toMatch(/<title>Erreur :/);
    expect(textOf(refused.body)).toContain('Attribuer à');

    const school = tree.schools[0]!;
    const done = await c.post(`/console/profiles/${profileId}/assignments`, { scope: `school:${school.id}` }, `/console/profiles/${profileId}`);
    expect(done.statusCode).toBe(303);
    const page = await c.get(done.headers.location as string);
    expect(textOf(page.body)).toContain('Le profil est attribué');
    expect(textOf(page.body)).toContain(`École ${school.name}`);
    const { assignments } = await api('GET', `/profiles/${profileId}`);
    expect(assignments).toHaveLength(1);

    const removed = await c.post(`/console/profiles/${profileId}/assignments/${assignments[0].id}/remove`, {}, `/console/profiles/${profileId}`);
    expect(removed.statusCode).toBe(303);
    expect((await api('GET', `/profiles/${profileId}`)).assignments).toHaveLength(0);
    const audit = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'profile.unassign'), eq(auditEvents.targetId, profileId)));
    expect(audit).toHaveLength(1);
  });

  it('shows a director the profiles read-only and no apps', async () => {
    const c = await signedIn('dir@example.org');
    const list = await c.get('/console/profiles');
    expect(list.statusCode).toBe(200);
    expect(list.body).toContain('href="/console/profiles"');
    expect(list.body).not.toContain('href="/console/apps"');
    const page = await c.get(`/console/profiles/${profileId}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).not.toContain('/assignments"');
    expect(textOf(page.body)).not.toContain('Attribuer le profil');
    const refused = await c.post(`/console/profiles/${profileId}/assignments`, { scope: `school:${tree.schools[0]!.id}` }, `/console/profiles/${profileId}`);
    expect(refused.statusCode).toBe(403);
    expect((await api('GET', `/profiles/${profileId}`)).assignments).toHaveLength(0);
    expect((await c.get('/console/apps')).statusCode).toBe(403);
  });
});

describe('apps', () => {
  it('lists each version with its platform, identifier, size and signer, and offers the upload to technicians', async () => {
    const c = await signedIn('tech@example.org');
    const page = await c.get('/console/apps');
    expect(page.statusCode).toBe(200);
    const text = textOf(page.body);
    expect(text).toContain('Catalogue d’applications');
    expect(text).toContain('fr.agglo.lecture');
    expect(text).toContain('Android (APK)');
    expect(text).toContain(`${signerSha.slice(0, 16)}…`);
    expect(text).toMatch(/\d+(,\d+)? (ko|Mo|octets)/);
    expect(page.body).toContain('data-upload="/api/v1/apps/packages"');
  });

  it('installs a catalog version on a device from its page', async () => {
    const c = await signedIn('tech@example.org');
    const page = await c.get(`/console/devices/${deviceId}`);
    expect(textOf(page.body)).toContain('Installer une application');
    expect(page.body).toContain(`value="${versionId}"`);
    const sent = await c.post(`/console/devices/${deviceId}/install`, { appVersionId: versionId }, `/console/devices/${deviceId}`);
    expect(sent.statusCode).toBe(303);
    const [command] = await db().select().from(commands).where(and(eq(commands.deviceId, deviceId), eq(commands.kind, 'install_app')));
    expect(command?.params).toMatchObject({ appVersionId: versionId, packageName: 'fr.agglo.lecture' });

    const director = await signedIn('dir@example.org');
    const readOnly = await director.get(`/console/devices/${deviceId}`);
    expect(readOnly.body).not.toContain('/install"');
  });
});

describe('a device’s desired state', () => {
  it('shows what the device must hold against what it applied, with the reason in words', async () => {
    await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: tree.schools[0]!.id });
    await t.services.desiredState.port.current(deviceId);
    const c = await signedIn('dir@example.org');
    const page = await c.get(`/console/devices/${deviceId}`);
    const text = textOf(page.body);
    expect(text).toContain('Profils et applications : état attendu et état appliqué');
    expect(text).toContain('Écran verrouillé');
    expect(text).toContain('jamais appliqué');
    expect(text).toMatch(/1 écart La tablette n’a pas encore appliqué la version \d+ \(dernière appliquée : aucune\)/);
  });
});

describe('enrollment', () => {
  it('gives the iPad enrollment link and its QR code next to the Android one, and audits the read', async () => {
    const { enrollmentToken, apple } = await api('POST', '/enrollment-tokens', { schoolId: tree.schools[0]!.id, label: 'Chariot CM2' });
    const c = await signedIn('tech@example.org');
    const page = await c.get(`/console/enrollment/${enrollmentToken.id}`);
    expect(page.statusCode).toBe(200);
    expect(textOf(page.body)).toContain('Inscrire un iPad');
    expect(page.body).toContain(`href="${apple.enrollmentUrl}"`);
    expect(page.body).toMatch(/alt="Code QR du lien d’inscription iPad/);
    const reads = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'enrollment_token.apple_link'), eq(auditEvents.targetId, enrollmentToken.id)));
    expect(reads).toHaveLength(1);
  });
});

describe('writing a profile as JSON', () => {
  it('creates and edits a profile, listing each problem with its JSON path and keeping the text', async () => {
    const c = await signedIn('tech@example.org');
    expect(textOf((await c.get('/console/profiles/new')).body)).toContain('Profil (JSON)');
    const notJson = await c.post('/console/profiles', { body: '{"id": ' }, '/console/profiles/new');
    expect(notJson.statusCode).toBe(400);
    expect(textOf(notJson.body)).toContain('Le texte n’est pas du JSON valide');

    const faulty = JSON.stringify({ schemaVersion: 1, id: 'wifi-ecole', name: 'Wi-Fi', passcode: { minLength: 'six' } });
    const refused = await c.post('/console/profiles', { body: faulty }, '/console/profiles/new');
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toMatch(/<title>Erreur :/);
    const { problems } = await api('POST', '/profiles/validate', JSON.parse(faulty));
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems as Array<{ path: string }>) expect(textOf(refused.body)).toContain(`${p.path} :`);
    expect(refused.body).toContain('minLength&quot;:&quot;six');

    const created = await c.post('/console/profiles', { body: JSON.stringify({ schemaVersion: 1, id: 'message-ecole', name: 'Message de l’école', lockScreenMessage: 'Bonjour' }) }, '/console/profiles/new');
    expect(created.statusCode).toBe(303);
    const id = (created.headers.location as string).split('/').pop()!;
    expect((await api('GET', `/profiles/${id}`)).version).toBe(1);

    const edited = await c.post(`/console/profiles/${id}`, { body: JSON.stringify({ schemaVersion: 1, id: 'message-ecole', name: 'Message de l’école', lockScreenMessage: 'Bonne journée' }) }, `/console/profiles/${id}/edit`);
    expect(edited.statusCode).toBe(303);
    const after = await api('GET', `/profiles/${id}`);
    expect(after).toMatchObject({ version: 2, body: { lockScreenMessage: 'Bonne journée' } });

    const director = await signedIn('dir@example.org');
    expect((await director.get(`/console/profiles/${id}/edit`)).statusCode).toBe(403);
  });
});

describe('an app’s assignments', () => {
  it('assigns a version to a school and removes the assignment, with the tablets counted', async () => {
    const c = await signedIn('tech@example.org');
    const appId = (await api('GET', '/apps')).find((a: { identifier: string }) => a.identifier === 'fr.agglo.lecture').id as string;
    const page = await c.get(`/console/apps/${appId}`);
    expect(page.statusCode).toBe(200);
    expect(textOf(page.body)).toContain('Cette application n’est attribuée nulle part.');
    const refused = await c.post(`/console/apps/${appId}/assignments`, { versionId }, `/console/apps/${appId}`);
    expect(refused.statusCode).toBe(400);
    expect(textOf(refused.body)).toContain('Attribuer à');

    const school = tree.schools[0]!;
    const done = await c.post(`/console/apps/${appId}/assignments`, { scope: `school:${school.id}`, versionId }, `/console/apps/${appId}`);
    expect(done.statusCode).toBe(303);
    const shown = textOf((await c.get(done.headers.location as string)).body);
    expect(shown).toContain('L’application est attribuée');
    expect(shown).toContain(school.name);
    // The school's one Android tablet has its install queued, not yet answered.
    expect(shown).toContain('1 tablette : 0 à jour, 1 en attente, 0 en échec');
    const [assignment] = await api('GET', `/apps/${appId}/assignments`);

    const director = await signedIn('dir@example.org');
    expect((await director.get(`/console/apps/${appId}`)).statusCode).toBe(403);
    const device = textOf((await director.get(`/console/devices/${deviceId}`)).body);
    expect(device).toContain('L’application fr.agglo.lecture n’est pas encore installée dans la version attribuée.');

    const removed = await c.post(`/console/apps/${appId}/assignments/${assignment.id}/remove`, {}, `/console/apps/${appId}`);
    expect(removed.statusCode).toBe(303);
    expect(await api('GET', `/apps/${appId}/assignments`)).toEqual([]);
    const audit = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'app.unassign'), eq(auditEvents.targetId, appId)));
    expect(audit).toHaveLength(1);
  });
});
