import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { and, eq } from 'drizzle-orm';
import { createMessage, renewSigningInput, type Envelope } from '../../agent-protocol/src';
import { startRenewal } from '../../agent-protocol/simulator/certificate-renewal';
import type { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { deviceCertificates, devices } from '../../server/infra/db/schema';
import { createCsr, parseCsr } from '../../server/infra/pki';
import { newAgent, rawHello, startAgentWorld, type AgentWorld } from './agent-harness';

/** Certificate lifetime and renewal with key rotation (agent protocol §20), over real sockets and HTTPS. */
let w: AgentWorld;
const agents: SimulatedAgent[] = [];

beforeAll(async () => {
  w = await startAgentWorld();
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

const db = () => w.t.infra.database.db;
const DAY_MS = 24 * 3600 * 1000;
const certsOf = (deviceId: string) => db().select().from(deviceCertificates).where(eq(deviceCertificates.deviceId, deviceId));

async function online(options: Parameters<typeof newAgent>[1] = {}): Promise<SimulatedAgent> {
  const agent = newAgent(w, { reportOnConnect: false, ...options });
  agents.push(agent);
  await agent.enroll();
  await agent.connect();
  return agent;
}

function renewed(agent: SimulatedAgent): Promise<string> {
  return new Promise((resolve, reject) => {
    agent.once('renewed', resolve);
    agent.once('renewal-refused', (reason: string) => reject(new Error(`renewal refused: ${reason}`)));
  });
}

/** The answers of the server to one message, in order, on the agent's socket. */
function answersTo(agent: SimulatedAgent, id: string, count: number): Promise<Envelope[]> {
  const got: Envelope[] = [];
  return new Promise((resolve) => {
    const listener = (m: Envelope) => {
      if (m.ref !== id) return;
      got.push(m);
      if (got.length === count) {
        agent.off('message', listener);
        resolve(got);
      }
    };
    agent.on('message', listener);
  });
}

async function reconnect(agent: SimulatedAgent): Promise<void> {
  await agent.close();
  await agent.connect();
}

describe('certificate renewal', () => {
  it('issues certificates valid 365 days and announces renewal, without asking a fresh certificate to renew', async () => {
    const agent = newAgent(w, { reportOnConnect: false });
    agents.push(agent);
    const enrolled = await agent.enroll();
    const cert = new X509Certificate(enrolled.certificate);
    const days = (Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS;
    expect(days).toBeGreaterThan(365);
    expect(days).toBeLessThan(365.01);
    const requested = jest.fn();
    agent.on('renewal-requested', requested);
    await agent.connect();
    expect(agent.serverCapabilities).toContain('certificate_renewal');
    await new Promise((r) => setTimeout(r, 300));
    expect(requested).not.toHaveBeenCalled();
  });

  it('rotates the key: the new certificate becomes current at its first use, and the old one is refused as superseded', async () => {
    const agent = await online();
    const oldCertificate = agent.state.certificate!;
    const oldKey = agent.state.privateKeyPem!;
    const done = renewed(agent);
    await agent.renewCertificate();
    const certificate = await done;
    expect(certificate).not.toBe(oldCertificate);
    const issued = new X509Certificate(certificate);
    expect(issued.subject).toBe(`CN=${agent.deviceId}`);
    expect(issued.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(createPrivateKey(agent.state.privateKeyPem!)).export({ type: 'spki', format: 'der' }))).toBe(true);
    // Until the device uses it, the new certificate is pending and the old one still current.
    let rows = await certsOf(agent.deviceId!);
    expect(rows.map((r) => ({ pending: r.pending, revoked: r.revokedAt !== null })).sort((a, b) => Number(a.pending) - Number(b.pending))).toEqual([
      { pending: false, revoked: false },
      { pending: true, revoked: false },
    ]);
    const old = { deviceId: agent.deviceId!, certificate: oldCertificate, privateKeyPem: oldKey };
    const stillGood = await rawHello(w.url, old);
    expect(stillGood.answer.type).toBe('welcome');
    stillGood.session.ws.close();

    await reconnect(agent);
    expect(agent.state.previousIdentity).toBeUndefined();
    rows = await certsOf(agent.deviceId!);
    expect(rows.find((r) => r.revokedAt === null)).toMatchObject({ pending: false, certPem: certificate });
    expect(rows.find((r) => r.revokedAt !== null)).toMatchObject({ revokeReason: 'superseded' });

    const refused = await rawHello(w.url, old);
    expect(refused.answer.body).toMatchObject({ code: 'auth_failed' });
    expect((await refused.session.closed).code).toBe(4401);
  });

  it('sends the same certificate again for a re-sent request, and refuses a request the current key did not sign or that reuses it', async () => {
    const agent = await online();
    const current = createPrivateKey(agent.state.privateKeyPem!);
    const message = await startRenewal(agent.state);
    const first = answersTo(agent, message.id, 2);
    agent.sendRaw(message);
    const [issued, ack] = await first;
    expect([issued!.type, ack!.type]).toEqual(['certificate.issued', 'ack']);
    const second = answersTo(agent, message.id, 2);
    agent.sendRaw(message);
    expect((await second)[0]!.body.certificate).toBe(issued!.body.certificate);

    const stranger = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const csr = createCsr({ keyPair: stranger, commonName: 'x' });
    const forged = createMessage('certificate.renew', { csr, signature: sign('sha256', Buffer.from(renewSigningInput(agent.deviceId!, csr)), stranger.privateKey).toString('base64') });
    const forgedAnswers = answersTo(agent, forged.id, 2);
    agent.sendRaw(forged);
    const [error, forgedAck] = await forgedAnswers;
    expect(error).toMatchObject({ type: 'error', body: { code: 'proof_invalid' } });
    expect(forgedAck!.type).toBe('ack');

    const sameKeyCsr = createCsr({ keyPair: { privateKey: current, publicKey: createPublicKey(current) }, commonName: 'x' });
    const reuse = createMessage('certificate.renew', { csr: sameKeyCsr, signature: sign('sha256', Buffer.from(renewSigningInput(agent.deviceId!, sameKeyCsr)), current).toString('base64') });
    const reuseAnswers = answersTo(agent, reuse.id, 2);
    agent.sendRaw(reuse);
    expect((await reuseAnswers)[0]).toMatchObject({ type: 'error', body: { code: 'csr_invalid' } });
  });

  it('answers a request re-sent after the switch to the new key (its ack was lost) with the same certificate, not an error', async () => {
    const agent = await online();
    const message = await startRenewal(agent.state);
    const done = renewed(agent);
    agent.sendRaw(message);
    const certificate = await done;
    // The tablet stopped before the ack: it authenticates with its new key and re-sends its outbox,
    // where the request still carries the proof made with the key it has replaced.
    await reconnect(agent);
    expect(agent.state.certificate).toBe(certificate);
    const answers = answersTo(agent, message.id, 2);
    agent.sendRaw(message);
    const [issued, ack] = await answers;
    expect(issued).toMatchObject({ type: 'certificate.issued', body: { certificate } });
    expect(ack!.type).toBe('ack');
    expect((await certsOf(agent.deviceId!)).filter((c) => c.revokedAt === null)).toHaveLength(1);
  });

  it('issues at most three certificates per device and day', async () => {
    const agent = await online();
    for (let i = 0; i < 2; i++) {
      const done = renewed(agent);
      await agent.renewCertificate();
      await done;
      await reconnect(agent);
    }
    const refused = new Promise<[Record<string, unknown>, string]>((resolve) => agent.once('error-message', (body: Record<string, unknown>, ref: string) => resolve([body, ref])));
    await agent.renewCertificate();
    const [body] = await refused;
    expect(body.code).toBe('rate_limited');
    expect(body.retryAfterSec).toBeGreaterThan(23 * 3600);
    expect(agent.state.renewal).toBeUndefined();
    expect((await certsOf(agent.deviceId!)).length).toBe(3);
  });

  it('asks a device holding a longer-lived certificate to renew, over the HTTPS fallback too', async () => {
    const agent = newAgent(w, { reportOnConnect: false, transport: 'https' });
    agents.push(agent);
    await agent.enroll();
    // A certificate such as a 1.0 server issued: ten years.
    const key = createPrivateKey(agent.state.privateKeyPem!);
    const long = await w.t.services.pki.issueDeviceCertificate(parseCsr(createCsr({ keyPair: { privateKey: key, publicKey: createPublicKey(key) }, commonName: 'x' })).publicKeyDer, agent.deviceId!, undefined, 3650);
    await db().update(deviceCertificates).set({ revokedAt: new Date(), revokeReason: 'test' }).where(eq(deviceCertificates.deviceId, agent.deviceId!));
    await db().insert(deviceCertificates).values({ deviceId: agent.deviceId!, serialHex: long.serialHex, fingerprintSha256: long.fingerprintSha256, notBefore: long.notBefore, notAfter: long.notAfter });
    agent.state.certificate = long.certPem;
    const done = renewed(agent);
    await agent.connect();
    const certificate = await done;
    const cert = new X509Certificate(certificate);
    expect((Date.parse(cert.validTo) - Date.parse(cert.validFrom)) / DAY_MS).toBeLessThan(366);
  });

  it('checks expiry and revocation at every connection', async () => {
    const agent = await online();
    const identity = { deviceId: agent.deviceId!, certificate: agent.state.certificate!, privateKeyPem: agent.state.privateKeyPem! };
    await agent.close();
    await db().update(devices).set({ status: 'retired' }).where(eq(devices.id, identity.deviceId));
    const revoked = await rawHello(w.url, identity);
    expect(revoked.answer.body).toMatchObject({ code: 'device_revoked' });
    expect((await revoked.session.closed).code).toBe(4403);
    await db().update(devices).set({ status: 'active' }).where(eq(devices.id, identity.deviceId));

    // A certificate whose validity ends now is refused once it has ended.
    const key = createPrivateKey(identity.privateKeyPem);
    const short = await w.t.services.pki.issueDeviceCertificate(parseCsr(createCsr({ keyPair: { privateKey: key, publicKey: createPublicKey(key) }, commonName: 'x' })).publicKeyDer, identity.deviceId, undefined, 0);
    await db().insert(deviceCertificates).values({ deviceId: identity.deviceId, serialHex: short.serialHex, fingerprintSha256: short.fingerprintSha256, notBefore: short.notBefore, notAfter: short.notAfter });
    await new Promise((r) => setTimeout(r, Math.max(0, short.notAfter.getTime() + 1100 - Date.now())));
    const expired = await rawHello(w.url, { ...identity, certificate: short.certPem });
    expect(expired.answer.body).toMatchObject({ code: 'certificate_expired' });
    expect((await expired.session.closed).code).toBe(4401);
    expect(await db().select().from(deviceCertificates).where(and(eq(deviceCertificates.deviceId, identity.deviceId), eq(deviceCertificates.pending, true)))).toHaveLength(0);
  });
});
