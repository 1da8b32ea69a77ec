import { apps, campaigns } from '../../server/infra/db/schema';
import { expectAccessible } from './axe';
import { openConsoleWorld, type ConsoleWorld } from './console-world';
import { eventually, text, visible } from './wait';

/**
 * A technician plans a campaign in the browser: the dry run before the start, then the live
 * progress of the wave and the school without reloading, and the controls; every page passes axe.
 */
jest.setTimeout(180_000);

let w: ConsoleWorld;

beforeAll(async () => {
  w = await openConsoleWorld();
  await w.t.infra.database.db.insert(apps).values({ organisationId: w.tree.org.id, platform: 'android', kind: 'apk', identifier: 'org.example.lecture', name: 'Lecture' });
  await w.tablet(w.tree.schools[0]!.id, 1);
});
afterAll(async () => {
  await w?.close();
});
afterEach(() => {
  expect(w.cspViolations).toEqual([]);
});

it('creates a campaign, reads its dry run, starts it, watches it finish, in French and accessibly', async () => {
  const page = await w.newPage();
  await w.signIn(page, 'tech@example.org');
  await page.getByRole('navigation', { name: 'Menu principal' }).getByRole('link', { name: 'Campagnes' }).click();
  expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Campagnes de déploiement');
  await expectAccessible(page, 'the campaigns page');

  // A refusal names the field and keeps what was typed.
  await page.getByLabel('Nom').fill('Retrait de Lecture');
  await page.getByLabel('Tablettes par école en même temps').fill('0');
  await page.getByRole('button', { name: 'Enregistrer et voir l’aperçu' }).click();
  await visible(page.getByRole('alert'));
  expect(await page.getByLabel('Nom').inputValue()).toBe('Retrait de Lecture');
  await expectAccessible(page, 'the campaign form with an error');

  await page.getByLabel('Quoi déployer').selectOption({ label: 'Désinstaller l’application – Lecture' });
  await page.getByLabel('École', { exact: true }).selectOption({ label: w.tree.schools[0]!.name });
  await page.getByLabel('Créneaux autorisés').selectOption({ label: 'À toute heure' });
  await page.getByLabel('Tablettes par école en même temps').fill('2');
  await page.getByRole('button', { name: 'Enregistrer et voir l’aperçu' }).click();
  expect(await text(page.getByRole('heading', { level: 1 }))).toBe('Retrait de Lecture');
  await visible(page.getByRole('heading', { name: 'Aperçu avant lancement' }));
  await visible(page.getByText('1 tablette recevra ce déploiement.'));
  await expectAccessible(page, 'a draft campaign with its dry run');

  await page.getByRole('button', { name: 'Lancer la campagne' }).click();
  await visible(page.getByText('La campagne a été mise à jour.'));
  const [campaign] = await w.t.infra.database.db.select().from(campaigns);
  await page.evaluate(() => Object.assign(globalThis, { stillTheSamePage: true }));
  await eventually(async () => expect((await w.t.services.campaignEngine.advance(campaign!.id)).status).toBe('completed'), 20_000);
  await visible(page.getByText('1 réussies, 0 en échec', { exact: false }).first(), 10_000);
  expect(await page.evaluate(() => (globalThis as { stillTheSamePage?: boolean }).stillTheSamePage)).toBe(true);
  await visible(page.getByRole('progressbar', { name: /Toutes les écoles/ }));
  await expectAccessible(page, 'a completed campaign');
});
