import { randomUUID } from 'node:crypto';
import { and, desc, eq } from 'drizzle-orm';
import { auditEvents, commands, deviceLocations, devices, sessions, users } from '../../server/infra/db/schema';
import { asDatabaseOwner } from '../helpers/audit-chain';
import { ConsoleClient, textOf } from '../helpers/console-client';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
const PASSWORD = 'correct horse battery';
let ipCounter = 0;
/** Each client its own address, so the per-address sign-in budget of one test does not spill into another. */
const client = () => new ConsoleClient(t.app, `10.40.0.${++ipCounter}`);
const db = () => t.infra.database.db;

async function person(email: string, role: 'admin' | 'technician' | 'director' | 'auditor', scope: { scopeType: 'organisation' | 'school'; scopeId: string | null }) {
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: email.split('@')[0]!, password: PASSWORD });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role, ...scope });
  return user;
}

async function device(schoolId: string, name: string, extra: Partial<typeof devices.$inferInsert> = {}) {
  const [row] = await db()
    .insert(devices)
    .values({ organisationId: tree.org.id, schoolId, platform: 'android', name, model: 'SM-X210', osVersion: '14', serial: name.replace(/\W/g, ''), batteryLevel: 80, lastSeenAt: new Date(), ...extra })
    .returning();
  return row!;
}

let schoolA: string;
let schoolB: string;

