import { createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { Client } from 'pg';
import { authSigningInput, createMessage, WS_CLOSE } from '../../agent-protocol/src';
import { type EnrollmentError } from '../../agent-protocol/simulator/simulated-agent';
import { deviceApps, deviceEvents, deviceLocations, devices } from '../../server/infra/db/schema';
import { createCa, createCsr, issueDeviceCertificate, parseCsr } from '../../server/infra/pki';
import { Presence } from '../../server/infra/presence';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, rawHello, rawSession, sendHello, startAgentWorld, until, type AgentWorld } from './agent-harness';

let w: AgentWorld;

beforeAll(async () => {
  w = await startAgentWorld();
});
afterAll(async () => {
  await w?.close();
});

const db = () => w.t.infra.database.db;
const deviceRow = async (id: string) => (await db().select().from(devices).where(eq(devices.id, id)))[0]!;

describe('agent over WebSocket', () => {
  it('enrolls, connects, reports, and shows up online with its facts and apps', async () => {
    const agent = newAgent(w);
    await agent.enroll();
    await agent.connect();
    await until(() => agent.state.outbox.length === 0);
    const id = agent.deviceId!;
    const device = await deviceRow(id);
    expect(device).toMatchObject({ schoolId: w.tree.schools[0]!.id, model: agent.profile.hardware.model, osVersion: agent.profile.hardware.androidVersion, managementMode: 'device_owner' });
    expect(device.batteryLevel).toBeGreaterThan(0);
    expect(device.inventoryAt).not.toBeNull();
    expect(device.capabilities).toContain('locate');
    const apps = await db().select().from(deviceApps).where(eq(deviceApps.deviceId, id));
    expect(apps.map((a) => a.identifier)).toEqual(expect.arrayContaining(['fr.cartable.agent', 'org.geogebra.android', 'com.android.chrome']));
    const events = await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, id));
    expect(events.map((e) => e.kind)).toEqual(['enrollment_complete']);
    const presence = new Presence(w.t.infra.redis, w.env.config.REDIS_PREFIX, 60);
    const isOnline = async (deviceId: string) => (await presence.nodesOf([deviceId])).size > 0;
    expect(await isOnline(id)).toBe(true);

    // A report re-sent with the same id is acked again but stored once.
    const again = createMessage('report.events', { events: [{ kind: 'boot', at: new Date().toISOString() }] });
    agent.queue(again);
    agent.queue(structuredClone(again));
    await until(() => agent.state.outbox.length === 0);
    expect((await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, id))).filter((e) => e.kind === 'boot')).toHaveLength(1);

    await agent.close();
    await until(async () => !(await isOnline(id)));
    const listed = await w.t.services.devices.list({ all: true, organisationId: w.tree.org.id }, { limit: 50, offset: 0 });
    expect(listed.items.find((d) => d.id === id)).toMatchObject({ online: false });
  });

  it('reconnects with backoff after the connection drops, and a newer connection replaces the older', async () => {
    const agent = newAgent(w);
    await agent.enroll();
    await agent.connect();
    const reconnected = new Promise((resolve) => agent.once('connected', resolve));
    agent.ws!.terminate();
    await reconnected;
    expect(agent.connected).toBe(true);

    const twin = newAgent(w, { reconnect: false });
    twin.state = structuredClone(agent.state);
    const replaced = new Promise<number>((resolve) => agent.once('disconnected', resolve));
    await twin.connect();
    expect(await replaced).toBe(WS_CLOSE.REPLACED);
    await agent.close();
    await twin.close();
  });

  it('sends nothing before the welcome, not even a command nudged while the session is still being recorded (§9.1)', async () => {
    const agent = newAgent(w, { reportOnConnect: false });
    await agent.enroll();
    const deviceId = agent.deviceId!;
    // Another transaction holds the device row, as a busy database would: the handshake's session
    // record waits, after the socket is registered and findable by a nudge. A command's foreign-key
    // check does not conflict with this lock.
    const holder = new Client({ connectionString: w.env.config.DATABASE_URL });
    await holder.connect();
    try {
      await holder.query('begin');
      await holder.query('select 1 from devices where id = $1 for no key update', [deviceId]);
      const session = rawSession(w.url);
      await sendHello(session, { deviceId, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! });
      const presence = new Presence(w.t.infra.redis, w.env.config.REDIS_PREFIX, 60);
      await until(async () => (await presence.nodesOf([deviceId])).size > 0);
      const bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
      const issued = await w.t.app.inject({ method: 'POST', url: `/api/v1/devices/${deviceId}/commands`, headers: { authorization: `Bearer ${bearer}` }, payload: { kind: 'lock' } });
      expect(issued.statusCode).toBe(201);
      // Time for the nudge to reach the gateway while the handshake still waits.
      await new Promise((r) => setTimeout(r, 500));
      await holder.query('rollback');
      await until(() => session.messages.some((m) => m.type === 'command'));
      expect(session.messages.map((m) => m.type).slice(0, 3)).toEqual(['challenge', 'welcome', 'command']);
      session.ws.close();
    } finally {
      await holder.end();
    }
  });

  it('answers pings, acks and refuses a location nothing allows, and stores one under lost mode', async () => {
    const agent = newAgent(w, { reportOnConnect: false });
    await agent.enroll();
    await agent.connect();
    const errors: string[] = [];
    agent.on('error-message', (body: { code: string }) => errors.push(body.code));
    const pong = new Promise((resolve) => agent.on('message', (m: { type: string }) => m.type === 'pong' && resolve(m)));
    agent.sendRaw(createMessage('ping', {}));
    await pong;
    agent.queue(createMessage('report.location', agent.profile.location()));
    await until(() => agent.state.outbox.length === 0);
    expect(errors).toEqual(['location_not_allowed']);
    await db().update(devices).set({ lostMode: true }).where(eq(devices.id, agent.deviceId!));
    agent.queue(createMessage('report.location', agent.profile.location()));
    await until(() => agent.state.outbox.length === 0);
    const [fix] = await db().select().from(deviceLocations).where(eq(deviceLocations.deviceId, agent.deviceId!));
    expect(fix).toMatchObject({ source: 'lost_mode', provider: 'fused', accuracyM: 14.5 });
    await agent.close();
  });
});

