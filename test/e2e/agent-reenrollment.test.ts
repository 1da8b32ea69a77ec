import { generateKeyPairSync, sign } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { reenrollSigningInput } from '../../agent-protocol/src';
import { type EnrollmentError, type SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { auditEvents, commands, deviceCertificates, deviceEvents, devices } from '../../server/infra/db/schema';
import { createCsr } from '../../server/infra/pki';
import { orgWithSchools } from '../integration/enrollment.helpers';
import { createPrincipalToken } from '../helpers/auth';
import { newAgent, rawHello, startAgentWorld, until, type AgentWorld } from './agent-harness';

/** Re-enrollment without a factory reset (agent protocol §22), through the real enrollment endpoint. */
let w: AgentWorld;
let bearer: string;
const agents: SimulatedAgent[] = [];
const SYSTEM = { type: 'system', id: null, label: 'test', role: null, ip: null } as const;

beforeAll(async () => {
  w = await startAgentWorld();
  bearer = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

const db = () => w.t.infra.database.db;
const deviceRow = async (id: string) => (await db().select().from(devices).where(eq(devices.id, id)))[0]!;

async function enrolled(): Promise<SimulatedAgent> {
  const agent = newAgent(w, { reportOnConnect: false });
  agents.push(agent);
  await agent.enroll();
  return agent;
}

const tokenFor = async (schoolId: string, organisationId = w.tree.org.id, maxUses: number | null = null) =>
  (await w.t.services.enrollment.createToken({ all: true, organisationId }, SYSTEM, { schoolId, label: 'reenroll', maxUses })).token;

describe('re-enrollment without a factory reset', () => {
  it('links the new record to the previous one, which is retired with its certificates and pending commands, and audited', async () => {
    const agent = await enrolled();
    const old = { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
    const pending = await w.t.app.inject({ method: 'POST', url: `/api/v1/devices/${old.deviceId}/commands`, headers: { authorization: `Bearer ${bearer}` }, payload: { kind: 'lock' } });
    expect(pending.statusCode).toBe(201);
    await db().update(devices).set({ facts: { attestation: { result: 'verified', keymasterSecurityLevel: 'TrustedEnvironment' } } }).where(eq(devices.id, old.deviceId));

    const response = await agent.reenroll(await tokenFor(w.tree.schools[1]!.id));
    expect(response.previousDeviceId).toBe(old.deviceId);
    expect(response.deviceId).not.toBe(old.deviceId);
    expect(response.serverTime).toBeDefined();

    const fresh = await deviceRow(response.deviceId);
    expect(fresh).toMatchObject({ previousDeviceId: old.deviceId, schoolId: w.tree.schools[1]!.id, status: 'active', capabilities: agent.capabilities });
    expect(fresh.facts.attestation).toEqual({ result: 'verified', keymasterSecurityLevel: 'TrustedEnvironment' });
    expect((await deviceRow(old.deviceId)).status).toBe('retired');
    expect((await db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, old.deviceId))).map((c) => c.revokeReason)).toEqual(['re-enrolled']);
    const [command] = await db().select().from(commands).where(eq(commands.id, pending.json().id));
    expect(command).toMatchObject({ status: 'cancelled', errorCode: 're_enrolled' });
    const audited = async (action: string, target: string) => (await db().select().from(auditEvents).where(and(eq(auditEvents.action, action), eq(auditEvents.targetId, target)))).length;
    expect(await audited('device.reenroll', response.deviceId)).toBe(1);
    expect(await audited('device.retire', old.deviceId)).toBe(1);

    // The new identity works and says where it comes from; the old one is refused.
    await agent.connect();
    await until(async () => (await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, response.deviceId))).find((e) => e.kind === 'enrollment_complete'));
    const [event] = await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, response.deviceId));
    expect(event!.data).toEqual({ previousDeviceId: old.deviceId });
    const refused = await rawHello(w.url, old);
    expect(refused.answer.body).toMatchObject({ code: 'device_revoked' });
  });

  it('refuses a proof made with another key with proof_invalid, without using up the token', async () => {
    const agent = await enrolled();
    const token = await tokenFor(w.tree.schools[0]!.id, w.tree.org.id, 1);
    const keyPair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = createCsr({ keyPair, commonName: 'fr.cartable.agent' });
    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
    const res = await fetch(`${w.url}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        token,
        csr,
        hardware: agent.profile.hardware,
        agent: agent.profile.agent,
        previous: { deviceId: agent.deviceId, certificate: agent.state.certificate, signature: sign('sha256', Buffer.from(reenrollSigningInput(agent.deviceId!, csr)), stranger).toString('base64') },
      }),
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { code: string }).code).toBe('proof_invalid');
    expect((await deviceRow(agent.deviceId!)).status).toBe('active');
    // The single use is still there.
    const next = newAgent(w, { token });
    agents.push(next);
    await expect(next.enroll()).resolves.toMatchObject({ deviceId: expect.any(String) });
  });

  it('does not reach a record of another organisation: the tablet enrolls there as a new one', async () => {
    const agent = await enrolled();
    const oldId = agent.deviceId!;
    const other = await orgWithSchools(db(), 1);
    const response = await agent.reenroll(await tokenFor(other.schools[0]!.id, other.org.id));
    expect(response.previousDeviceId).toBeUndefined();
    expect((await deviceRow(oldId)).status).toBe('active');
    expect((await deviceRow(response.deviceId)).previousDeviceId).toBeNull();
  });

  it('keeps the old identity when the server refuses the proof', async () => {
    const agent = await enrolled();
    const before = { ...agent.state };
    await db().delete(deviceCertificates).where(eq(deviceCertificates.deviceId, agent.deviceId!));
    await db().delete(devices).where(eq(devices.id, agent.deviceId!));
    await expect(agent.reenroll(w.token)).rejects.toMatchObject({ code: 'proof_invalid' } satisfies Partial<EnrollmentError>);
    expect(agent.state.privateKeyPem).toBe(before.privateKeyPem);
    expect(agent.deviceId).toBe(before.deviceId);
  });
});