beforeAll(async () => {
  env = await createTestEnv({ SIGN_IN_RATE_LIMIT_PER_15MIN: '12' });
  t = await startTestApp(env);
  tree = await createOrgTree(db(), { communes: 1, schools: 2 });
  schoolA = tree.schools[0]!.id;
  schoolB = tree.schools[1]!.id;
  await person('tech@example.org', 'technician', { scopeType: 'organisation', scopeId: null });
  await person('dir.a@example.org', 'director', { scopeType: 'school', scopeId: schoolA });
  await person('admin@example.org', 'admin', { scopeType: 'organisation', scopeId: null });
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('signing in', () => {
  it('leads from / to the sign-in page, then to the first page of the menu', async () => {
    const c = client();
    expect((await c.get('/')).headers.location).toBe('/console/');
    const home = await c.get('/console/');
    expect(home.statusCode).toBe(303);
    expect(home.headers.location).toBe('/console/login?next=%2Fconsole%2F');
    const signedIn = await c.signIn('tech@example.org', PASSWORD);
    expect(signedIn.statusCode).toBe(303);
    expect((await c.get('/console/')).headers.location).toBe('/console/dashboard');
    const dashboard = await c.get('/console/dashboard');
    expect(dashboard.statusCode).toBe(200);
    expect(dashboard.headers['content-type']).toMatch(/^text\/html/);
    expect(dashboard.headers['cache-control']).toBe('no-store');
    expect(dashboard.headers['content-security-policy']).toContain("script-src 'self'");
  });

  it('speaks French by default, English when the browser asks for it or the reader chooses it', async () => {
    const fr = await client().get('/console/login');
    expect(fr.body).toContain('<html lang="fr">');
    expect(textOf(fr.body)).toContain('Se connecter à Cartable');
    const en = await new ConsoleClient(t.app, '10.41.0.1', { 'accept-language': 'en-US,en;q=0.9' }).get('/console/login');
    expect(en.body).toContain('<html lang="en">');
    expect(textOf(en.body)).toContain('Sign in to Cartable');
    const c = client();
    const chosen = await c.get('/console/language?to=en&back=/console/login');
    expect(chosen.headers.location).toBe('/console/login');
    expect(textOf((await c.get('/console/login')).body)).toContain('Sign in to Cartable');
    // The way back never leaves the console.
    expect((await c.get('/console/language?to=fr&back=https://evil.example/')).headers.location).toBe('/console/');
  });

  it('refuses a sign-in form that does not carry its CSRF token', async () => {
    const c = client();
    await c.get('/console/login');
    const res = await c.postRaw('/console/login', { email: 'tech@example.org', password: PASSWORD });
    expect(res.statusCode).toBe(403);
    expect(textOf(res.body)).toContain('Ce formulaire a expiré');
    expect(c.cookies.cartable_session).toBeUndefined();
  });

  it('shows the form again after a wrong password, with the address kept and the problem named', async () => {
    const c = client();
    const res = await c.signIn('tech@example.org', 'not the password');
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('<title>Erreur : Connexion – Cartable</title>');
    expect(res.body).toContain('value="tech@example.org"');
    expect(res.body).not.toContain('not the password');
    expect(textOf(res.body)).toContain('Adresse e-mail ou mot de passe incorrect');
    const empty = await c.post('/console/login', { email: 'tech@example.org' }, '/console/login');
    expect(textOf(empty.body)).toContain('« Mot de passe » : ce champ est obligatoire.');
    expect(empty.body).toContain('href="#password"');
  });

  it('says plainly that an account is locked after ten wrong passwords', async () => {
    await person('locked@example.org', 'technician', { scopeType: 'organisation', scopeId: null });
    const c = client();
    for (let i = 0; i < 10; i++) await c.signIn('locked@example.org', `wrong ${i}`);
    const res = await c.signIn('locked@example.org', PASSWORD);
    expect(textOf(res.body)).toContain('Ce compte est verrouillé pendant 15 minutes');
  });

  it('counts console and REST API sign-ins against the same budget of the address', async () => {
    // Unknown accounts: the lockout of an account plays no part here.
    const ip = '10.42.0.1';
    const c = new ConsoleClient(t.app, ip);
    for (let i = 0; i < 6; i++) await c.signIn(`nobody${i}@example.org`, 'wrong');
    for (let i = 0; i < 6; i++) await t.app.inject({ method: 'POST', url: '/api/v1/auth/login', payload: { email: `nobody${i}@example.org`, password: 'x' }, remoteAddress: ip });
    const refused = await c.signIn('tech@example.org', PASSWORD);
    expect(refused.statusCode).toBe(429);
    expect(textOf(refused.body)).toContain('Trop de tentatives depuis cette adresse');
  });

  it('shows a clear page when the session has expired', async () => {
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    await db().update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.userId, (await db().select().from(users).where(eq(users.email, 'tech@example.org')))[0]!.id));
    const res = await c.get('/console/dashboard');
    expect(res.statusCode).toBe(401);
    expect(textOf(res.body)).toContain('Session expirée');
    expect(res.body).toContain('href="/console/login"');
    expect(c.cookies.cartable_session).toBeUndefined();
  });

  it('sends the first administrator to the password page until the printed password is replaced', async () => {
    await db().delete(users).where(eq(users.email, 'admin@cartable.local'));
    const first = (await t.services.users.ensureBootstrapAdmin((await createOrgTree(db(), { communes: 1, schools: 1 })).org.id))!;
    const c = client();
    expect((await c.signIn(first.email, first.password)).headers.location).toBe('/console/password');
    expect((await c.get('/console/dashboard')).headers.location).toBe('/console/password');
    const page = await c.get('/console/password');
    expect(textOf(page.body)).toContain('a été affiché à l’installation');
    expect(page.body).not.toContain('aria-label="Menu principal"');
    const differ = await c.post('/console/password', { currentPassword: first.password, newPassword: 'une phrase de passe neuve', confirmPassword: 'une autre phrase' });
    expect(textOf(differ.body)).toContain('ne sont pas identiques');
    const done = await c.post('/console/password', { currentPassword: first.password, newPassword: 'une phrase de passe neuve', confirmPassword: 'une phrase de passe neuve' });
    expect(done.statusCode).toBe(303);
    const landing = await c.get(done.headers.location as string);
    expect(landing.statusCode).toBe(200);
    expect(textOf(landing.body)).toContain('Votre mot de passe a été changé.');
  });
});

