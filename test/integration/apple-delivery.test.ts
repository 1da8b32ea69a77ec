import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { commands, deviceProfiles } from '../../server/infra/db/schema';
import type { AppleDevice } from '../helpers/apple-device';
import type { TestApp } from '../helpers/test-env';
import { openAppleMdmWorld, type AppleMdmWorld } from '../helpers/apple-world';

/**
 * Profiles and apps reaching an iPad through Apple MDM: a profile assigned to the school before
 * the iPad enrolls is installed at enrollment and checked with ProfileList; an App Store app sent
 * to the school is installed; a failed install shows as failed with the iPad's error; an
 * unassignment removes the profile.
 */
const TEMPLATES = join(__dirname, '..', '..', 'profiles');
const template = (name: string) => JSON.parse(readFileSync(join(TEMPLATES, `${name}.json`), 'utf8')) as Record<string, unknown>;

let w: AppleMdmWorld;
let t: TestApp;
let admin: string;
let school: { id: string };
const db = () => t.infra.database.db;

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
}

const enrollIpad = () => w.enrolled();

const requestTypes = (device: AppleDevice) => device.executed.splice(0).map((c) => c.Command.RequestType);
const commandsOf = (deviceId: string) => db().select().from(commands).where(eq(commands.deviceId, deviceId));

beforeAll(async () => {
  w = await openAppleMdmWorld('École Jean Moulin');
  ({ t, admin, school } = w);
}, 60_000);

afterAll(async () => w?.close());

