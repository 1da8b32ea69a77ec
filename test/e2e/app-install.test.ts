import { createHash } from 'node:crypto';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { eq } from 'drizzle-orm';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { commands } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * install_app from the catalog to a simulated agent over real HTTP and WebSockets: the server
 * signs a URL for the file, the agent downloads it, checks size and SHA-256, and reports.
 */
let w: AgentWorld;
let technician: string;
let agent: SimulatedAgent;
const signer = makeSigner('Cartable e2e developer');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function api(method: 'GET' | 'POST', url: string, payload?: object | Buffer, contentType?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${technician}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await w.t.app.inject({ method, url: `/api/v1${url}`, headers, payload });
  return { status: res.statusCode, body: res.json() };
}

async function catalogVersion(packageName: string, versionCode: number) {
  const apk = await buildApk({ packageName, versionCode, signer, label: packageName });
  const res = await api('POST', '/apps/packages', apk, 'application/vnd.android.package-archive');
  expect(res.status).toBe(201);
  return { apk, versionId: res.body.version.id as string, sha256: res.body.version.sha256 as string };
}

const finalState = (id: string) =>
  until(async () => {
    const [row] = await w.t.infra.database.db.select().from(commands).where(eq(commands.id, id));
    return row && ['succeeded', 'failed', 'expired'].includes(row.status) ? row : null;
  }, 15_000);

beforeAll(async () => {
  w = await startAgentWorld();
  technician = await createPrincipalToken(w.t.services, { organisationId: w.tree.org.id, role: 'technician', scopeType: 'organisation' });
  agent = newAgent(w, { index: 7 });
  await agent.enroll();
  await agent.connect();
  await until(() => agent.state.outbox.length === 0);
});
afterAll(async () => {
  await agent?.close();
  await w?.close();
});

describe('install_app from the catalog', () => {
  it('sends a signed URL, hash, size and signer; the agent downloads, checks and reports the version installed', async () => {
    const { apk, versionId } = await catalogVersion('org.example.calcul', 31);
    const issued = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: versionId }, expiresInSec: 3600 });
    expect(issued.status).toBe(201);
    const url = new URL(issued.body.params.url as string);
    expect(url.origin).toBe(w.url);
    expect(Number(url.searchParams.get('expires')) * 1000).toBe(Math.ceil(Date.parse(issued.body.expiresAt) / 1000) * 1000);
    expect(issued.body.params).toMatchObject({ packageName: 'org.example.calcul', versionCode: 31, sha256: sha256(apk), sizeBytes: apk.length, signingCertSha256: [signer.certSha256] });

    const row = await finalState(issued.body.id);
    expect(row).toMatchObject({ status: 'succeeded', result: { versionCode: 31 } });
    expect(agent.appsReport().apps).toEqual(expect.arrayContaining([expect.objectContaining({ packageName: 'org.example.calcul', versionCode: 31 })]));
    // The agent reported its new app list: the device's apps show it.
    await until(async () => {
      const apps = await api('GET', `/devices/${agent.deviceId}/apps`);
      return JSON.stringify(apps.body).includes('org.example.calcul');
    });
  });

  it('reaches devices through the bulk API too', async () => {
    const { versionId } = await catalogVersion('org.example.dictee', 4);
    const bulk = await api('POST', '/commands/bulk', { kind: 'install_app', params: { appVersionId: versionId }, target: { deviceIds: [agent.deviceId] } });
    expect(bulk.status).toBe(201);
    expect(bulk.body).toMatchObject({ created: 1, skipped: [] });
    const [row] = await until(async () => {
      const rows = await w.t.infra.database.db.select().from(commands).where(eq(commands.batchId, bulk.body.batchId));
      return rows.length && rows.every((r) => r.status === 'succeeded') ? rows : null;
    }, 15_000);
    expect(row!.result).toEqual({ versionCode: 4 });
  });

  it('makes the agent report failure when the file it downloads is not the one the command names', async () => {
    const { apk, versionId, sha256: hash } = await catalogVersion('org.example.geometrie', 9);
    // The stored file is altered behind the catalog's back (same size, other bytes).
    const tampered = Buffer.from(apk);
    tampered[tampered.length - 30] = tampered[tampered.length - 30]! ^ 0xff;
    writeFileSync(`${w.env.config.APP_STORAGE_DIR}/${hash.slice(0, 2)}/${hash}`, tampered);
    const issued = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: versionId } });
    const row = await finalState(issued.body.id);
    expect(row).toMatchObject({ status: 'failed', errorCode: 'INVALID_VALUE' });
    expect(row.errorMessage).toContain('SHA-256 mismatch');
    expect(agent.appsReport().apps.map((a) => a.packageName)).not.toContain('org.example.geometrie');
  });

  it('refuses install_app of an app for another platform, or of no catalog version', async () => {
    const store = await api('POST', '/apps', { platform: 'ios', kind: 'in_house', bundleId: 'fr.agglo.carnet', name: 'Carnet', version: '1', manifestUrl: 'https://apps.example/m.plist' });
    const iosVersion = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: store.body.version.id } });
    expect(iosVersion).toMatchObject({ status: 422, body: { code: 'app_platform_mismatch' } });
    const unknown = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'install_app', params: { appVersionId: '00000000-0000-4000-8000-000000000000' } });
    expect(unknown.status).toBe(404);
    expect((await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'install_app', params: { url: 'https://evil.example/x.apk' } })).status).toBe(400);
  });

  it('keeps nothing of an upload the client abandons halfway', async () => {
    const apk = await buildApk({ packageName: 'org.example.interrompu', versionCode: 1, signer });
    const tmp = `${w.env.config.APP_STORAGE_DIR}/tmp`;
    const req = request(`${w.url}/api/v1/apps/packages`, { method: 'POST', headers: { authorization: `Bearer ${technician}`, 'content-type': 'application/octet-stream', 'content-length': String(apk.length) } });
    req.on('error', () => undefined);
    req.write(apk.subarray(0, apk.length >> 1));
    await until(() => existsSync(tmp) && readdirSync(tmp).length > 0);
    req.destroy();
    await until(() => readdirSync(tmp).length === 0);
    expect((await api('GET', '/apps')).body.map((a: { identifier: string }) => a.identifier)).not.toContain('org.example.interrompu');
  });

  it('removes an app with remove_app', async () => {
    const issued = await api('POST', `/devices/${agent.deviceId}/commands`, { kind: 'remove_app', params: { packageName: 'org.example.calcul' } });
    expect(issued.status).toBe(201);
    expect(await finalState(issued.body.id)).toMatchObject({ status: 'succeeded' });
    expect(agent.appsReport().apps.map((a) => a.packageName)).not.toContain('org.example.calcul');
  });
});
