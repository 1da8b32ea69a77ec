import { generateKeyPairSync } from 'node:crypto';
import { sql } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { startFakeAmapi, type FakeAmapi } from '../helpers/fake-amapi';
import { expectAccessible } from './axe';
import { openConsoleWorld, type ConsoleWorld } from './console-world';
import { text, visible } from './wait';

/**
 * The DSI binds the authority's Google enterprise from the console (through the stand-in's
 * signup page, which sends the browser back as Google's does), sets its notifications, watches
 * the quota, and unbinds; a technician shows Google's QR code on a school's enrollment page and
 * prints its sheet. In French, each page through axe.
 */
jest.setTimeout(180_000);

const PAGE = '/console/settings/android-management';
let w: ConsoleWorld;
let fake: FakeAmapi;
let tokenId: string;

const db = () => w.t.infra.database.db;
const auditActions = async () => (await db().execute<{ action: string }>(sql`select action from audit_events where action like 'amapi.%' order by seq`)).rows.map((r) => r.action);
const serviceAccountKey = () =>
  JSON.stringify({
    type: 'service_account',
    project_id: 'agglo-mdm',
    client_email: 'cartable@agglo-mdm.iam.gserviceaccount.com',
    private_key: generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
  });

async function signedIn(email: string): Promise<Page> {
  const page = await w.newPage();
  await w.signIn(page, email);
  return page;
}

beforeAll(async () => {
  fake = await startFakeAmapi({ signupPage: true });
  w = await openConsoleWorld({
    env: { AMAPI_ROOT_URL: fake.rootUrl, AMAPI_PUBSUB_ROOT_URL: fake.rootUrl },
    services: { amapi: { authFor: () => fake.authClient(), sleep: async () => undefined } },
  });
  const school = w.tree.schools[0]!.id;
  tokenId = (await w.t.services.enrollment.createToken({ all: true, organisationId: w.tree.org.id }, SYSTEM_ACTOR, { schoolId: school, label: 'Classe mobile Google' })).view.id;
});
afterAll(async () => {
  await w?.close();
  await fake?.close();
});
afterEach(() => {
  expect(w.cspViolations).toEqual([]);
});

