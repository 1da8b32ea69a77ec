import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { and, eq } from 'drizzle-orm';
import { SMTPServer } from 'smtp-server';
import { createMessage } from '../../agent-protocol/src';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { auditEvents, commands, deviceLocations, devices, geofenceAlerts } from '../../server/infra/db/schema';
import { startWorkers, type WorkerSet } from '../../server/infra/queues/registry';
import { jobHandlers } from '../../server/jobs';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';

/** Monday 7 December 2026, 10:00 in Paris: inside the school's hours. */
const MONDAY_10H = new Date('2026-12-07T09:00:00Z');
const at = (iso: string) => new Date(iso);

let world: AgentWorld;
let workers: WorkerSet;
let smtp: SMTPServer;
const mails: { to: string[]; body: string }[] = [];
let hooks: Server;
const posted: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
let now = MONDAY_10H;
let admin: string;
let director: string;
const agents: SimulatedAgent[] = [];

const db = () => world.t.infra.database.db;
const school = () => world.tree.schools[0]!;

async function api(method: 'GET' | 'PUT' | 'POST' | 'DELETE', url: string, bearer: string, payload?: unknown) {
  const res = await world.t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${bearer}` }, ...(payload === undefined ? {} : { payload: payload as object }) });
  return { status: res.statusCode, body: res.body ? (res.json() as Record<string, unknown>) : {} };
}

async function positionsOf(deviceId: string) {
  return db().select().from(deviceLocations).where(eq(deviceLocations.deviceId, deviceId));
}

/** An enrolled, connected agent on the test's clock. */
async function onlineAgent(): Promise<SimulatedAgent> {
  const agent = newAgent(world, { clock: () => now });
  agents.push(agent);
  await agent.enroll();
  await agent.connect();
  await until(() => agent.connected);
  return agent;
}

/** Sends a position by hand, whatever the policy says; the server's error code about it, or null once it is stored. */
async function sendPosition(agent: SimulatedAgent, fix: Record<string, unknown> = {}): Promise<string | null> {
  const message = createMessage('report.location', { ...agent.profile.location(), fixTime: now.toISOString(), ...fix });
  let code: string | null = null;
  const listener = (body: { code: string }, ref: string) => {
    if (ref === message.id) code = body.code;
  };
  agent.on('error-message', listener);
  agent.queue(message);
  // Refused or stored, the message is acked (the error comes first): then it leaves the outbox.
  await until(() => !agent.state.outbox.some((m) => m.id === message.id));
  await new Promise((r) => setTimeout(r, 50));
  agent.off('error-message', listener);
  return code;
}

async function setSchoolPolicy(body: Record<string, unknown>) {
  const res = await api('PUT', `/location-policies/school/${school().id}`, admin, body);
  expect(res.status).toBe(200);
  expect((res.body.rollout as { state: string }).state).toBe('done');
  return res.body;
}

const refusedCount = async (reason: string) => (await world.t.infra.metrics.positionsRefused.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;

beforeAll(async () => {
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    onData(stream, session, callback) {
      let body = '';
      stream.on('data', (chunk: Buffer) => (body += chunk.toString()));
      stream.on('end', () => {
        mails.push({ to: session.envelope.rcptTo.map((r) => r.address), body });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  hooks = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      posted.push({ headers: req.headers, body });
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const { port } = smtp.server.address() as { port: number };
  world = await startAgentWorld({ SMTP_URL: `smtp://127.0.0.1:${port}`, SMTP_FROM: 'Cartable <cartable@agglo.test>' });
  world.t.infra.clock = () => now;
  workers = startWorkers(jobHandlers(world.t.services), { connection: world.t.infra.queueConnection, prefix: world.env.config.REDIS_PREFIX, log: world.t.infra.log });
  admin = await createPrincipalToken(world.t.services, { role: 'admin', scopeType: 'organisation', organisationId: world.tree.org.id });
  // An iPad in the school: its set takes the location entry too, which its profile rollout must leave alone.
  await db().insert(devices).values({ organisationId: world.tree.org.id, schoolId: school().id, platform: 'ios', name: 'iPad de la classe' });
  director = await createPrincipalToken(world.t.services, { role: 'director', scopeType: 'school', scopeId: school().id, organisationId: world.tree.org.id });
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await workers.close();
  await world.close();
  await new Promise<void>((resolve) => smtp.close(() => resolve()));
  await new Promise<void>((resolve) => hooks.close(() => resolve()));
});

