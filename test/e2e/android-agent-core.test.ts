import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, desc, eq } from 'drizzle-orm';
import { commands, deviceCertificates, deviceLocations, devices } from '../../server/infra/db/schema';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { createPrincipalToken } from '../helpers/auth';
import { compileAgentCore, JavaAgent } from '../helpers/java-agent';
import { startTestApp } from '../helpers/test-env';
import { startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * The Android agent's protocol core (plain Java, the classes the APK ships) on the desktop JVM
 * against a real server: enrollment with its own CSR, the WebSocket session, every command kind
 * the agent announces end to end as the REST API sees them (apps from the catalog, profiles as
 * apply_policy), reboot, cancellation, a server restart with the outbox resent, the HTTPS
 * fallback when WebSockets are blocked, and certificate renewal with a new key.
 */
let w: AgentWorld;
let bearer: string;
let classpath: string;
const agents: JavaAgent[] = [];
const folders: string[] = [];

beforeAll(async () => {
  classpath = compileAgentCore();
  w = await startAgentWorld({ AGENT_HEARTBEAT_SEC: '5' });
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
}, 180_000);
afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill()));
  for (const f of folders) rmSync(f, { recursive: true, force: true });
  await w?.t.close();
  await w?.env.cleanup();
});

const api = (method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) => w.t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` }, payload });

function tablet(extra: Record<string, string> = {}, state = mkdtempSync(join(tmpdir(), 'cartable-java-agent-'))): JavaAgent & { state: string } {
  if (!folders.includes(state)) folders.push(state);
  const agent = Object.assign(new JavaAgent(classpath, { state, server: w.url, token: w.token, 'max-backoff-ms': '500', ...extra }), { state });
  agents.push(agent);
  return agent;
}

/** Waits for the agent's nth "connected" state; returns its device id. */
async function connected(agent: JavaAgent, nth = 1): Promise<string> {
  try {
    const lines = await until(() => {
      const seen = agent.find((l) => l.event === 'state' && l.state === 'connected');
      return seen.length >= nth && seen;
    }, 20_000);
    return String(lines[nth - 1]!.detail);
  } catch (e) {
    throw new Error(`the agent did not connect:\n${agent.transcript()}`, { cause: e });
  }
}

async function issue(deviceId: string, body: object): Promise<string> {
  const res = await api('POST', `/devices/${deviceId}/commands`, body);
  expect(res.statusCode).toBe(201);
  return (res.json() as { id: string }).id;
}

const command = async (id: string) => (await api('GET', `/commands/${id}`)).json() as { status: string; error: { code: string } | null; result: Record<string, unknown> | null };
async function finalStatus(id: string, status: string, timeoutMs = 15_000): Promise<void> {
  try {
    await until(async () => (await command(id)).status === status, timeoutMs);
  } catch (e) {
    const last = agents[agents.length - 1];
    throw new Error(`command ${id} is ${(await command(id)).status}, not ${status}; the agent said:\n${last?.transcript()}`, { cause: e });
  }
}
/** The outbox as the agent stored it in its state folder. */
const outbox = (state: string) => (JSON.parse(readFileSync(join(state, 'agent-state.json'), 'utf8')) as { outbox?: { type: string; body: { commandId?: string } }[] }).outbox ?? [];
const executions = (agent: JavaAgent, id: string) => agent.find((l) => l.event === 'executed' && l.commandId === id).length;

const signer = makeSigner('Cartable JVM e2e developer');
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** A real APK uploaded to the app catalog through the REST API. */
async function catalogVersion(packageName: string, versionCode: number): Promise<{ apk: Buffer; versionId: string }> {
  const apk = await buildApk({ packageName, versionCode, signer, label: packageName });
  const res = await w.t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/vnd.android.package-archive' }, payload: apk });
  expect(res.statusCode).toBe(201);
  return { apk, versionId: (res.json() as { version: { id: string } }).version.id };
}
const deviceApps = async (deviceId: string) => ((await api('GET', `/devices/${deviceId}/apps`)).json() as { items: { identifier: string; versionCode: number | null; updatedAt: string }[] }).items;
const desiredState = async (deviceId: string) =>
  (await api('GET', `/devices/${deviceId}/desired-state`)).json() as { status: string; applied: { version: number | null; nonCompliance: { fieldPath: string; reason: string }[] }; mismatches: { reason: string; details?: unknown }[] };
const PROFILE = JSON.parse(readFileSync(join(__dirname, '../../profiles/restrictions-eleves.json'), 'utf8')) as { restrictions: Record<string, boolean> };

describe('the Android agent core on the JVM against a real server', () => {
  let agent: JavaAgent & { state: string };
  let deviceId: string;

  it('enrolls with its own CSR, connects, announces its capabilities and sends its reports', async () => {
    agent = tablet();
    deviceId = await connected(agent);
    const device = (await api('GET', `/devices/${deviceId}`)).json() as { online: boolean; model: string | null };
    expect(device.online).toBe(true);
    await until(async () => (await api('GET', `/devices/${deviceId}`)).json().model === 'Desktop JVM', 10_000);
    const [row] = await w.t.infra.database.db.select({ capabilities: devices.capabilities }).from(devices).where(eq(devices.id, deviceId));
    expect(row!.capabilities).toEqual(expect.arrayContaining(['lock', 'wipe', 'reboot', 'locate', 'message']));
  }, 40_000);

  it.each([
    ['lock', { message: 'Tablette verrouillée par l’enseignant', phone: '+33 4 76 00 00 00' }],
    ['message', { title: 'Rangement', text: 'Merci de remettre les tablettes en charge.' }],
    ['refresh_inventory', {}],
    ['lost_mode_on', { message: 'Tablette perdue : rapportez-la à l’école' }],
    ['lost_mode_sound', {}],
    ['lost_mode_off', {}],
  ])('executes %s once and the REST API shows it succeeded', async (kind, params) => {
    const id = await issue(deviceId, { kind, params });
    await finalStatus(id, 'succeeded');
    if (kind !== 'refresh_inventory') {
      expect(executions(agent, id)).toBe(1);
      expect(agent.find((l) => l.commandId === id)[0]!.params).toEqual(params);
    }
  });

  it('refuses lost_mode_sound outside lost mode with INVALID_VALUE, without sounding', async () => {
    const id = await issue(deviceId, { kind: 'lost_mode_sound' });
    await finalStatus(id, 'failed');
    expect((await command(id)).error?.code).toBe('INVALID_VALUE');
    expect(executions(agent, id)).toBe(0);
  });

  it('sends its app list on refresh_apps before the result', async () => {
    const newest = async () => Math.max(...(await deviceApps(deviceId)).map((a) => Date.parse(a.updatedAt)));
    const before = await newest();
    const id = await issue(deviceId, { kind: 'refresh_apps' });
    await finalStatus(id, 'succeeded');
    expect(executions(agent, id)).toBe(0);
    expect(await newest()).toBeGreaterThan(before);
    expect((await deviceApps(deviceId)).map((a) => a.identifier)).toEqual(expect.arrayContaining(['fr.cartable.agent', 'org.example.lecture']));
  });

  it('while lost, reports its location periodically, also after a restart, and stops when lost mode ends', async () => {
    await agent.kill();
    agent = tablet({ 'lost-interval-ms': '1000' }, agent.state);
    await connected(agent);
    const on = await issue(deviceId, { kind: 'lost_mode_on', params: { message: 'Tablette perdue' } });
    await finalStatus(on, 'succeeded');
    const fixes = async () => (await w.t.infra.database.db.select({ id: deviceLocations.id }).from(deviceLocations).where(and(eq(deviceLocations.deviceId, deviceId), eq(deviceLocations.commandId, on)))).length;
    await until(async () => (await fixes()) >= 2, 15_000);
    // Lost mode lasts through a restart of the agent (a reboot of the tablet).
    await agent.kill();
    const before = await fixes();
    agent = tablet({ 'lost-interval-ms': '1000' }, agent.state);
    await connected(agent);
    await until(async () => (await fixes()) > before, 15_000);
    const off = await issue(deviceId, { kind: 'lost_mode_off' });
    await finalStatus(off, 'succeeded');
    await new Promise((r) => setTimeout(r, 300));
    const located = agent.find((l) => l.event === 'located').length;
    await new Promise((r) => setTimeout(r, 2500));
    expect(agent.find((l) => l.event === 'located').length).toBe(located);
  }, 60_000);

  it('locates on demand, and the server stores the fix', async () => {
    const id = await issue(deviceId, { kind: 'locate' });
    await finalStatus(id, 'succeeded');
    const location = await api('GET', `/devices/${deviceId}/location`);
    expect(location.json()).toMatchObject({ commandId: id, source: 'locate', accuracyM: 12.5 });
  });

  it('answers UNSUPPORTED to a kind it did not announce', async () => {
    // As if an older hello had announced shutdown, which this agent does not do.
    const [before] = await w.t.infra.database.db.select({ capabilities: devices.capabilities }).from(devices).where(eq(devices.id, deviceId));
    await w.t.infra.database.db.update(devices).set({ capabilities: [...before!.capabilities!, 'shutdown'] }).where(eq(devices.id, deviceId));
    const id = await issue(deviceId, { kind: 'shutdown' });
    await finalStatus(id, 'failed');
    expect((await command(id)).error?.code).toBe('UNSUPPORTED');
    expect(executions(agent, id)).toBe(0);
    await w.t.infra.database.db.update(devices).set({ capabilities: before!.capabilities }).where(eq(devices.id, deviceId));
  });

  it('installs an app uploaded to the catalog: downloads it by its signed URL, checks its SHA-256, and the device lists it', async () => {
    const { apk, versionId } = await catalogVersion('org.example.calcul', 31);
    const id = await issue(deviceId, { kind: 'install_app', params: { appVersionId: versionId } });
    await finalStatus(id, 'succeeded');
    expect((await command(id)).result).toEqual({ versionCode: 31 });
    // The agent's platform was handed the very file the catalog holds.
    expect(agent.find((l) => l.event === 'installed')).toEqual([expect.objectContaining({ packageName: 'org.example.calcul', versionCode: 31, sizeBytes: apk.length, sha256: sha256(apk) })]);
    expect(await deviceApps(deviceId)).toEqual(expect.arrayContaining([expect.objectContaining({ identifier: 'org.example.calcul', versionCode: 31 })]));
    // The same version again is already there: succeeded without a download.
    const again = await issue(deviceId, { kind: 'install_app', params: { appVersionId: versionId } });
    await finalStatus(again, 'succeeded');
    expect(agent.find((l) => l.event === 'installed')).toHaveLength(1);
  });

  it('refuses a corrupted download with INVALID_VALUE and installs nothing', async () => {
    const { apk, versionId } = await catalogVersion('org.example.geometrie', 9);
    // The stored file altered behind the catalog's back: same size, other bytes.
    const tampered = Buffer.from(apk);
    tampered[tampered.length - 30] = tampered[tampered.length - 30]! ^ 0xff;
    const hash = sha256(apk);
    writeFileSync(join(w.env.config.APP_STORAGE_DIR, hash.slice(0, 2), hash), tampered);
    const id = await issue(deviceId, { kind: 'install_app', params: { appVersionId: versionId } });
    await finalStatus(id, 'failed');
    const failed = await command(id);
    expect(failed.error).toMatchObject({ code: 'INVALID_VALUE', message: expect.stringContaining('SHA-256 mismatch') });
    expect(agent.find((l) => l.event === 'installed' && l.packageName === 'org.example.geometrie')).toHaveLength(0);
    expect((await deviceApps(deviceId)).map((a) => a.identifier)).not.toContain('org.example.geometrie');
  });

  it('removes an app, and the device no longer lists it', async () => {
    const id = await issue(deviceId, { kind: 'remove_app', params: { packageName: 'org.example.calcul' } });
    await finalStatus(id, 'succeeded');
    expect(executions(agent, id)).toBe(1);
    await until(async () => !(await deviceApps(deviceId)).some((a) => a.identifier === 'org.example.calcul'), 10_000);
  });

  let profileId: string;
  it('applies a profile assigned to its school as apply_policy; the desired state shows it compliant, with location off', async () => {
    const created = await api('POST', '/profiles', PROFILE);
    expect(created.statusCode).toBe(201);
    profileId = (created.json() as { profile: { id: string } }).profile.id;
    expect((await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'school', scopeId: w.tree.schools[0]!.id })).statusCode).toBe(201);
    const [policy] = await w.t.infra.database.db.select({ id: commands.id }).from(commands).where(and(eq(commands.deviceId, deviceId), eq(commands.kind, 'apply_policy'))).orderBy(desc(commands.createdAt)).limit(1);
    await finalStatus(policy!.id, 'succeeded');
    await until(async () => (await desiredState(deviceId)).status === 'compliant', 10_000);
    const state = await desiredState(deviceId);
    expect(state).toMatchObject({ applied: { nonCompliance: [] }, mismatches: [] });
    const applied = agent.find((l) => l.event === 'policy');
    expect(applied[applied.length - 1]).toMatchObject({ version: state.applied.version, policy: { cameraDisabled: false, installAppsDisabled: true } });
    // The school's location policy is off: no locationReporting, and no location stored but those of locate and lost mode.
    expect(applied[applied.length - 1]!.policy).not.toHaveProperty('locationReporting');
    await new Promise((r) => setTimeout(r, 1000));
    const stored = await w.t.infra.database.db.select({ commandId: deviceLocations.commandId }).from(deviceLocations).where(eq(deviceLocations.deviceId, deviceId));
    expect(stored.length).toBeGreaterThan(0);
    expect(stored.filter((l) => l.commandId === null)).toEqual([]);
  }, 30_000);

  it('shows a policy item the tablet could not apply as non-compliant', async () => {
    await agent.kill();
    agent = tablet({ 'failing-policy': 'cameraDisabled' }, agent.state);
    await connected(agent);
    const edited = await api('PUT', `/profiles/${profileId}`, { ...PROFILE, restrictions: { ...PROFILE.restrictions, camera: false } });
    expect(edited.statusCode).toBe(200);
    await until(async () => (await desiredState(deviceId)).status === 'failed', 15_000);
    const state = await desiredState(deviceId);
    expect(state.applied.nonCompliance).toEqual([{ fieldPath: '/cameraDisabled', reason: 'API_LEVEL' }]);
    expect(state.mismatches).toEqual([expect.objectContaining({ reason: 'non_compliant', details: [{ fieldPath: '/cameraDisabled', reason: 'API_LEVEL' }] })]);
  }, 30_000);

  it('reboots after the server holds "executing", and reports success once restarted with a new boot', async () => {
    const id = await issue(deviceId, { kind: 'reboot' });
    await until(() => executions(agent, id) === 1, 15_000);
    expect((await command(id)).status).toBe('executing');
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2' }, agent.state);
    expect(await connected(agent)).toBe(deviceId);
    await finalStatus(id, 'succeeded');
  }, 40_000);

  it('never executes a command cancelled while it waits its turn', async () => {
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2', 'hold-ms': '3000' }, agent.state);
    await connected(agent);
    const busy = await issue(deviceId, { kind: 'message', params: { text: 'Première' } });
    const waiting = await issue(deviceId, { kind: 'lock' });
    await until(async () => (await command(waiting)).status === 'acknowledged', 10_000);
    expect((await api('POST', `/commands/${waiting}/cancel`)).statusCode).toBe(200);
    await finalStatus(busy, 'succeeded');
    await new Promise((r) => setTimeout(r, 1000));
    expect(executions(agent, waiting)).toBe(0);
    expect((await command(waiting)).status).toBe('cancelled');
  }, 40_000);

  it('never executes a command that expired while it waited its turn', async () => {
    const busy = await issue(deviceId, { kind: 'message', params: { text: 'Longue' } });
    await until(() => executions(agent, busy) === 1, 10_000);
    const late = await issue(deviceId, { kind: 'message', params: { text: 'Trop tard' }, expiresInSec: 1 });
    await finalStatus(busy, 'succeeded');
    await finalStatus(late, 'expired');
    await new Promise((r) => setTimeout(r, 500));
    expect(executions(agent, late)).toBe(0);
  }, 40_000);

  it('keeps a result made while the server is down and sends it once the server is back', async () => {
    const id = await issue(deviceId, { kind: 'message', params: { text: 'Pendant la coupure' } });
    await until(() => executions(agent, id) === 1, 10_000);
    const port = Number(new URL(w.url).port);
    await w.t.close();
    await until(() => agent.find((l) => l.event === 'done' && l.commandId === id).length === 1, 10_000);
    // The result waits in the outbox the tablet stores.
    const resultsQueued = () => outbox(agent.state).filter((m) => m.type === 'command.result' && m.body.commandId === id);
    await until(() => resultsQueued().length === 1, 10_000);
    w.t = await startTestApp(w.env);
    await w.t.app.listen({ host: '127.0.0.1', port });
    await finalStatus(id, 'succeeded', 20_000);
    expect(executions(agent, id)).toBe(1);
    // Acked once delivered: it leaves the outbox, so it is not sent again.
    await until(() => resultsQueued().length === 0, 10_000);
  }, 60_000);

  it('answers a challenge that comes before its socket is handed over, as on a busy tablet', async () => {
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2', 'hand-over-delay-ms': '500' }, agent.state);
    await connected(agent);
    const id = await issue(deviceId, { kind: 'message', params: { text: 'Tablette occupée' } });
    await finalStatus(id, 'succeeded');
  });

  it('falls back to HTTPS when WebSockets are blocked, runs commands there, and returns to the WebSocket', async () => {
    const blocker = join(agent.state, 'block-ws');
    writeFileSync(blocker, '');
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2', 'block-ws': blocker, 'probe-ms': '4000' }, agent.state);
    await until(() => agent.find((l) => l.event === 'state' && l.state === 'fallback').length > 0, 30_000);
    const since = Date.now();
    await until(async () => Date.parse((await api('GET', `/devices/${deviceId}`)).json().lastSeenAt) >= since - 1000, 10_000);
    const id = await issue(deviceId, { kind: 'message', params: { text: 'Par HTTPS' } });
    await finalStatus(id, 'succeeded');
    expect(executions(agent, id)).toBe(1);
    rmSync(blocker);
    // The next probe reaches welcome: back on the WebSocket.
    await connected(agent);
    const lock = await issue(deviceId, { kind: 'lock' });
    await finalStatus(lock, 'succeeded');
  }, 60_000);

  it('renews its certificate with a new key, authenticates with it, then deletes the old key', async () => {
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2', renew: 'true' }, agent.state);
    await connected(agent);
    await until(() => agent.find((l) => l.event === 'log' && String(l.message).startsWith('new device certificate')).length > 0, 15_000);
    await agent.kill();
    agent = tablet({ 'boot-id': 'boot-2' }, agent.state);
    await connected(agent);
    await until(() => agent.find((l) => l.event === 'key-deleted' && l.alias === 'cartable-device').length > 0, 15_000);
    const certs = await w.t.infra.database.db.select({ revokedAt: deviceCertificates.revokedAt }).from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));
    expect(certs.length).toBe(2);
    expect(certs.filter((c) => c.revokedAt === null)).toHaveLength(1);
    const id = await issue(deviceId, { kind: 'lock' });
    await finalStatus(id, 'succeeded');
  }, 60_000);

  it('on wipe, confirms "executing" and the server retires the device; the agent is then refused', async () => {
    const [row] = await w.t.infra.database.db.select({ name: devices.name }).from(devices).where(eq(devices.id, deviceId));
    const id = await issue(deviceId, { kind: 'wipe', confirm: row!.name });
    await until(() => executions(agent, id) === 1, 15_000);
    await finalStatus(id, 'succeeded');
    const [device] = await w.t.infra.database.db.select({ status: devices.status }).from(devices).where(eq(devices.id, deviceId));
    expect(device!.status).toBe('wiped');
    // Its connection is closed as revoked (4403): it stops instead of hammering the server.
    await until(() => agent.find((l) => l.event === 'state' && l.state === 'stopped').length > 0, 15_000);
  }, 30_000);

  it('sent the server nothing it refused, over the whole run: every message passed the protocol’s schemas', () => {
    // The one error expected: the wiped tablet's connection refused as revoked.
    const refused = agents.flatMap((a) => a.find((l) => l.event === 'log' && String(l.message).startsWith('server error') && !String(l.message).startsWith('server error device_revoked')));
    expect(refused.map((l) => l.message)).toEqual([]);
  });
});