describe('profiles and apps on an iPad', () => {
  let ipad: { device: AppleDevice; deviceId: string };
  let profileId: string;
  let assignmentId: string;

  test('a profile assigned to the school is installed when the iPad enrolls, and checked with ProfileList', async () => {
    const created = await api('POST', '/profiles', template('restrictions-eleves'));
    expect(created.status).toBe(201);
    profileId = created.body.profile.id;
    const assigned = await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: school.id });
    expect(assigned.status).toBe(201);
    assignmentId = assigned.body.assignment.id;

    ipad = await enrollIpad();
    await ipad.device.connect();
    expect(requestTypes(ipad.device)).toEqual(['DeviceInformation', 'InstalledApplicationList', 'InstallProfile', 'ProfileList']);
    expect([...ipad.device.profiles.keys()]).toEqual(['fr.cartable.profile.restrictions-eleves']);

    const [piece] = await db().select().from(deviceProfiles).where(eq(deviceProfiles.deviceId, ipad.deviceId));
    expect(piece).toMatchObject({ profileId, slug: 'restrictions-eleves', version: 1, status: 'installed', verifiedAt: expect.any(Date) });
    const state = await api('GET', `/devices/${ipad.deviceId}/desired-state`);
    expect(state.body).toMatchObject({ status: 'compliant', mismatches: [], desired: { profiles: [{ id: profileId, version: 1, status: 'applied' }] } });
    expect((await api('GET', `/profiles/${profileId}/compliance`)).body).toMatchObject({ devices: 1, compliant: 1, pending: 0, failed: 0 });
  });

  test('an edit sends the new version once; assigning again sends nothing', async () => {
    const again = await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: school.id });
    expect(again.body.created).toBe(false);
    const edited = await api('PUT', `/profiles/${profileId}`, { ...template('restrictions-eleves'), restrictions: { camera: false } });
    expect(edited.body.rollout).toMatchObject({ state: 'done', changed: 1, commands: 1 });
    expect((await api('GET', `/devices/${ipad.deviceId}/desired-state`)).body.status).toBe('pending');
    await ipad.device.connect();
    expect(requestTypes(ipad.device)).toEqual(['InstallProfile', 'ProfileList']);
    expect((await api('GET', `/profiles/${profileId}/compliance`)).body).toMatchObject({ version: 2, compliant: 1 });
  });

  test('an App Store app sent to the school is installed on the iPad', async () => {
    const app = await api('POST', '/apps', { platform: 'ios', kind: 'app_store', bundleId: 'fr.ecole.calcul', storeId: 1234567890, name: 'Calcul mental' });
    expect(app.status).toBe(201);
    ipad.device.store.set(1234567890, { Identifier: 'fr.ecole.calcul', Name: 'Calcul mental', ShortVersion: '3.1' });
    const bulk = await api('POST', '/commands/bulk', { kind: 'install_app', params: { appVersionId: app.body.version.id }, target: { schoolId: school.id } });
    expect(bulk.status).toBe(201);
    await ipad.device.connect();
    const [install] = ipad.device.executed.splice(0);
    expect(install!.Command).toMatchObject({ RequestType: 'InstallApplication', iTunesStoreID: 1234567890, ManagementFlags: 1, Options: { PurchaseMethod: 0 } });
    const row = (await commandsOf(ipad.deviceId)).find((c) => c.kind === 'install_app')!;
    expect(row).toMatchObject({ status: 'succeeded', result: { identifier: 'fr.ecole.calcul', state: 'Installing' } });

    await api('POST', `/devices/${ipad.deviceId}/commands`, { kind: 'refresh_apps' });
    await ipad.device.connect();
    expect(requestTypes(ipad.device)).toEqual(['InstalledApplicationList']);
    const apps = await api('GET', `/devices/${ipad.deviceId}/apps`);
    expect(apps.body.items.map((a: { identifier: string }) => a.identifier)).toContain('fr.ecole.calcul');

    const removal = await api('POST', `/devices/${ipad.deviceId}/commands`, { kind: 'remove_app', params: { appId: app.body.app.id } });
    expect(removal.status).toBe(201);
    await ipad.device.connect();
    expect(ipad.device.executed.splice(0).map((c) => c.Command)).toEqual([{ RequestType: 'RemoveApplication', Identifier: 'fr.ecole.calcul' }]);
  });

  test('an Android package is not sent to an iPad', async () => {
    const res = await api('POST', `/devices/${ipad.deviceId}/commands`, { kind: 'remove_app', params: { packageName: 'fr.ecole.lecture' } });
    expect(res.status).toBe(201);
    await ipad.device.connect();
    expect(ipad.device.executed.splice(0).map((c) => c.Command)).toEqual([{ RequestType: 'RemoveApplication', Identifier: 'fr.ecole.lecture' }]);
  });

  test('an install the iPad refuses shows as failed with its error', async () => {
    const other = await api('POST', '/profiles', template('wifi-ecole'));
    ipad.device.failing.add('InstallProfile');
    await api('POST', `/profiles/${other.body.profile.id}/assignments`, { scopeType: 'school', scopeId: school.id });
    await ipad.device.connect();
    ipad.device.failing.delete('InstallProfile');
    expect(requestTypes(ipad.device)).toEqual(['ProfileList']);
    const state = await api('GET', `/devices/${ipad.deviceId}/desired-state`);
    expect(state.body.status).toBe('failed');
    expect(state.body.mismatches).toEqual([expect.objectContaining({ reason: 'rejected', profileId: other.body.profile.id, details: [{ code: 'MCMDMErrorDomain:12021', message: 'Unknown command' }] })]);
    expect((await api('GET', `/profiles/${other.body.profile.id}/compliance`)).body).toMatchObject({ failed: 1 });
    // Deleted, it is removed all the same (an install may fail half-way on other platforms), and the state is whole again.
    await api('DELETE', `/profiles/${other.body.profile.id}`);
    await ipad.device.connect();
    expect(requestTypes(ipad.device)).toEqual(['RemoveProfile', 'ProfileList']);
    expect((await api('GET', `/devices/${ipad.deviceId}/desired-state`)).body.status).toBe('compliant');
  });

  test('unassigning removes the profile from the iPad', async () => {
    const removed = await api('DELETE', `/profiles/${profileId}/assignments/${assignmentId}`);
    expect(removed.body.rollout).toMatchObject({ changed: 1, commands: 1 });
    await ipad.device.connect();
    expect(requestTypes(ipad.device)).toEqual(['RemoveProfile', 'ProfileList']);
    expect(ipad.device.profiles.size).toBe(0);
    expect(await db().select().from(deviceProfiles).where(eq(deviceProfiles.deviceId, ipad.deviceId))).toEqual([]);
    const state = await api('GET', `/devices/${ipad.deviceId}/desired-state`);
    expect(state.body).toMatchObject({ status: 'compliant', mismatches: [], desired: { profiles: [] } });
  });
});