it('before any binding, a technician reads why Google tablets cannot enroll, and neither a technician nor a director opens the binding page', async () => {
  const page = await signedIn('tech@example.org');
  await page.goto(`/console/enrollment/${tokenId}`);
  const google = page.getByRole('region', { name: 'Tablettes Android gérées par Google' });
  await visible(google.getByText('Les tablettes Android gérées par Google ne peuvent pas encore être inscrites : l’organisation n’est rattachée à aucune entreprise Google (Android Management API).'));
  await visible(google.getByText('Un administrateur de la DSI doit d’abord la rattacher dans Paramètres.'));
  await expectAccessible(page, 'an enrollment token, organisation not bound to Google');
  expect((await page.goto(PAGE))!.status()).toBe(403);
  expect(await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Paramètres' }).count()).toBe(0);

  const director = await signedIn('director@example.org');
  expect((await director.goto(PAGE))!.status()).toBe(403);
});

it('an administrator binds the enterprise from Settings through Google’s signup page, then sets its notifications, every step audited', async () => {
  const page = await signedIn('admin@example.org');
  await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Paramètres' }).click();
  await page.getByRole('link', { name: 'Tablettes Android gérées par Google (Android Management API)' }).click();
  expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Tablettes Android gérées par Google');
  expect(await text(page.locator('#amapi-state'))).toBe('Non rattaché');
  expect(await text(page.locator('#amapi-quota'))).toBe('Aucune tablette gérée par Google, sur un quota de 500 pour le projet.');
  await expectAccessible(page, 'the Google binding, not bound');

  // A key that is not one is refused by name, and the pasted text (a secret) is not shown back.
  await page.getByLabel('Clé du compte de service (JSON)').fill('{"pas": "une clé"}');
  await page.getByRole('button', { name: 'Continuer vers Google' }).click();
  await visible(page.getByRole('alert'));
  await visible(page.getByText('Ce n’est pas une clé de compte de service Google', { exact: false }).first());
  expect(await page.getByLabel('Clé du compte de service (JSON)').inputValue()).toBe('');
  expect(await page.title()).toMatch(/^Erreur :/);
  await expectAccessible(page, 'the Google binding with a refused key');

  await page.getByLabel('Clé du compte de service (JSON)').fill(serviceAccountKey());
  await page.getByLabel('Adresse du compte administrateur Google').fill('dsi@agglo.example');
  await page.getByRole('button', { name: 'Continuer vers Google' }).click();
  const next = page.getByRole('status').filter({ hasText: 'La clé est enregistrée, chiffrée.' });
  await visible(next);
  expect(await text(page.locator('#amapi-state'))).toBe('Inscription en cours chez Google');
  await expectAccessible(page, 'the Google binding, signup pending');
  // Google's signup page (the stand-in's) sends the browser back to the console's callback.
  await next.getByRole('link', { name: 'Ouvrir la page d’inscription de Google' }).click();
  await page.waitForURL((u) => u.pathname === PAGE && !u.search);
  await visible(page.getByText('L’entreprise Google est rattachée : les tablettes Android gérées par Google peuvent être inscrites.'));
  expect(await text(page.locator('#amapi-state'))).toBe('Rattaché');
  const enterpriseName = [...fake.enterprises.keys()][0]!;
  await visible(page.getByText(enterpriseName));
  expect(fake.calls.filter((c) => c.path === '/signup')).toHaveLength(1);
  expect(fake.calls.find((c) => c.path === '/v1/signupUrls')).toBeDefined();
  expect(fake.calls.filter((c) => c.path === '/v1/enterprises')).toHaveLength(1);
  const stored = (await db().execute<{ credentials_sealed: string }>(sql`select credentials_sealed from amapi_enterprises`)).rows[0]!;
  expect(stored.credentials_sealed).not.toContain('PRIVATE KEY');
  await expectAccessible(page, 'the Google binding, bound');

  await page.getByLabel('Mode (obligatoire)').selectOption({ label: 'Cartable lit un abonnement Pub/Sub (pull)' });
  await page.getByLabel('Sujet Pub/Sub').fill('projects/agglo-mdm/topics/amapi');
  await page.getByLabel('Abonnement (mode pull)').fill('projects/agglo-mdm/subscriptions/cartable');
  await page.getByRole('button', { name: 'Enregistrer les notifications' }).click();
  await visible(page.getByText('Les notifications de Google sont enregistrées.'));
  expect(fake.enterprises.get(enterpriseName)).toMatchObject({ pubsubTopic: 'projects/agglo-mdm/topics/amapi' });
  expect(await auditActions()).toEqual(['amapi.binding.start', 'amapi.binding.complete', 'amapi.notifications.configure']);
});

it('a technician gets Google’s QR code on the school’s enrollment page and prints its sheet; the quota warns before the cap', async () => {
  const page = await signedIn('tech@example.org');
  await page.goto(`/console/enrollment/${tokenId}`);
  const school = w.tree.schools[0]!.name;
  await page.getByRole('button', { name: 'Obtenir le QR code de Google' }).click();
  await visible(page.getByRole('img', { name: `QR code Google d’inscription des tablettes de l’école ${school}` }));
  expect(fake.tokens.size).toBe(1);
  await expectAccessible(page, 'an enrollment token with Google’s QR code');
  // Reading the page again makes nothing at Google.
  await page.reload();
  await visible(page.getByRole('img', { name: `QR code Google d’inscription des tablettes de l’école ${school}` }));
  expect(fake.calls.filter((c) => c.method === 'POST' && c.path.endsWith('/enrollmentTokens'))).toHaveLength(1);

  await page.getByRole('link', { name: 'Imprimer la fiche pour les tablettes gérées par Google' }).click();
  expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Inscrire une tablette Android gérée par Google');
  await visible(page.getByRole('img', { name: 'QR code d’inscription Google' }));
  const pdf = (await page.pdf({ preferCSSPageSize: true, printBackground: true })).toString('latin1');
  expect(pdf.match(/\/Type \/Page\b/g)).toHaveLength(1);
  await expectAccessible(page, 'the printable Google enrollment sheet');

  // A tablet enrolls with it; with a cap of 2 the page warns, at the cap it says enrollment stops.
  fake.enroll([...fake.tokens.keys()][0]!, 'R52W0001');
  expect(await w.t.services.amapi.devices.pull(w.tree.org.id)).toMatchObject({ received: 1 });
  await db().execute(sql`update amapi_enterprises set device_cap = 2`);
  const admin = await signedIn('admin@example.org');
  await admin.goto(PAGE);
  expect(await text(admin.locator('#amapi-quota'))).toBe('1 tablette gérée par Google, sur un quota de 2 pour le projet.');
  await visible(admin.getByText('Le projet approche de son quota (1 tablette sur 2). Demandez dès maintenant à Google d’en valider davantage', { exact: false }));
  await db().execute(sql`update amapi_enterprises set device_cap = 1`);
  await admin.reload();
  await visible(admin.getByRole('alert').filter({ hasText: 'Quota atteint (1 tablette sur 1)' }));
  await expectAccessible(admin, 'the Google binding at its cap');
  await admin.goto(`/console/language?to=en&back=${PAGE}`);
  expect(await text(admin.getByRole('heading', { level: 1 }))).toBe('Android tablets managed by Google');
  await visible(admin.getByRole('alert').filter({ hasText: 'Quota reached (1 tablet of 1)' }));
  await expectAccessible(admin, 'the Google binding in English');
});

it('unbinds once the enterprise name is typed back, audited; a new binding that Google refuses shows its error', async () => {
  const page = await signedIn('admin@example.org');
  await page.goto(PAGE);
  const enterpriseName = [...fake.enterprises.keys()][0]!;
  await page.getByLabel('Nom de l’entreprise, pour confirmer').fill('enterprises/autre');
  await page.getByRole('button', { name: 'Détacher l’entreprise Google' }).click();
  await visible(page.getByText('Le nom tapé ne correspond pas au nom de l’entreprise', { exact: false }).first());
  await expectAccessible(page, 'the unbinding refused');
  await page.getByLabel('Nom de l’entreprise, pour confirmer').fill(enterpriseName);
  await page.getByRole('button', { name: 'Détacher l’entreprise Google' }).click();
  await visible(page.getByText('L’entreprise Google est détachée : Cartable ne s’adresse plus à Google.'));
  expect(await text(page.locator('#amapi-state'))).toBe('Détaché');
  expect(await auditActions()).toContain('amapi.binding.unbind');

  fake.fail(/^POST \/v1\/signupUrls$/, 500);
  await page.getByLabel('Clé du compte de service (JSON)').fill(serviceAccountKey());
  await page.getByRole('button', { name: 'Continuer vers Google' }).click();
  await page.waitForURL((u) => u.pathname === PAGE);
  expect(await text(page.locator('#amapi-state'))).toBe('En erreur');
  await visible(page.getByRole('alert').filter({ hasText: 'Backend error' }));
  await expectAccessible(page, 'the Google binding in error');

  const tech = await signedIn('tech@example.org');
  await tech.goto(`/console/enrollment/${tokenId}`);
  await visible(tech.getByText('l’organisation n’est rattachée à aucune entreprise Google', { exact: false }));
});
