import { eq } from 'drizzle-orm';
import { auditEvents, deviceLocations } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { expectAccessible } from './axe';
import { openConsoleWorld, type ConsoleWorld } from './console-world';
import { eventually, text } from './wait';

/**
 * Location in the console, in Chromium: a school's policy set through its form, the map of a
 * located tablet and its school's perimeter with no tile server reachable, the alerts list as a
 * director sees it (no position), and the auditor's privacy page. Each page passes axe.
 */
jest.setTimeout(180_000);

let w: ConsoleWorld;

beforeAll(async () => {
  w = await openConsoleWorld();
});
afterAll(async () => {
  await w?.close();
});
afterEach(() => {
  expect(w.cspViolations).toEqual([]);
});

it('sets a school policy, maps a tablet and its perimeter without tiles, hides positions from a director, and shows the auditor the register', async () => {
  const school = w.tree.schools[0]!;
  const agent = await w.tablet(school.id, 11);
  await w.t.infra.database.db.insert(deviceLocations).values({ deviceId: agent.deviceId!, lat: 45.764, lon: 4.8357, accuracyM: 12, provider: 'fused', fixTime: new Date(), source: 'locate' });
  const admin = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
  const fence = await w.t.app.inject({ method: 'POST', url: `/api/v1/schools/${school.id}/geofences`, headers: { authorization: `Bearer ${admin}` }, payload: { name: 'Cour de l’école', shape: { type: 'circle', center: { lat: 45.7641, lon: 4.8356 }, radiusM: 150 } } });
  expect(fence.statusCode).toBe(201);

  const page = await w.newPage();
  await w.signIn(page, 'admin@example.org');

  // The policy form: hours that end before they start are refused on the field, then a good one is saved.
  await page.goto(`/console/location/schools/${school.id}`);
  await expectAccessible(page, 'the location policy page');
  await page.getByLabel('Mode').selectOption('school_hours');
  await page.getByLabel('Intervalle (minutes)').fill('15');
  await page.getByLabel('Horaires de l’école').fill('1,2,4,5 16:30-08:30');
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await expect(text(page.locator('.error-message').first())).resolves.toContain('La politique n’est pas valable');
  await page.getByLabel('Horaires de l’école').fill('1,2,4,5 08:30-16:30');
  await page.getByLabel('Vacances et fermetures').fill('2026-12-19 2027-01-03');
  await page.getByRole('button', { name: 'Enregistrer' }).click();
  await eventually(async () => expect(await text(page.locator('#effective-title + p'))).toContain('Pendant le temps scolaire'));

  // The map: no tile server answers, the tablet and the perimeter are drawn all the same.
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto('/console/location/map');
  await eventually(async () => expect(await page.locator('path.map-device').count()).toBe(1), 15_000);
  expect(await page.locator('path.map-fence').count()).toBe(1);
  await eventually(async () => expect(await text(page.locator('#map-status'))).toContain('Le fond de carte n’a pas pu être chargé'), 15_000);
  await expectAccessible(page, 'the location map');
  expect(errors).toEqual([]);
  const reads = await w.t.infra.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'device.location.read'));
  expect(reads.some((e) => e.targetId === agent.deviceId && (e.details as { via?: string }).via === 'map')).toBe(true);

  // A director reaches the alerts page, told positions are not shown, and has no map.
  const director = await w.newPage();
  await w.signIn(director, 'director@example.org');
  await director.goto('/console/location');
  await expect(text(director.locator('main'))).resolves.toContain('Les positions ne sont pas affichées');
  expect(await director.getByRole('link', { name: 'Carte des tablettes localisées et des périmètres' }).count()).toBe(0);
  await expectAccessible(director, 'the alerts page');
  expect((await director.goto('/console/location/map'))!.status()).toBe(403);

  // The auditor: retention report and the register entry.
  const dpo = await w.newPage();
  await w.signIn(dpo, 'dpo@example.org');
  await dpo.goto('/console/privacy');
  await expect(text(dpo.locator('table caption'))).resolves.toContain('Données conservées');
  await expectAccessible(dpo, 'the privacy page');
  const register = await dpo.goto('/console/privacy/register.html');
  expect(register!.status()).toBe(200);
  await expect(text(dpo.locator('h1'))).resolves.toContain('MDM Cartable');
});
