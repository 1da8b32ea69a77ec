import { eq } from 'drizzle-orm';
import { createMessage } from '../../agent-protocol/src';
import { deviceLocations, devices } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, startAgentWorld, until, type AgentWorld } from './agent-harness';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';

let w: AgentWorld;
let director: string;
const agents: SimulatedAgent[] = [];

async function api(url: string, token = director) {
  const res = await w.t.app.inject({ url: `/api/v1${url}`, headers: { authorization: `Bearer ${token}` } });
  return { status: res.statusCode, body: res.json() };
}

beforeAll(async () => {
  w = await startAgentWorld();
  const system = { type: 'system' as const, id: null, label: 'test', role: null, ip: null };
  const other = await w.t.services.enrollment.createToken({ all: true, organisationId: w.tree.org.id }, system, { schoolId: w.tree.schools[1]!.id, label: 'other' });
  for (const [i, token] of [w.token, w.token, other.token].entries()) {
    const agent = newAgent(w, { token, index: 100 + i });
    await agent.enroll();
    await agent.connect();
    agents.push(agent);
  }
  await until(() => agents.every((a) => a.state.outbox.length === 0));
  await until(() => w.t.services.devices.list({ all: true, organisationId: w.tree.org.id }, { online: true, limit: 10, offset: 0 }).then((r) => r.total === 3));
  director = await createPrincipalToken(w.t.services, { role: 'director', scopeType: 'school', scopeId: w.tree.schools[0]!.id, organisationId: w.tree.org.id });
});
afterAll(async () => {
  for (const a of agents) await a.close();
  await w?.close();
});

describe('device inventory API', () => {
  it('lists the devices of the caller schools only, sorted by name, with filters', async () => {
    const list = await api('/devices');
    expect(list.status).toBe(200);
    expect(list.body.total).toBe(2);
    const names = list.body.items.map((d: { name: string }) => d.name);
    expect(names).toEqual([...names].sort());
    expect(list.body.items.every((d: { schoolId: string; online: boolean }) => d.schoolId === w.tree.schools[0]!.id && d.online)).toBe(true);

    expect((await api(`/devices?q=${agents[0]!.profile.hardware.serial}`)).body.items.map((d: { id: string }) => d.id)).toEqual([agents[0]!.deviceId]);
    expect((await api('/devices?online=false')).body.total).toBe(0);
    expect((await api('/devices?platform=ios')).body.total).toBe(0);
    expect((await api(`/devices?schoolId=${w.tree.schools[1]!.id}`)).body.total).toBe(0);
    expect((await api('/devices?limit=1&offset=1')).body.items).toHaveLength(1);
    expect((await api('/devices?unknown=1')).status).toBe(400);
  });

  it('shows a device with its facts, presence and apps; other schools answer 404', async () => {
    const agent = agents[0]!;
    const detail = await api(`/devices/${agent.deviceId}`);
    expect(detail.status).toBe(200);
    expect(detail.body).toMatchObject({ id: agent.deviceId, online: true, lostMode: false, serial: agent.profile.hardware.serial, managementMode: 'device_owner' });
    expect(detail.body.facts.hardware).toMatchObject({ model: agent.profile.hardware.model, serial: agent.profile.hardware.serial });
    expect(detail.body.batteryLevel).toBeGreaterThan(0);
    expect(detail.body.facts.enrollment).toBeUndefined();
    // A director sees no network fact (addresses, the Wi-Fi the tablet sees); a technician does.
    expect(JSON.stringify(detail.body)).not.toContain(agent.profile.hardware.wifiMac!);
    expect(detail.body.facts.network).toBeUndefined();
    const tech = await createPrincipalToken(w.t.services, { role: 'technician', scopeType: 'school', scopeId: w.tree.schools[0]!.id, organisationId: w.tree.org.id });
    expect((await api(`/devices/${agent.deviceId}`, tech)).body.facts.network).toMatchObject({ wifiMac: agent.profile.hardware.wifiMac });
    const apps = await api(`/devices/${agent.deviceId}/apps`);
    expect(apps.body.items.map((a: { identifier: string }) => a.identifier)).toContain('org.geogebra.android');
    expect((await api(`/devices/${agents[2]!.deviceId}`)).status).toBe(404);
    expect((await api(`/devices/${agents[2]!.deviceId}/apps`)).status).toBe(404);
    expect((await api('/devices', 'nope')).status).toBe(401);
  });

  it('stores only the fields the protocol defines: an unknown position or home network in a report is dropped', async () => {
    const agent = agents[1]!;
    const status = { batteryLevel: 64, charging: 'none', storageFreeBytes: 1000, location: { lat: 45.1, lon: 5.7 }, homeWifi: 'Livebox-1234', screenOn: true };
    agent.queue(createMessage('report.status', status as never));
    await until(() => agent.state.outbox.length === 0);
    const [row] = await w.t.infra.database.db.select().from(devices).where(eq(devices.id, agent.deviceId!));
    expect(row!.batteryLevel).toBe(64);
    expect(row!.facts.status).toEqual({ screenOn: true });
    expect(JSON.stringify(row!.facts)).not.toMatch(/45\.1|Livebox/);
    expect(await w.t.infra.database.db.select().from(deviceLocations).where(eq(deviceLocations.deviceId, agent.deviceId!))).toEqual([]);
  });
});