describe('what a director sees', () => {
  it("sees their school's tablets and no form that writes; another school's tablet is the same 404 as a missing one", async () => {
    const mine = await device(schoolA, 'Tablette A-1');
    const theirs = await device(schoolB, 'Tablette B-1');
    const c = client();
    await c.signIn('dir.a@example.org', PASSWORD);
    const inventory = await c.get(`/console/schools/${schoolA}`);
    expect(inventory.statusCode).toBe(200);
    expect(textOf(inventory.body)).toContain('Tablette A-1');
    expect(textOf((await c.get('/console/devices')).body)).not.toContain('Tablette B-1');
    const page = await c.get(`/console/devices/${mine.id}`);
    expect(page.statusCode).toBe(200);
    const forms = [...page.body.matchAll(/<form[^>]*method="post"[^>]*action="([^"]+)"/g)].map((m) => m[1]);
    expect(forms).toEqual(['/console/logout']);
    expect(page.body).not.toContain('/actions/');
    expect(page.body).not.toContain('IMEI');
    const other = await c.get(`/console/devices/${theirs.id}`);
    const missing = await c.get(`/console/devices/${randomUUID()}`);
    expect(other.statusCode).toBe(404);
    expect(missing.statusCode).toBe(404);
    const strip = (html: string) => textOf(html).replace(/_csrf" value="[^"]+"/, '');
    expect(strip(other.body)).toBe(strip(missing.body));
    expect((await c.get(`/console/schools/${schoolB}`)).statusCode).toBe(404);
    const lock = await c.post(`/console/devices/${mine.id}/actions/lock`, {}, `/console/devices/${mine.id}`);
    expect(lock.statusCode).toBe(403);
    expect(await db().select().from(commands).where(eq(commands.deviceId, mine.id))).toHaveLength(0);
    expect((await c.get('/console/users')).statusCode).toBe(403);
  });
});

describe('the dashboard', () => {
  it('counts the active fleet by school, system and version, online, silent, lost and waiting, per scope, and reuses its figures briefly', async () => {
    const other = await createOrgTree(db(), { communes: 1, schools: 2 });
    const [s1, s2] = other.schools.map((s) => s.id) as [string, string];
    const add = async (schoolId: string, name: string, extra: Partial<typeof devices.$inferInsert>) =>
      (await db().insert(devices).values({ organisationId: other.org.id, schoolId, platform: 'android', name, osVersion: '14', ...extra }).returning())[0]!;
    await add(s1, 'en ligne', { lastSeenAt: new Date() });
    await add(s1, 'perdue', { lastSeenAt: new Date(), lostMode: true, osVersion: '13' });
    await add(s1, 'muette', { lastSeenAt: new Date(Date.now() - 10 * 86400_000) });
    const waiting = await add(s2, 'en attente', { lastSeenAt: null });
    await add(s2, 'effacée', { status: 'wiped', lastSeenAt: new Date() });
    await db().insert(commands).values({ organisationId: other.org.id, deviceId: waiting.id, kind: 'lock', origin: 'technician', expiresAt: new Date(Date.now() + 3600_000) });
    const all = { all: true as const, organisationId: other.org.id };
    const figures = await t.services.devices.fleetSummary(all, { silentDays: 7 });
    expect(figures).toMatchObject({ total: 4, online: 2, silent: 2, lostMode: 1, pendingCommands: 1 });
    expect(figures.bySchool).toEqual([{ schoolId: s1, count: 3 }, { schoolId: s2, count: 1 }]);
    expect(figures.byOsVersion).toEqual([{ platform: 'android', osVersion: '14', count: 3 }, { platform: 'android', osVersion: '13', count: 1 }]);
    const oneSchool = await t.services.devices.fleetSummary({ all: false, organisationId: other.org.id, schoolIds: [s2], communeIds: [] }, { silentDays: 7 });
    expect(oneSchool).toMatchObject({ total: 1, online: 0, silent: 1, pendingCommands: 1 });
    // Within a few seconds the same scope reads the same figures, which say when they were computed.
    await add(s1, 'nouvelle', { lastSeenAt: new Date() });
    const again = await t.services.devices.fleetSummary(all, { silentDays: 7 });
    expect(again.computedAt).toBe(figures.computedAt);
    expect(again.total).toBe(4);
    expect((await t.services.devices.fleetSummary(all, { silentDays: 30 })).total).toBe(5);
  });

  it('shows each figure as a link to the tablets it counts', async () => {
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    const page = await c.get('/console/dashboard');
    for (const link of ['/console/devices?online=yes', '/console/devices?silentDays=7', '/console/devices?lostMode=on', '/console/devices?pending=on']) expect(page.body).toContain(`href="${link}"`);
    expect(textOf(page.body)).toMatch(/Chiffres au \d/);
  });
});

describe('the inventory', () => {
  it('filters, sorts and pages, and its CSV export defuses spreadsheet formulas', async () => {
    const school = (await createOrgTree(db(), { communes: 1, schools: 1 })).schools[0]!;
    // A school of another organisation's tree is fine for an organisation-wide technician only if it is ours.
    const ours = await t.services.organisation.createSchool({ all: true, organisationId: tree.org.id }, { communeId: tree.communes[0]!.id, code: '0690999Z', name: 'École des filtres' }, { type: 'system', id: null, label: 'test', role: null, ip: null });
    await device(ours.id, '=HYPERLINK("http://evil.example","clic")', { lostMode: true, batteryLevel: 10 });
    await device(ours.id, 'Tablette calme', { batteryLevel: 90 });
    await device(school.id, 'Tablette ailleurs');
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    const lost = await c.get(`/console/schools/${ours.id}?lostMode=on`);
    expect(textOf(lost.body)).toContain('=HYPERLINK');
    expect(textOf(lost.body)).not.toContain('Tablette calme');
    const low = await c.get(`/console/devices?batteryLow=on&schoolId=${ours.id}`);
    expect(textOf(low.body)).toContain('1 tablette – page 1 sur 1');
    const sorted = await c.get(`/console/schools/${ours.id}?sort=battery&direction=desc`);
    expect(textOf(sorted.body).indexOf('Tablette calme')).toBeLessThan(textOf(sorted.body).indexOf('=HYPERLINK'));
    expect(sorted.body).toContain('aria-sort="descending"');
    const live = await c.get(`/console/schools/${ours.id}?fragment=results`);
    expect(live.body).not.toContain('<html');
    expect(live.body).toContain('Tablette calme');
    const csv = await c.get(`/console/devices.csv?schoolId=${ours.id}`);
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body).toContain(`"'=HYPERLINK(""http://evil.example"",""clic"")"`);
    expect(csv.body).not.toContain('Tablette ailleurs');
    expect(csv.body.split('\r\n')[0]).toContain('"Numéro de série"');
  });
});

