import { eq } from 'drizzle-orm';
import type { Page } from 'playwright-core';
import { deviceLocations, sessions, users } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { axeViolations, expectAccessible } from './axe';
import type { ConsoleWorld } from './console-world';
import { createPrincipalToken } from '../helpers/auth';
import { eventually, isFocused, text } from './wait';

/**
 * Every page of the console through axe-core (WCAG 2.1 AA, RGAA 4 rules, best practices): no
 * serious or critical violation. axe finds only part of what RGAA asks, so keyboard use, focus
 * after an action and status messages are checked by hand too.
 */
export function accessibilityTests(world: () => ConsoleWorld): void {
  let w: ConsoleWorld;
  let deviceId: string;
  let tokenId: string;
  let userId: string;
  let profileId: string;
  let appId: string;

  beforeAll(async () => {
    w = world();
    const school = w.tree.schools[0]!.id;
    const agent = await w.tablet(school, 7);
    deviceId = agent.deviceId!;
    await w.t.infra.database.db.insert(deviceLocations).values({ deviceId, lat: 45.764, lon: 4.8357, accuracyM: 12, provider: 'fused', fixTime: new Date(), source: 'locate' });
    const created = await w.t.services.enrollment.createToken({ all: true, organisationId: w.tree.org.id }, SYSTEM_ACTOR, { schoolId: school, label: 'Classe mobile 2' });
    tokenId = created.view.id;
    userId = (await w.t.infra.database.db.select().from(users).where(eq(users.email, 'director@example.org')))[0]!.id;
    // A profile assigned to the tablet's school, and an iPad app: the catalog pages have something to show.
    const admin = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
    const api = async (url: string, payload: object) => (await w.t.app.inject({ method: 'POST', url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, payload })).json();
    profileId = (await api('/profiles', { schemaVersion: 1, id: 'verrouillage', name: 'Verrouillage', lockScreenMessage: 'Tablette de l’école' })).profile.id;
    await api(`/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: school });
    appId = (await api('/apps', { platform: 'ios', kind: 'app_store', bundleId: 'fr.example.lecture', storeId: 42, name: 'Lecture' })).app.id;
    await api(`/apps/${appId}/assignments`, { scopeType: 'school', scopeId: school });
  });

  async function check(page: Page, path: string | null, what: string) {
    if (path) {
      const response = await page.goto(path);
      expect([what, response!.status()]).toEqual([what, what.startsWith('404') ? 404 : 200]);
    }
    await expectAccessible(page, what);
  }

  describe('axe-core on every page', () => {
    it('finds no serious or critical violation on the pages of an administrator', async () => {
      const page = await w.newPage();
      await check(page, '/console/login', 'sign-in');
      await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
      await check(page, null, 'sign-in with errors');
      await w.signIn(page, 'admin@example.org');
      const pages: Array<[string, string]> = [
        ['/console/dashboard', 'dashboard'],
        ['/console/schools', 'schools'],
        [`/console/schools/${w.tree.schools[0]!.id}`, 'school inventory'],
        ['/console/devices?lostMode=on', 'inventory, filtered'],
        [`/console/devices/${deviceId}`, 'device'],
        [`/console/devices/${deviceId}/actions/lock`, 'lock confirmation'],
        [`/console/devices/${deviceId}/actions/lost_mode_on`, 'lost mode confirmation'],
        [`/console/devices/${deviceId}/actions/wipe`, 'wipe confirmation'],
        ['/console/enrollment', 'enrollment'],
        [`/console/enrollment/${tokenId}`, 'enrollment token and QR code'],
        [`/console/enrollment/${tokenId}/sheet`, 'printable enrollment sheet'],
        ['/console/profiles', 'profiles'],
        [`/console/profiles/${profileId}`, 'profile, its preview and assignments'],
        [`/console/profiles/${profileId}?platform=windows`, 'profile, Windows preview'],
        [`/console/profiles/${profileId}/edit`, 'profile editor'],
        ['/console/apps', 'app catalog'],
        [`/console/apps/${appId}`, 'app and its assignments'],
        ['/console/users', 'users'],
        [`/console/users/${userId}`, 'user and roles'],
        ['/console/tokens', 'API tokens'],
        ['/console/audit', 'audit trail'],
        ['/console/settings', 'organisation settings'],
        ['/console/settings/apple-push', 'iPad push certificate'],
        ['/console/password', 'password change'],
        ['/console/no-such-page', '404 page'],
      ];
      for (const [path, what] of pages) await check(page, path, what);

      await page.goto(`/console/devices/${deviceId}/actions/wipe`);
      await page.getByRole('button', { name: 'Effacer définitivement la tablette' }).click();
      await check(page, null, 'wipe confirmation with errors');
      await page.goto(`/console/devices/${deviceId}`);
      await page.getByRole('button', { name: 'Afficher la dernière position connue' }).click();
      await check(page, null, 'device with its position shown');
      await page.goto('/console/tokens');
      await page.getByLabel('Nom', { exact: false }).first().fill('Export');
      await page.getByRole('button', { name: 'Créer le jeton' }).click();
      await check(page, null, 'token shown once');

      const userOf = (await w.t.infra.database.db.select().from(users).where(eq(users.email, 'admin@example.org')))[0]!;
      await w.t.infra.database.db.update(sessions).set({ revokedAt: new Date() }).where(eq(sessions.userId, userOf.id));
      const expired = await page.goto('/console/dashboard');
      expect(expired!.status()).toBe(401);
      await check(page, null, 'session expired');
    });

    it('finds none on the English pages and on what a director and an auditor see', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'director@example.org');
      await check(page, `/console/devices/${deviceId}`, 'device, read-only');
      await check(page, `/console/profiles/${profileId}`, 'profile, read-only');
      await page.goto('/console/language?to=en&back=/console/dashboard');
      expect(await page.locator('html').getAttribute('lang')).toBe('en');
      await check(page, null, 'dashboard in English');
      const auditor = await w.newPage();
      await w.signIn(auditor, 'dpo@example.org');
      await check(auditor, '/console/audit', 'audit trail of an auditor');
    });

    it('fails on a page that has a serious violation', async () => {
      const page = await w.newPage();
      await page.setContent('<!doctype html><html><head><title>x</title></head><body><main><input type="text"><p style="color:#bbb;background:#fff">pâle</p><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main></body></html>');
      const ids = (await axeViolations(page)).filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => v.id);
      expect(ids).toEqual(expect.arrayContaining(['label', 'image-alt', 'color-contrast', 'html-has-lang']));
      await expect(expectAccessible(page, 'a broken page')).rejects.toThrow(/label/);
    });
  });

  describe('keyboard and status messages', () => {
    it('reaches the skip link first, and it moves the focus to the main content', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      await page.goto('/console/dashboard');
      await page.keyboard.press('Tab');
      expect(await text(page.locator(':focus'))).toBe('Aller au contenu');
      await page.keyboard.press('Enter');
      await eventually(async () => expect(await isFocused(page.getByRole('main'))).toBe(true));
    });

    it('runs an action with the keyboard alone, and puts the focus on its result', async () => {
      const page = await w.newPage();
      await w.signIn(page, 'tech@example.org');
      await page.goto(`/console/devices/${deviceId}`);
      const lock = page.getByRole('link', { name: 'Verrouiller' });
      await lock.focus();
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/actions\/lock$/);
      await page.getByLabel('Message affiché sur l’écran').focus();
      await page.keyboard.type('Merci de rapporter la tablette.');
      await page.keyboard.press('Tab');
      await page.keyboard.press('Tab');
      expect(await text(page.locator(':focus'))).toBe('Verrouiller la tablette');
      await page.keyboard.press('Enter');
      await page.waitForURL(new RegExp(`/console/devices/${deviceId}$`));
      const status = page.getByRole('status').filter({ hasText: 'La commande a été envoyée' });
      await eventually(async () => expect(await isFocused(status)).toBe(true));
    });
  });
}