beforeEach(() => {
  now = MONDAY_10H;
});

describe('location policy', () => {
  it('is off by default: a position the agent sends anyway is refused and never stored', async () => {
    const agent = await onlineAgent();
    expect(agent.state.policy?.policy.locationReporting).toBeUndefined();
    expect(agent.location.tick()).toBe(false);
    const before = await refusedCount('not_allowed');
    expect(await sendPosition(agent)).toBe('location_not_allowed');
    expect(await positionsOf(agent.deviceId!)).toHaveLength(0);
    expect(await refusedCount('not_allowed')).toBe(before + 1);
  });

  it('refuses school hours that end before they start, with the field’s path', async () => {
    const res = await api('PUT', `/location-policies/school/${school().id}`, admin, { mode: 'school_hours', intervalMinutes: 15, hours: [{ days: [1], start: '16:30', end: '08:30' }] });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([{ path: '/hours/0/end', message: 'must be after start' }]);
  });

  it('school_hours reaches the agent, which reports only inside the hours; the server stores only those', async () => {
    const agent = await onlineAgent();
    await setSchoolPolicy({ mode: 'school_hours', intervalMinutes: 15, hours: [{ days: [1, 2, 4, 5], start: '08:30', end: '16:30' }], excludedDates: [{ from: '2026-12-19', to: '2027-01-03' }] });
    await until(() => (agent.state.policy?.policy.locationReporting as { mode?: string } | undefined)?.mode === 'school_hours');
    const effective = await api('GET', `/schools/${school().id}/location-policy`, admin);
    expect(effective.body).toMatchObject({ inheritedFrom: 'school', effective: { mode: 'school_hours', intervalMinutes: 15 } });

    expect(agent.location.tick()).toBe(true);
    await until(async () => (await positionsOf(agent.deviceId!)).length === 1);
    expect(agent.location.tick()).toBe(false); // not before the interval
    now = at('2026-12-07T09:20:00Z');
    expect(agent.location.tick()).toBe(true);
    await until(async () => (await positionsOf(agent.deviceId!)).length === 2);

    for (const outside of ['2026-12-07T17:00:00Z', '2026-12-09T09:00:00Z', '2026-12-21T09:00:00Z']) {
      // After school, on Wednesday (no school), on the first Monday of the holidays.
      now = at(outside);
      expect(agent.location.tick()).toBe(false);
      expect(await sendPosition(agent)).toBe('location_not_allowed');
    }
    const stored = await positionsOf(agent.deviceId!);
    expect(stored).toHaveLength(2);
    expect(stored.every((p) => p.source === 'policy')).toBe(true);
  });

  it('on_demand: no report of its own, and the locate command works', async () => {
    const agent = await onlineAgent();
    await setSchoolPolicy({ mode: 'on_demand' });
    await until(() => (agent.state.policy?.policy.locationReporting as { mode?: string } | undefined)?.mode === 'on_demand');
    expect(agent.location.tick()).toBe(false);
    expect(await sendPosition(agent)).toBe('location_not_allowed');
    const issued = await api('POST', `/devices/${agent.deviceId}/commands`, admin, { kind: 'locate' });
    expect(issued.status).toBe(201);
    await until(async () => (await db().select().from(commands).where(eq(commands.id, issued.body.id as string)))[0]?.status === 'succeeded');
    const stored = await positionsOf(agent.deviceId!);
    expect(stored.map((p) => p.source)).toEqual(['locate']);
  });

  it('an impossible position or a fix time far in the future is refused, counted and never stored', async () => {
    const agent = await onlineAgent();
    await setSchoolPolicy({ mode: 'school_hours', intervalMinutes: 5, hours: [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00' }] });
    await until(() => (agent.state.policy?.policy.locationReporting as { mode?: string } | undefined)?.mode === 'school_hours');
    const [coordinates, future, invalid] = [await refusedCount('coordinates'), await refusedCount('future_fix_time'), await refusedCount('invalid_body')];
    expect(await sendPosition(agent, { lat: 0, lon: 0 })).toBe('location_implausible');
    expect(await sendPosition(agent, { fixTime: new Date(now.getTime() + 2 * 24 * 3600_000).toISOString() })).toBe('location_implausible');
    expect(await sendPosition(agent, { lat: 95 })).toBe('invalid_body');
    expect(await positionsOf(agent.deviceId!)).toHaveLength(0);
    expect(await refusedCount('coordinates')).toBe(coordinates + 1);
    expect(await refusedCount('future_fix_time')).toBe(future + 1);
    expect(await refusedCount('invalid_body')).toBe(invalid + 1);
  });
});

describe('geofences', () => {
  it('refuses a polygon of two points or crossing itself, and coordinates out of range, with the field’s path', async () => {
    const two = await api('POST', `/schools/${school().id}/geofences`, admin, { name: 'Cour', shape: { type: 'polygon', points: [{ lat: 45, lon: 5 }, { lat: 45.1, lon: 5 }] } });
    expect(two.status).toBe(400);
    expect(two.body.errors).toEqual([{ path: '/shape/points', message: 'a polygon needs at least 3 points' }]);
    const bowtie = { type: 'polygon', points: [{ lat: 45, lon: 5 }, { lat: 45.01, lon: 5.01 }, { lat: 45, lon: 5.01 }, { lat: 45.01, lon: 5 }] };
    const crossing = await api('POST', `/schools/${school().id}/geofences`, admin, { name: 'Nœud', shape: bowtie });
    expect(crossing.status).toBe(400);
    expect((crossing.body.errors as { path: string }[])[0]!.path).toBe('/shape/points/2');
    const range = await api('POST', `/schools/${school().id}/geofences`, admin, { name: 'Loin', shape: { type: 'circle', center: { lat: 91, lon: 5 }, radiusM: 200 } });
    expect(range.status).toBe(400);
    expect(JSON.stringify(range.body.errors)).toContain('/shape/center/lat');
  });

  it('an exit during school hours raises exactly one alert, mailed without position; a return raises one more', async () => {
    const agent = await onlineAgent();
    await setSchoolPolicy({ mode: 'school_hours', intervalMinutes: 5, hours: [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00' }] });
    await until(() => (agent.state.policy?.policy.locationReporting as { mode?: string } | undefined)?.mode === 'school_hours');
    const home = agent.profile.location();
    const fence = await api('POST', `/schools/${school().id}/geofences`, admin, { name: 'École', shape: { type: 'circle', center: { lat: home.lat, lon: home.lon }, radiusM: 300 } });
    expect(fence.status).toBe(201);
    expect((await api('PUT', '/organisation/settings/location', admin, { directorsReadPositions: false, alertEmails: ['dsi@agglo.test'] })).status).toBe(200);
    const endpoint = await api('POST', '/webhooks', admin, { url: `http://127.0.0.1:${(hooks.address() as { port: number }).port}/cartable`, events: ['location.geofence_exit', 'location.geofence_return'] });
    expect(endpoint.status).toBe(201);

    expect(await sendPosition(agent)).toBeNull(); // inside: nothing
    const away = { lat: home.lat + 0.02, lon: home.lon };
    expect(await sendPosition(agent, away)).toBeNull();
    expect(await sendPosition(agent, { ...away, lat: away.lat + 0.001 })).toBeNull();
    const alertsOf = () => db().select().from(geofenceAlerts).where(eq(geofenceAlerts.deviceId, agent.deviceId!));
    await until(async () => (await alertsOf()).length === 1);
    expect((await alertsOf()).map((a) => a.kind)).toEqual(['exit']);
    await until(() => mails.length === 1, 10_000);
    expect(mails[0]!.to).toEqual(['dsi@agglo.test']);
    expect(mails[0]!.body).not.toContain(String(away.lat));
    // The signed webhook: the alert, its device and school, never the position.
    await until(() => posted.length === 1, 10_000);
    const hook = posted[0]!;
    expect(hook.headers['x-cartable-event']).toBe('location.geofence_exit');
    expect(hook.headers['x-cartable-signature']).toBe(`sha256=${createHmac('sha256', endpoint.body.secret as string).update(hook.body).digest('hex')}`);
    expect(JSON.parse(hook.body).data).toMatchObject({ kind: 'exit', deviceId: agent.deviceId, schoolId: school().id });
    expect(hook.body).not.toContain(String(away.lat));

    expect(await sendPosition(agent)).toBeNull(); // back inside
    await until(async () => (await alertsOf()).length === 2);
    expect((await alertsOf()).map((a) => a.kind).sort()).toEqual(['exit', 'return']);
    await until(() => posted.length === 2, 10_000);
    expect(posted[1]!.headers['x-cartable-event']).toBe('location.geofence_return');

    // The admin sees where; the director sees that, not where, until the organisation grants it.
    const asAdmin = await api('GET', '/location/alerts', admin);
    const mine = (asAdmin.body.items as { deviceId: string; kind: string; position?: unknown }[]).filter((a) => a.deviceId === agent.deviceId);
    expect(mine.find((a) => a.kind === 'exit')!.position).toMatchObject({ lat: away.lat }); // where it was first seen outside
    const asDirector = await api('GET', '/location/alerts', director);
    expect(asDirector.status).toBe(200);
    expect((asDirector.body.items as { position?: unknown }[]).every((a) => a.position === undefined)).toBe(true);
  });
});

describe('who reads positions', () => {
  it('a director cannot read positions unless the organisation grants it, and every read is audited', async () => {
    const agent = await onlineAgent();
    await setSchoolPolicy({ mode: 'school_hours', intervalMinutes: 5, hours: [{ days: [1, 2, 3, 4, 5], start: '08:00', end: '17:00' }] });
    await until(() => (agent.state.policy?.policy.locationReporting as { mode?: string } | undefined)?.mode === 'school_hours');
    expect(await sendPosition(agent)).toBeNull();

    expect((await api('GET', `/devices/${agent.deviceId}/location`, director)).status).toBe(403);
    expect((await api('GET', '/location/positions', director)).status).toBe(403);

    expect((await api('PUT', '/organisation/settings/location', admin, { directorsReadPositions: true, alertEmails: [] })).status).toBe(200);
    const reads = () => db().select().from(auditEvents).where(and(eq(auditEvents.action, 'device.location.read'), eq(auditEvents.targetId, agent.deviceId!)));
    const before = (await reads()).length;
    expect((await api('GET', `/devices/${agent.deviceId}/location`, director)).status).toBe(200);
    const map = await api('GET', '/location/positions', director);
    expect(map.status).toBe(200);
    expect((map.body.items as { deviceId: string }[]).some((p) => p.deviceId === agent.deviceId)).toBe(true);
    const after = await reads();
    expect(after.length).toBe(before + 2);
    expect(after.filter((e) => e.role === 'director')).toHaveLength(2);

    expect((await api('PUT', '/organisation/settings/location', admin, { directorsReadPositions: false, alertEmails: [] })).status).toBe(200);
    expect((await api('GET', `/devices/${agent.deviceId}/location`, director)).status).toBe(403);
  });
});