describe('refusals, with the device told why', () => {
  it('refuses enrollment with an unknown token', async () => {
    await expect(newAgent(w, { token: 'nope' }).enroll()).rejects.toMatchObject({ status: 403, code: 'token_unknown' } satisfies Partial<EnrollmentError>);
  });

  async function enrolled() {
    const agent = newAgent(w, { reconnect: false });
    await agent.enroll();
    return agent;
  }

  async function helloWith(body: Record<string, unknown>) {
    const s = rawSession(w.url);
    const challenge = await s.challenge;
    s.send(createMessage('hello', { protocol: { min: 1, max: 1 }, capabilities: [], agent: { versionName: '1', versionCode: 1 }, ...body, nonce: undefined } as never));
    const closed = await s.closed;
    const error = s.messages.find((m) => m.type === 'error');
    return { closed, error: error?.body.code, challenge };
  }

  it('refuses a challenge signed by another key', async () => {
    const agent = await enrolled();
    const other = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const s = rawSession(w.url);
    const nonce = (await s.challenge).body.nonce as string;
    s.send(createMessage('hello', { ...agent.helloBody(), signature: sign('sha256', Buffer.from(authSigningInput(nonce, agent.deviceId!)), other).toString('base64') }));
    expect(await s.closed).toMatchObject({ code: WS_CLOSE.AUTH_FAILED });
    expect(s.messages.find((m) => m.type === 'error')?.body.code).toBe('auth_failed');
  });

  it('refuses a certificate from another CA', async () => {
    const agent = await enrolled();
    const foreign = await createCa({ commonName: 'Other CA', organisation: 'Other', validityYears: 1 });
    const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = issueDeviceCertificate({ caCertPem: foreign.certPem, caKey: createPrivateKey(foreign.keyPem), subjectPublicKeyDer: parseCsr(createCsr({ keyPair, commonName: 'x' })).publicKeyDer, commonName: agent.deviceId!, validityDays: 10 });
    const s = rawSession(w.url);
    const nonce = (await s.challenge).body.nonce as string;
    s.send(createMessage('hello', { ...agent.helloBody(), certificate: cert.certPem, signature: sign('sha256', Buffer.from(authSigningInput(nonce, agent.deviceId!)), keyPair.privateKey).toString('base64') }));
    expect(await s.closed).toMatchObject({ code: WS_CLOSE.AUTH_FAILED });
    expect(s.messages.find((m) => m.type === 'error')?.body.code).toBe('certificate_wrong_ca');
  });

  it('answers each of many handshakes arriving together for its own device', async () => {
    const enrolled = await Promise.all(
      Array.from({ length: 13 }, async () => {
        const agent = newAgent(w, { reportOnConnect: false });
        await agent.enroll();
        return { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
      }),
    );
    const retired = enrolled[6]!;
    await db().update(devices).set({ status: 'retired' }).where(eq(devices.id, retired.deviceId));
    const answers = await Promise.all(enrolled.map((identity) => rawHello(w.url, identity)));
    expect(answers.map((a) => (a.answer.type === 'error' ? a.answer.body.code : a.answer.type))).toEqual(enrolled.map((e) => (e === retired ? 'device_revoked' : 'welcome')));
    for (const a of answers) a.session.ws.close();
  });

  it('refuses a revoked device with 4403 and the agent stops', async () => {
    const agent = newAgent(w);
    await agent.enroll();
    await db().update(devices).set({ status: 'retired' }).where(eq(devices.id, agent.deviceId!));
    const errors: string[] = [];
    agent.on('error-message', (body: { code: string }) => errors.push(body.code));
    const revoked = new Promise((resolve) => agent.once('revoked', resolve));
    await expect(agent.connect()).rejects.toMatchObject({ code: WS_CLOSE.DEVICE_REVOKED });
    await revoked;
    expect(errors).toEqual(['device_revoked']);
  });

  it('closes malformed and oversize messages with a protocol error and keeps serving others', async () => {
    const bystander = newAgent(w, { reportOnConnect: false });
    await bystander.enroll();
    await bystander.connect();

    const early = rawSession(w.url);
    await early.challenge;
    early.send(createMessage('ping', {}));
    expect(await early.closed).toMatchObject({ code: WS_CLOSE.PROTOCOL_ERROR });
    expect(early.messages.find((m) => m.type === 'error')?.body.code).toBe('hello_required');

    const garbage = rawSession(w.url);
    await garbage.challenge;
    garbage.send('{"type":"hello",');
    expect(await garbage.closed).toMatchObject({ code: WS_CLOSE.PROTOCOL_ERROR });
    expect(garbage.messages.find((m) => m.type === 'error')?.body.code).toBe('invalid_json');

    const huge = rawSession(w.url);
    await huge.challenge;
    huge.send(JSON.stringify({ type: 'hello', id: randomUUID(), body: { pad: 'x'.repeat(300 * 1024) } }));
    expect((await huge.closed).code).toBe(WS_CLOSE.MESSAGE_TOO_BIG);

    const badBody = await helloWith({ deviceId: 'not-a-uuid' });
    expect(badBody.closed.code).toBe(WS_CLOSE.PROTOCOL_ERROR);
    expect(badBody.error).toBe('invalid_body');

    const pong = new Promise((resolve) => bystander.on('message', (m: { type: string }) => m.type === 'pong' && resolve(m)));
    bystander.sendRaw(createMessage('ping', {}));
    await pong;
    expect(bystander.connected).toBe(true);
    await bystander.close();
  });
});

describe('agent over the HTTPS fallback', () => {
  it('opens a session, exchanges reports and is refused with an unknown or expired session', async () => {
    const agent = newAgent(w, { transport: 'https' });
    await agent.enroll();
    await agent.connect();
    await until(() => agent.state.outbox.length === 0);
    const device = await deviceRow(agent.deviceId!);
    expect(device.inventoryAt).not.toBeNull();
    expect((device.facts as { session: { transport: string } }).session.transport).toBe('https');
    const apps = await db().select().from(deviceApps).where(eq(deviceApps.deviceId, agent.deviceId!));
    expect(apps.length).toBe(agent.profile.apps().apps.length);
    await agent.close();

    const unknown = await fetch(`${w.url}/agent/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer 1.abc' }, body: '{"messages":[]}' });
    expect(unknown.status).toBe(401);
    expect(((await unknown.json()) as { code: string }).code).toBe('session_expired');
    const forged = await fetch(`${w.url}/agent/v1/exchange`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: 'Bearer 99999999999.abc' }, body: '{"messages":[]}' });
    expect(((await forged.json()) as { code: string }).code).toBe('auth_failed');
    const reused = await fetch(`${w.url}/agent/v1/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...agent.helloBody(), nonce: 'xSLzkWlm9bLHoFG3uuuKFX6W2AQ1nqPUXAYuS+7DEg0=', signature: agent.signNonce('xSLzkWlm9bLHoFG3uuuKFX6W2AQ1nqPUXAYuS+7DEg0=') }),
    });
    expect(reused.status).toBe(401);
    expect(((await reused.json()) as { code: string }).code).toBe('auth_failed');
  });
});