describe('a device page', () => {
  it('reveals the last position only on a deliberate request, and audits it', async () => {
    const d = await device(schoolA, 'Tablette perdue', { lostMode: true });
    await db().insert(deviceLocations).values({ deviceId: d.id, lat: 45.764, lon: 4.8357, accuracyM: 12, provider: 'fused', fixTime: new Date(), source: 'lost_mode' });
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    const page = await c.get(`/console/devices/${d.id}`);
    expect(page.body).not.toContain('4,8357');
    const audited = () => db().select().from(auditEvents).where(and(eq(auditEvents.action, 'device.location.read'), eq(auditEvents.targetId, d.id)));
    expect(await audited()).toHaveLength(0);
    const shown = await c.post(`/console/devices/${d.id}/location`, {}, `/console/devices/${d.id}`);
    expect(shown.statusCode).toBe(200);
    expect(textOf(shown.body)).toContain('45,764, 4,8357');
    expect(await audited()).toHaveLength(1);
  });

  it('keeps what was typed when a confirmation is refused, and queues nothing', async () => {
    const d = await device(schoolA, 'Tablette à effacer');
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    const refused = await c.post(`/console/devices/${d.id}/actions/wipe`, { confirmName: 'Tablette a effacer', reason: 'Vol' }, `/console/devices/${d.id}/actions/wipe`);
    expect(refused.statusCode).toBe(400);
    expect(textOf(refused.body)).toContain('Le nom tapé ne correspond pas');
    expect(refused.body).toContain('value="Vol"');
    expect(refused.body).toContain('aria-invalid="true"');
    const lost = await c.post(`/console/devices/${d.id}/actions/lost_mode_on`, {}, `/console/devices/${d.id}/actions/lost_mode_on`);
    expect(lost.statusCode).toBe(400);
    expect(await db().select().from(commands).where(eq(commands.deviceId, d.id))).toHaveLength(0);
    const wiped = await c.post(`/console/devices/${d.id}/actions/wipe`, { confirmName: 'Tablette à effacer' }, `/console/devices/${d.id}/actions/wipe`);
    expect(wiped.statusCode).toBe(303);
    expect((await db().select().from(commands).where(eq(commands.deviceId, d.id))).map((x) => x.kind)).toEqual(['wipe']);
  });
});

