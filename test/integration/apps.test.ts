import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { and, eq } from 'drizzle-orm';
import { auditEvents } from '../../server/infra/db/schema';
import { createDownloadUrls } from '../../server/modules/apps/download-urls';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';
import { buildApk, makeSigner, type Signer } from '../fixtures/apps/android-packages';
import { buildMsi, buildMsix } from '../fixtures/apps/windows-packages';

/** Above the JSON body limit (1 MiB by default), which package uploads do not go through. */
const MAX_UPLOAD = 3 * 1024 * 1024;
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let admin: string;
let technician: string;
let director: string;
let otherAdmin: string;
let signer: Signer;
let stranger: Signer;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const storage = () => env.config.APP_STORAGE_DIR;

function upload(body: Buffer, token = admin, contentType = 'application/vnd.android.package-archive') {
  return t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${token}`, 'content-type': contentType }, payload: body });
}
function api(method: 'GET' | 'POST' | 'DELETE', url: string, token = admin, payload?: object) {
  return t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` }, payload });
}
async function audited(action: string, targetId: string) {
  return t.infra.database.db.select().from(auditEvents).where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, targetId)));
}

beforeAll(async () => {
  env = await createTestEnv({ APP_MAX_UPLOAD_BYTES: String(MAX_UPLOAD) });
  t = await startTestApp(env);
  tree = await createOrgTree(t.infra.database.db);
  const other = await createOrgTree(t.infra.database.db);
  admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
  technician = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'technician', scopeType: 'school', scopeId: tree.schools[0]!.id });
  director = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'director', scopeType: 'school', scopeId: tree.schools[0]!.id });
  otherAdmin = await createPrincipalToken(t.services, { organisationId: other.org.id, role: 'admin', scopeType: 'organisation' });
  signer = makeSigner('Cartable test developer');
  stranger = makeSigner('Someone else');
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

