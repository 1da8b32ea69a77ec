import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { commands, communes, deviceProfiles, organisations, schools, windowsDevices } from '../../server/infra/db/schema';
import { buildMsi, buildMsix } from '../fixtures/apps/windows-packages';
import { createPrincipalToken } from '../helpers/auth';
import { WindowsDevice, type Transport } from '../helpers/windows-device';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Profiles and apps reaching a Windows tablet through OMA-DM: a profile assigned to the school
 * before the tablet enrolls is installed in its first session; an MSI and an MSIX from the catalog
 * are installed from their signed URLs (the MSI's SHA-256 checked by the tablet); an unassignment
 * deletes what the install put in place.
 */
const PUBLIC_URL = 'https://mdm.agglo.example.fr';
const TEMPLATES = join(__dirname, '..', '..', 'profiles');
const template = (name: string) => JSON.parse(readFileSync(join(TEMPLATES, `${name}.json`), 'utf8')) as Record<string, unknown>;

let env: TestEnv;
let t: TestApp;
let admin: string;
let base = '';
let school: { id: string };
const db = () => t.infra.database.db;

const transport: Transport = async (method, url, body, headers) => {
  const r = await fetch(`${base}${url}`, { method, body, headers });
  return { status: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) };
};

async function api(method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, payload?: object | Buffer, contentType?: string) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}`, ...(contentType ? { 'content-type': contentType } : {}) }, ...(payload ? { payload } : {}) });
  return { status: res.statusCode, body: res.json() };
}

async function enrollTablet(): Promise<{ device: WindowsDevice; deviceId: string }> {
  const token = await api('POST', '/enrollment-tokens', { schoolId: school.id, label: 'Chariot', maxUses: 5 });
  const { userName, pin } = (await api('POST', `/enrollment-tokens/${token.body.enrollmentToken.id}/windows-pin`)).body;
  const device = new WindowsDevice(transport, base);
  // The tablet reaches the public address the signed URLs name through the test server.
  device.download = async (url) => {
    const r = await fetch(`${base}${url.slice(PUBLIC_URL.length)}`);
    return r.ok ? Buffer.from(await r.arrayBuffer()) : null;
  };
  expect((await device.enroll(userName, pin)).status).toBe(200);
  const [row] = await db().select().from(windowsDevices).where(eq(windowsDevices.windowsDeviceId, device.windowsDeviceId));
  return { device, deviceId: row!.deviceId };
}

const verbs = (log: { executed: { verb: string; items: { locUri: string }[]; code: number }[] }) => log.executed.map((e) => `${e.verb} ${e.items[0]!.locUri} ${e.code}`);
const commandOf = async (deviceId: string, kind: string) => (await db().select().from(commands).where(eq(commands.deviceId, deviceId))).filter((c) => c.kind === kind).at(-1)!;

beforeAll(async () => {
  env = await createTestEnv({ CARTABLE_PUBLIC_URL: PUBLIC_URL });
  t = await startTestApp(env, { listen: true });
  const address = t.app.server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const tag = randomUUID().slice(0, 8);
  const [org] = await db().insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning();
  const [commune] = await db().insert(communes).values({ organisationId: org!.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  school = (await db().insert(schools).values({ organisationId: org!.id, communeId: commune!.id, code: `E${tag}`, name: 'École Jaurès' }).returning())[0]!;
  admin = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: org!.id });
}, 60_000);

afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

describe('profiles and apps on a Windows tablet', () => {
  let tablet: { device: WindowsDevice; deviceId: string };
  let profileId: string;
  let assignmentId: string;

  test('a profile assigned to the school is installed in the first session after enrollment', async () => {
    profileId = (await api('POST', '/profiles', template('wifi-ecole'))).body.profile.id;
    assignmentId = (await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: school.id })).body.assignment.id;
    tablet = await enrollTablet();
    const log = await tablet.device.session();
    expect(verbs(log)).toContain('Add ./Vendor/MSFT/WiFi/Profile/ECOLE-PEDAGO/WlanXml 200');
    expect(await commandOf(tablet.deviceId, 'install_profile')).toMatchObject({ status: 'succeeded', origin: 'profile' });
    const [piece] = await db().select().from(deviceProfiles).where(eq(deviceProfiles.deviceId, tablet.deviceId));
    expect(piece).toMatchObject({ profileId, slug: 'wifi-ecole', status: 'installed' });
    expect((await api('GET', `/devices/${tablet.deviceId}/desired-state`)).body).toMatchObject({ status: 'compliant', mismatches: [] });
    expect((await api('GET', `/profiles/${profileId}/compliance`)).body).toMatchObject({ compliant: 1 });
  });

  test('an MSI from the catalog is downloaded from its signed URL, its SHA-256 checked, and installed', async () => {
    const msi = buildMsi({ ProductCode: '{6f1c2a4e-8b9d-4c3e-a1f2-0b1c2d3e4f50}', ProductVersion: '24.1.3', ProductName: 'Atelier de lecture', Manufacturer: 'Éditions Test' });
    const uploaded = await api('POST', '/apps/packages', msi, 'application/x-msi');
    expect(uploaded.status).toBe(201);
    const bulk = await api('POST', '/commands/bulk', { kind: 'install_app', params: { appVersionId: uploaded.body.version.id }, target: { schoolId: school.id } });
    expect(bulk.status).toBe(201);
    const log = await tablet.device.session();
    const node = './Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B6F1C2A4E-8B9D-4C3E-A1F2-0B1C2D3E4F50%7D/DownloadInstall';
    expect(verbs(log)).toEqual([`Add ${node} 200`, `Exec ${node} 200`]);
    expect(log.executed[1]!.items[0]!.data).toContain(`<FileHash>${uploaded.body.version.sha256.toUpperCase()}</FileHash>`);
    expect(tablet.device.installedApps.has('{6F1C2A4E-8B9D-4C3E-A1F2-0B1C2D3E4F50}')).toBe(true);
    expect(await commandOf(tablet.deviceId, 'install_app')).toMatchObject({ status: 'succeeded' });

    const removal = await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'remove_app', params: { appId: uploaded.body.app.id } });
    expect(removal.status).toBe(201);
    expect(verbs(await tablet.device.session())).toEqual(['Delete ./Device/Vendor/MSFT/EnterpriseDesktopAppManagement/MSI/%7B6F1C2A4E-8B9D-4C3E-A1F2-0B1C2D3E4F50%7D 200']);
    expect(tablet.device.installedApps.size).toBe(0);
  });

  test('an MSI whose file does not match its hash fails with the tablet\u2019s status', async () => {
    const msi = buildMsi({ ProductCode: '{11111111-2222-3333-4444-555555555555}', ProductVersion: '1.0.0', ProductName: 'Altéré' });
    const uploaded = await api('POST', '/apps/packages', msi, 'application/x-msi');
    tablet.device.download = async () => Buffer.from('not the catalogued file');
    await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: uploaded.body.version.id } });
    await tablet.device.session();
    expect(await commandOf(tablet.deviceId, 'install_app')).toMatchObject({ status: 'failed', errorCode: 'windows_status_500' });
  });

  test('an MSIX is installed through EnterpriseModernAppManagement; iPad apps and lock are refused up front', async () => {
    const msix = await buildMsix({ name: 'Contoso.Lecture', publisher: 'CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US', version: '2.0.1.0' });
    const uploaded = await api('POST', '/apps/packages', msix, 'application/octet-stream');
    expect(uploaded.status).toBe(201);
    await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: uploaded.body.version.id } });
    const log = await tablet.device.session();
    expect(verbs(log)).toEqual(['Add ./Device/Vendor/MSFT/EnterpriseModernAppManagement/AppInstallation/Contoso.Lecture_8wekyb3d8bbwe 200', 'Exec ./Device/Vendor/MSFT/EnterpriseModernAppManagement/AppInstallation/Contoso.Lecture_8wekyb3d8bbwe/HostedInstall 200']);
    expect(log.executed[1]!.items[0]!.data).toMatch(/^<Application PackageUri="https:\/\/mdm\.agglo\.example\.fr\/api\/v1\/app-files\/[0-9a-f]{64}\?expires=\d+&amp;sig=/);

    const ipadApp = await api('POST', '/apps', { platform: 'ios', kind: 'app_store', bundleId: 'fr.ecole.calcul', storeId: 42, name: 'Calcul' });
    const refused = await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: ipadApp.body.version.id } });
    expect(refused).toMatchObject({ status: 422, body: { code: 'app_platform_mismatch' } });
    expect(await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'lock' })).toMatchObject({ status: 422, body: { code: 'kind_not_supported_on_platform' } });
  });

  test('unassigning deletes what the profile put in place', async () => {
    const removed = await api('DELETE', `/profiles/${profileId}/assignments/${assignmentId}`);
    expect(removed.body.rollout).toMatchObject({ changed: 1, commands: 1 });
    const log = await tablet.device.session();
    expect(verbs(log)).toContain('Delete ./Vendor/MSFT/WiFi/Profile/ECOLE-PEDAGO 200');
    expect(await db().select().from(deviceProfiles).where(eq(deviceProfiles.deviceId, tablet.deviceId))).toEqual([]);
    expect((await api('GET', `/devices/${tablet.deviceId}/desired-state`)).body).toMatchObject({ status: 'compliant', desired: { profiles: [] } });
  });
});
