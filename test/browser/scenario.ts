import { randomUUID } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { auditEvents, devices } from '../../server/infra/db/schema';
import { type SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import type { ConsoleWorld } from './console-world';
import { eventually, isFocused, text, visible } from './wait';

const LIVE_MS = 5_000;

/**
 * What a technician, a school director and a person signing in through the authority's provider
 * do, in the browser. Runs first: it starts from schools without tablets.
 */
export function scenarioTests(world: () => ConsoleWorld): void {
  let w: ConsoleWorld;
  let schoolA: string;
  let schoolB: string;
  const nameOf = async (deviceId: string) => (await w.t.infra.database.db.select().from(devices).where(eq(devices.id, deviceId)))[0]!.name;

  beforeAll(() => {
    w = world();
    schoolA = w.tree.schools[0]!.id;
    schoolB = w.tree.schools[1]!.id;
  });

  describe('a technician', () => {
    let enrolled: SimulatedAgent;

    it('signs in, creates an enrollment token, and sees the tablet that uses it appear without reloading', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      await page.waitForURL(/\/console\/dashboard$/);
      await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Inscription' }).click();
      await page.getByLabel('École').selectOption({ label: `${w.tree.schools[0]!.name} (${w.tree.schools[0]!.code})` });
      await page.getByLabel('Nom du jeton').fill('Classe mobile 1');
      await page.getByRole('button', { name: 'Créer le jeton' }).click();
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Classe mobile 1');
      await visible(page.getByRole('img', { name: /QR code d’inscription/ }));
      const code = (await page.locator('#enrollment-code').textContent())!.trim();
      expect(code).toMatch(/^cet_/);

      // The sheet for the tablet cart prints on one A4 page, in French.
      await page.getByRole('link', { name: 'Imprimer la fiche pour la classe mobile' }).click();
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Inscrire une tablette dans Cartable');
      const pdf = (await page.pdf({ preferCSSPageSize: true, printBackground: true })).toString('latin1');
      expect(pdf).toMatch(/\/MediaBox \[0 0 59[45](\.\d+)? 84[12](\.\d+)?\]/);
      expect(pdf.match(/\/Type \/Page\b/g)).toHaveLength(1);

      await page.goto(`/console/schools/${schoolA}`);
      await visible(page.getByText('Aucune tablette ne correspond'));
      await page.evaluate(() => Object.assign(globalThis, { stillTheSamePage: true }));
      enrolled = await w.tablet(schoolA, 1, code);
      const name = await nameOf(enrolled.deviceId!);
      await visible(page.getByRole('link', { name }), LIVE_MS + 2_000);
      expect(await page.evaluate(() => (globalThis as { stillTheSamePage?: boolean }).stillTheSamePage)).toBe(true);
      await visible(page.getByRole('row', { name: new RegExp(name) }).getByText('Connectée'));
    });

    it('locks the tablet with a message and sees the command go from waiting to succeeded, announced', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      const name = await nameOf(enrolled.deviceId!);
      await page.goto(`/console/schools/${schoolA}`);
      await page.getByRole('link', { name }).click();
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe(name);
      // Out of reach for a moment (a tablet in a school bag): the lock waits for it, on screen.
      await enrolled.close();
      await page.getByRole('link', { name: 'Verrouiller' }).click();
      await page.getByLabel('Message affiché sur l’écran').fill('Tablette verrouillée : rapportez-la à l’accueil.');
      await page.getByRole('button', { name: 'Verrouiller la tablette' }).click();
      const notice = page.getByRole('status').filter({ hasText: 'La commande a été envoyée' });
      await eventually(async () => expect(await isFocused(notice)).toBe(true));
      const row = page.getByRole('row', { name: /Verrouillage/ });
      await visible(row.getByText('En attente'));
      await enrolled.connect();
      await visible(row.getByText('Réussie'), LIVE_MS + 10_000);
      await eventually(async () => expect(await text(page.locator('#device-live-status'))).toBe('Verrouillage : Réussie'));
    });

    it('wipes another tablet only once its name is typed exactly', async () => {
      const other = await w.tablet(schoolA, 2);
      const name = await nameOf(other.deviceId!);
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      await page.goto(`/console/devices/${other.deviceId}`);
      await page.getByRole('link', { name: 'Effacer…' }).click();
      await page.getByLabel('Nom de la tablette').fill(name.toLowerCase());
      await page.getByLabel('Motif').fill('Tablette volée');
      await page.getByRole('button', { name: 'Effacer définitivement la tablette' }).click();
      expect(await page.title()).toMatch(/^Erreur :/);
      const summary = page.getByRole('alert');
      expect(await isFocused(summary)).toBe(true);
      expect(await text(summary)).toContain('Le nom tapé ne correspond pas');
      expect(await page.getByLabel('Motif').inputValue()).toBe('Tablette volée');
      await summary.getByRole('link').click();
      expect(await isFocused(page.getByLabel('Nom de la tablette'))).toBe(true);
      await page.getByLabel('Nom de la tablette').fill(name);
      await page.getByRole('button', { name: 'Effacer définitivement la tablette' }).click();
      // The tablet confirms before it wipes itself, then the command succeeds: seen live on the page.
      await visible(page.getByRole('row', { name: /Effacement/ }).getByText('Réussie'), LIVE_MS + 20_000);
      await visible(page.locator('#state-title + dl').getByText('Effacée'), LIVE_MS);
      await page.reload();
      expect(await page.getByRole('link', { name: 'Verrouiller' }).count()).toBe(0);
      expect(await text(page.getByRole('main'))).toContain('elle ne reçoit plus de commandes');
    });

    it('uploads an Android package from the app catalog page and finds it listed', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Applications' }).click();
      const apk = await buildApk({ packageName: 'fr.agglo.dictee', versionCode: 3, signer: makeSigner('Agglo') });
      await page.getByLabel(/Fichier du paquet/).setInputFiles({ name: 'dictee.apk', mimeType: 'application/vnd.android.package-archive', buffer: apk });
      await page.getByRole('button', { name: 'Envoyer le paquet' }).click();
      await visible(page.getByRole('cell', { name: 'fr.agglo.dictee' }));
    });
  });

  describe('a school director', () => {
    it("sees the school's tablets, finds no action, and gets the same 404 for another school's tablet as for a missing one", async () => {
      const mine = await w.tablet(schoolA, 3);
      const theirs = await w.tablet(schoolB, 4);
      const page = await w.newPage();
      await w.signIn(page, 'director@example.org');
      await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Écoles' }).click();
      expect(await page.getByRole('link', { name: w.tree.schools[1]!.name }).count()).toBe(0);
      await page.getByRole('link', { name: w.tree.schools[0]!.name }).click();
      const name = await nameOf(mine.deviceId!);
      await page.getByRole('link', { name }).click();
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe(name);
      expect(await page.getByRole('heading', { name: 'Actions' }).count()).toBe(0);
      expect(await page.locator('a[href*="/actions/"]').count()).toBe(0);
      expect(await page.locator('form[method="post"]').evaluateAll((forms) => forms.map((f) => f.getAttribute('action')))).toEqual(['/console/logout']);

      const other = await page.goto(`/console/devices/${theirs.deviceId}`);
      expect(other!.status()).toBe(404);
      const otherText = await page.getByRole('main').textContent();
      const missing = await page.goto(`/console/devices/${randomUUID()}`);
      expect(missing!.status()).toBe(404);
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Page introuvable');
      expect(await page.getByRole('main').textContent()).toBe(otherText);
    });
  });

  describe('signing in through the identity provider', () => {
    /** The provider's own pages: its login form (any password), then its consent step. */
    async function throughProvider(email: string) {
      const page = await w.newPage();
      await page.goto('/console/login');
      await page.getByRole('link', { name: 'Se connecter avec Compte Agglo' }).click();
      await page.locator('input[name="login"]').fill(email);
      await page.locator('input[name="password"]').fill('anything');
      await page.locator('button[type="submit"]').click();
      await page.getByRole('button', { name: /continue/i }).click();
      return page;
    }

    it('opens a session for the account with the e-mail the provider vouches for', async () => {
      const page = await throughProvider('director@example.org');
      await page.waitForURL(/\/console\/dashboard$/);
      await visible(page.getByText('director@example.org'));
      const events = await w.t.infra.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'auth.login'));
      expect(events.some((e) => e.actorLabel === 'director@example.org' && (e.details as { method?: string }).method === 'oidc')).toBe(true);
    });

    it('refuses an e-mail that belongs to no Cartable account, and creates nobody', async () => {
      const page = await throughProvider('stranger@example.org');
      expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Connexion refusée');
      expect(await text(page.getByRole('main'))).toContain('Aucun compte Cartable actif ne correspond');
      expect(await page.context().cookies()).not.toContainEqual(expect.objectContaining({ name: 'cartable_session' }));
      const refused = await w.t.infra.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, 'auth.login_failed'), eq(auditEvents.outcome, 'failure')));
      expect(refused.some((e) => (e.details as { method?: string }).method === 'oidc')).toBe(true);
      expect(await w.t.services.users.listUsers(w.tree.org.id, { limit: 50 }).then((r) => r.items.map((u) => u.email))).not.toContain('stranger@example.org');
    });
  });
}