describe('Android packages', () => {
  let appId: string;
  let first: Buffer;

  it('reads package name, versionCode, versionName, signer and SHA-256 from an uploaded APK, stores it once under its hash, and audits it', async () => {
    first = await buildApk({ packageName: 'org.example.lecture', versionCode: 120, versionName: '1.2.0', label: 'Lecture', signer });
    const res = await upload(first, technician);
    expect(res.statusCode).toBe(201);
    const { app, version, created } = res.json();
    expect(created).toBe(true);
    expect(app).toMatchObject({ platform: 'android', kind: 'apk', identifier: 'org.example.lecture', name: 'Lecture', versionCount: 1, latestVersion: '120' });
    expect(version).toMatchObject({ version: '120', versionCode: 120, sha256: sha256(first), sizeBytes: first.length, signingCertSha256: signer.certSha256, metadata: { versionName: '1.2.0', signatureScheme: 'v1' } });
    appId = app.id;
    expect(existsSync(join(storage(), sha256(first).slice(0, 2), sha256(first)))).toBe(true);
    expect(await audited('app.create', appId)).toHaveLength(1);
    expect(await audited('app.version.create', appId)).toHaveLength(1);

    const again = await upload(first);
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ created: false, version: { id: version.id } });
    expect(await audited('app.version.create', appId)).toHaveLength(1);
  });

  it('reads the signer of an APK Signature Scheme v2 block, and takes a new version from the same signer', async () => {
    const next = await buildApk({ packageName: 'org.example.lecture', versionCode: 130, versionName: '1.3.0', signer, scheme: 'v2' });
    const res = await upload(next);
    expect(res.statusCode).toBe(201);
    expect(res.json().version).toMatchObject({ versionCode: 130, signingCertSha256: signer.certSha256, metadata: { signatureScheme: 'v2' } });
    const detail = (await api('GET', `/apps/${appId}`, technician)).json();
    expect(detail.versions.map((v: { version: string }) => v.version)).toEqual(['130', '120']);
  });

  it('refuses a new version signed with another certificate, as tablets would', async () => {
    const resigned = await buildApk({ packageName: 'org.example.lecture', versionCode: 140, signer: stranger });
    const res = await upload(resigned);
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ code: 'signer_mismatch' });
    expect(res.json().detail).toContain(stranger.certSha256);
  });

  it('refuses a truncated, an unsigned and an unknown file with the reason, and keeps nothing of them', async () => {
    const truncated = await upload(first.subarray(0, Math.floor(first.length * 0.6)));
    expect(truncated.statusCode).toBe(400);
    expect(truncated.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(truncated.json()).toMatchObject({ code: 'package_corrupt' });
    expect(truncated.json().detail).toMatch(/zip/i);

    const unsigned = await upload(await buildApk({ packageName: 'org.example.nosig', versionCode: 1, scheme: 'none' }));
    expect(unsigned.statusCode).toBe(400);
    expect(unsigned.json()).toMatchObject({ code: 'apk_unsigned' });

    const json = await t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${admin}` }, payload: { file: 'x' } });
    expect(json.json()).toMatchObject({ status: 400, code: 'upload_not_raw' });

    const text = await upload(Buffer.from('not a package at all'), admin, 'application/octet-stream');
    expect(text.json()).toMatchObject({ status: 400, code: 'package_unknown' });

    expect(readdirSync(join(storage(), 'tmp'))).toEqual([]);
    expect((await api('GET', '/apps')).json().map((a: { identifier: string }) => a.identifier)).not.toContain('org.example.nosig');
  });

  it('streams packages larger than the JSON body limit', async () => {
    const large = await buildApk({ packageName: 'org.example.videos', versionCode: 3, signer, payload: randomBytes(2 * 1024 * 1024).toString('base64') });
    expect(large.length).toBeGreaterThan(env.config.BODY_LIMIT_BYTES);
    const res = await upload(large);
    expect(res.statusCode).toBe(201);
    expect(res.json().version).toMatchObject({ sha256: sha256(large), sizeBytes: large.length });
  });

  it('refuses a body over APP_MAX_UPLOAD_BYTES with 413', async () => {
    const big = Buffer.alloc(MAX_UPLOAD + 1, 1);
    const res = await upload(big);
    expect(res.statusCode).toBe(413);
    expect(res.json()).toMatchObject({ code: 'upload_too_large' });
    expect(readdirSync(join(storage(), 'tmp'))).toEqual([]);

    // Without a Content-Length the limit is enforced while the body streams in.
    const chunks = Array.from({ length: 4 }, () => Buffer.alloc(MAX_UPLOAD / 2, 2));
    const streamed = await t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, payload: Readable.from(chunks) });
    expect(streamed.json()).toMatchObject({ status: 413, code: 'upload_too_large' });
    expect(readdirSync(join(storage(), 'tmp'))).toEqual([]);
  });

  it('lets a person download a version (audited) and keeps the catalog to its organisation and its permissions', async () => {
    const detail = (await api('GET', `/apps/${appId}`)).json();
    const v120 = detail.versions.find((v: { version: string }) => v.version === '120');
    const res = await api('GET', `/apps/${appId}/versions/${v120.id}/file`, technician);
    expect(res.statusCode).toBe(200);
    expect(sha256(res.rawPayload)).toBe(sha256(first));
    expect((await audited('app.version.download', appId)).map((e) => e.details)).toEqual([expect.objectContaining({ versionId: v120.id })]);

    expect((await api('GET', '/apps', director)).statusCode).toBe(403);
    expect((await upload(first, director)).statusCode).toBe(403);
    expect((await api('GET', `/apps/${appId}`, otherAdmin)).statusCode).toBe(404);
    expect((await api('GET', '/apps', otherAdmin)).json()).toEqual([]);
    expect((await api('DELETE', `/apps/${appId}`, otherAdmin)).statusCode).toBe(404);
  });
});

describe('signed download URLs', () => {
  let fileA: Buffer;
  let fileB: Buffer;
  beforeAll(async () => {
    fileA = await buildApk({ packageName: 'org.example.a', versionCode: 1, signer });
    fileB = await buildApk({ packageName: 'org.example.b', versionCode: 1, signer });
    expect((await upload(fileA)).statusCode).toBe(201);
    expect((await upload(fileB)).statusCode).toBe(201);
  });
  const urls = () => createDownloadUrls(t.infra.secrets.downloadKey, env.config.CARTABLE_PUBLIC_URL);
  const fetchUrl = (url: string) => t.app.inject({ method: 'GET', url: url.slice(env.config.CARTABLE_PUBLIC_URL.length) });

  it('serves the file to anyone holding the URL, without writing a person read', async () => {
    const before = (await t.infra.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'app.version.download'))).length;
    const res = await fetchUrl(urls().url(sha256(fileA), new Date(Date.now() + 60_000)));
    expect(res.statusCode).toBe(200);
    expect(sha256(res.rawPayload)).toBe(sha256(fileA));
    expect(Number(res.headers['content-length'])).toBe(fileA.length);
    expect((await t.infra.database.db.select().from(auditEvents).where(eq(auditEvents.action, 'app.version.download'))).length).toBe(before);
  });

  it('refuses an expired URL', async () => {
    const res = await fetchUrl(urls().url(sha256(fileA), new Date(Date.now() - 1000)));
    expect(res.statusCode).toBe(403);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json().code).toBe('download_expired');
  });

  it('refuses a URL for file A turned towards file B, and a later expiry written in by hand', async () => {
    const url = urls().url(sha256(fileA), new Date(Date.now() + 60_000));
    const towardsB = url.replace(sha256(fileA), sha256(fileB));
    expect((await fetchUrl(towardsB)).json()).toMatchObject({ status: 403, code: 'download_signature_invalid' });
    const extended = url.replace(/expires=(\d+)/, (_m, e) => `expires=${Number(e) + 86400}`);
    expect((await fetchUrl(extended)).json()).toMatchObject({ status: 403, code: 'download_signature_invalid' });
    const otherKey = createDownloadUrls(Buffer.alloc(32, 7), env.config.CARTABLE_PUBLIC_URL).url(sha256(fileB), new Date(Date.now() + 60_000));
    expect((await fetchUrl(otherKey)).statusCode).toBe(403);
  });
});

describe('Windows packages', () => {
  it('reads ProductCode, ProductVersion and ProductName from an MSI Property table', async () => {
    const msi = buildMsi({ ProductCode: '{6f1c2a4e-8b9d-4c3e-a1f2-0b1c2d3e4f50}', ProductVersion: '24.1.3', ProductName: 'Atelier de lecture', Manufacturer: 'Éditions Test', UpgradeCode: '{00000000-1111-2222-3333-444444444444}' });
    const res = await upload(msi, admin, 'application/x-msi');
    expect(res.statusCode).toBe(201);
    expect(res.json().app).toMatchObject({ platform: 'windows', kind: 'msi', identifier: '{6F1C2A4E-8B9D-4C3E-A1F2-0B1C2D3E4F50}', name: 'Atelier de lecture' });
    expect(res.json().version).toMatchObject({ version: '24.1.3', sha256: sha256(msi), metadata: { manufacturer: 'Éditions Test', productVersion: '24.1.3' } });
  });

  it('refuses an MSI without a ProductCode', async () => {
    const res = await upload(buildMsi({ ProductVersion: '1.0', ProductName: 'Sans code' }), admin, 'application/x-msi');
    expect(res.json()).toMatchObject({ status: 400, code: 'package_corrupt' });
  });

  it('names an MSIX by its package family name, with the publisher hash Windows computes', async () => {
    const msix = await buildMsix({ name: 'Contoso.Lecture', publisher: 'CN=Microsoft Corporation, O=Microsoft Corporation, L=Redmond, S=Washington, C=US', version: '2.0.1.0', displayName: 'Lecture Contoso' });
    const res = await upload(msix, admin, 'application/msix');
    expect(res.statusCode).toBe(201);
    expect(res.json().app).toMatchObject({ platform: 'windows', kind: 'msix', identifier: 'Contoso.Lecture_8wekyb3d8bbwe', name: 'Lecture Contoso' });
    expect(res.json().version).toMatchObject({ version: '2.0.1.0', metadata: { processorArchitecture: 'x64' } });
  });
});

describe('iPad apps and deletion', () => {
  it('enters App Store and in-house apps without any network lookup', async () => {
    const store = await api('POST', '/apps', technician, { platform: 'ios', kind: 'app_store', bundleId: 'com.example.ecrire', storeId: 1234567890, name: 'Écrire' });
    expect(store.statusCode).toBe(201);
    expect(store.json().app).toMatchObject({ platform: 'ios', kind: 'app_store', identifier: 'com.example.ecrire', metadata: { storeId: 1234567890 } });
    expect((await api('POST', '/apps', admin, { platform: 'ios', kind: 'app_store', bundleId: 'com.example.x', storeId: 1, name: 'X', extra: 1 })).statusCode).toBe(400);

    const inHouse = await api('POST', '/apps', admin, { platform: 'ios', kind: 'in_house', bundleId: 'fr.agglo.carnet', name: 'Carnet', version: '3.1', manifestUrl: 'https://apps.agglo.example/carnet/manifest.plist' });
    expect(inHouse.statusCode).toBe(201);
    expect(inHouse.json().version).toMatchObject({ version: '3.1', sha256: null, metadata: { manifestUrl: 'https://apps.agglo.example/carnet/manifest.plist' } });
    const plainHttp = await api('POST', '/apps', admin, { platform: 'ios', kind: 'in_house', bundleId: 'fr.agglo.carnet', name: 'Carnet', version: '3.2', manifestUrl: 'http://apps.agglo.example/m.plist' });
    expect(plainHttp.statusCode).toBe(400);
  });

  it('deletes a version and an app, audited', async () => {
    const apk = await buildApk({ packageName: 'org.example.gone', versionCode: 5, signer });
    const { app, version } = (await upload(apk)).json();
    expect((await api('DELETE', `/apps/${app.id}/versions/${version.id}`, technician)).statusCode).toBe(204);
    expect((await audited('app.version.delete', app.id)).map((e) => e.details)).toEqual([expect.objectContaining({ versionId: version.id })]);
    expect((await api('DELETE', `/apps/${app.id}`, technician)).statusCode).toBe(204);
    expect(await audited('app.delete', app.id)).toHaveLength(1);
    expect((await api('GET', `/apps/${app.id}`)).statusCode).toBe(404);
    expect((await api('DELETE', `/apps/${app.id}`)).statusCode).toBe(404);
  });
});