describe('administration pages', () => {
  it('lets an administrator create an account, grant and remove a role, and save the agent package', async () => {
    const c = client();
    await c.signIn('admin@example.org', PASSWORD);
    const created = await c.post('/console/users', { email: 'nouvelle.directrice@example.org', displayName: 'Nouvelle Directrice' });
    expect(created.statusCode).toBe(303);
    const userPage = created.headers.location as string;
    expect(textOf((await c.get(userPage)).body)).toContain('Le compte a été créé.');
    const taken = await c.post('/console/users', { email: 'nouvelle.directrice@example.org', displayName: 'Doublon' }, '/console/users');
    expect(textOf(taken.body)).toContain('Un compte utilise déjà cette adresse e-mail.');
    expect(taken.body).toContain('value="Doublon"');
    const wrongScope = await c.post(`${userPage}/roles`, { role: 'director', scope: 'organisation' }, userPage);
    expect(textOf(wrongScope.body)).toContain('un directeur se rattache à une école');
    expect((await c.post(`${userPage}/roles`, { role: 'director', scope: `school:${schoolA}` }, userPage)).statusCode).toBe(303);
    const withRole = await c.get(userPage);
    expect(textOf(withRole.body)).toContain('Directeur ou directrice d’école École : École 1');
    const removeAction = /action="([^"]+\/remove)"/.exec(withRole.body)![1]!;
    expect((await c.post(removeAction, {}, userPage)).statusCode).toBe(303);
    expect(textOf((await c.get(userPage)).body)).toContain('Aucun rôle');

    const badPackage = await c.post('/console/settings/agent-package', { componentName: 'pas un composant', downloadUrl: 'http://insecure.example/agent.apk', signatureChecksum: 'court' }, '/console/settings');
    expect(badPackage.statusCode).toBe(400);
    expect(badPackage.body).toContain('value="http://insecure.example/agent.apk"');
    const agentPackage = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/agent.apk', signatureChecksum: 'B'.repeat(43) };
    expect((await c.post('/console/settings/agent-package', agentPackage, '/console/settings')).statusCode).toBe(303);
    expect(await t.services.enrollment.agentPackage(tree.org.id)).toEqual(agentPackage);
  });

  it('revokes an enrollment token, after which it shows no QR code', async () => {
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    await t.services.enrollment.setAgentPackage(tree.org.id, { type: 'system', id: null, label: 'test', role: null, ip: null }, { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/agent.apk', signatureChecksum: 'C'.repeat(43) });
    const created = await c.post('/console/enrollment', { schoolId: schoolA, label: 'Classe mobile 3', expiresOn: new Date(Date.now() + 3 * 86400_000).toISOString().slice(0, 10) });
    const tokenPage = created.headers.location as string;
    const page = await c.get(tokenPage);
    expect(page.body).toContain('<img class="qr" src="data:image/svg+xml;base64,');
    expect((await c.post(`${tokenPage}/revoke`, {}, tokenPage)).statusCode).toBe(303);
    const revoked = await c.get(tokenPage);
    expect(revoked.body).not.toContain('<img class="qr"');
    expect(textOf(revoked.body)).toContain('Ce jeton est révoqué : il ne permet plus d’inscrire de tablette.');
  });

  it('gives an auditor the audit trail and its CSV export, which is itself audited, and nothing else', async () => {
    await person('dpo@example.org', 'auditor', { scopeType: 'organisation', scopeId: null });
    const c = client();
    await c.signIn('dpo@example.org', PASSWORD);
    expect((await c.get('/console/')).headers.location).toBe('/console/audit');
    const trail = await c.get('/console/audit?action=auth.*');
    expect(textOf(trail.body)).toContain('auth.login');
    expect(textOf(trail.body)).toContain('Vérifier l’intégrité maintenant');
    expect(textOf(trail.body)).not.toContain('Intact');
    // Verified on request, for the auditor's organisation; an edited row shows as tampered with.
    const intact = await c.get('/console/audit?verify=1');
    expect(textOf(intact.body)).toMatch(/Intact \d+ événements vérifiés/);
    const [last] = await db().select({ id: auditEvents.id }).from(auditEvents).where(eq(auditEvents.action, 'auth.login')).orderBy(desc(auditEvents.id)).limit(1);
    await asDatabaseOwner(env.config.DATABASE_URL, (owner) => owner.query(`update audit_events set outcome = 'denied' where id = $1`, [last!.id]));
    const broken = await c.get('/console/audit?verify=1');
    expect(textOf(broken.body)).toContain('Altéré');
    expect(textOf(broken.body)).toMatch(/Premier événement altéré : n° \d+/);
    const csv = await c.get('/console/audit/export.csv?action=auth.*');
    expect(csv.headers['content-type']).toMatch(/^text\/csv/);
    expect(csv.body).toContain('"auth.login"');
    expect((await db().select().from(auditEvents).where(eq(auditEvents.action, 'audit.export'))).length).toBeGreaterThan(0);
    expect((await c.get('/console/dashboard')).statusCode).toBe(403);
  });
});

describe('forms', () => {
  it('keeps a half-filled enrollment form when it is refused', async () => {
    const c = client();
    await c.signIn('tech@example.org', PASSWORD);
    const res = await c.post('/console/enrollment', { schoolId: schoolA, expiresOn: '2099-01-01', maxUses: '30' });
    expect(res.statusCode).toBe(400);
    expect(textOf(res.body)).toContain('« Nom du jeton » : ce champ est obligatoire.');
    expect(res.body).toMatch(new RegExp(`<option value="${schoolA}" selected>`));
    expect(res.body).toContain('value="30"');
    const late = await c.post('/console/enrollment', { schoolId: schoolA, label: 'Rentrée', expiresOn: '2099-01-01' });
    expect(textOf(late.body)).toContain('au plus dans un an');
    expect(late.body).toContain('value="Rentrée"');
  });
});
