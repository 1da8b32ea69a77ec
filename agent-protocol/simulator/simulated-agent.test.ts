/**
 * The simulated agent's own logic, message by message, without a server: what it does with a
 * command, a cancel, a report request or a renewal answer is read from its state and outbox.
 * The certificates come from the server's real CA code.
 */
import { X509Certificate, createPrivateKey, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { createCa, issueDeviceCertificate, parseCsr } from '../../server/infra/pki';
import { authSigningInput, createMessage, renewSigningInput, validateMessage, type Envelope } from '../src';
import { renewalDue } from './certificate-renewal';
import { AGENT_CAPABILITIES } from './command-runner';
import { FakePushService } from './push';
import { SimulatedAgent } from './simulated-agent';
import { freshState } from './state';

const DEVICE = 'd7c55fbd-73bf-4f74-a953-439c77cdf19c';
let ca: { certPem: string; keyPem: string };

beforeAll(async () => {
  ca = await createCa({ commonName: 'Test device CA', organisation: 'Cartable tests', validityYears: 2 });
});

function certify(publicKey: ReturnType<typeof createPublicKey>, deviceId = DEVICE, validityDays = 365) {
  return issueDeviceCertificate({
    caCertPem: ca.certPem,
    caKey: createPrivateKey(ca.keyPem),
    subjectPublicKeyDer: publicKey.export({ type: 'spki', format: 'der' }),
    commonName: deviceId,
    validityDays,
  }).certPem;
}

/** An agent with an identity issued by the test CA, and no connection. */
function enrolledAgent(options: Partial<ConstructorParameters<typeof SimulatedAgent>[0]> = {}): SimulatedAgent {
  const agent = new SimulatedAgent({ serverUrl: 'http://127.0.0.1:9', reportOnConnect: false, ...options });
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  agent.state = {
    ...freshState(),
    deviceId: DEVICE,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificate: certify(publicKey),
    chain: [ca.certPem],
    endpoints: { ws: 'ws://127.0.0.1:9/agent/v1/ws', http: 'http://127.0.0.1:9/agent/v1' },
    nextSeq: 1,
  };
  return agent;
}

const commandMessage = (commandId: string, kind = 'message', params: Record<string, unknown> = { text: 'Rangez les tablettes' }) =>
  createMessage('command', { commandId, kind, params, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 600_000).toISOString() });
const cancelMessage = (commandId: string) => createMessage('command.cancel', { commandId });
const results = (agent: SimulatedAgent) => agent.state.outbox.filter((m) => m.type === 'command.result').map((m) => m.body);
const C1 = '11111111-1111-4111-8111-111111111111';
const C2 = '22222222-2222-4222-8222-222222222222';

describe('cancel (§13.5)', () => {
  it('never executes a command whose cancel arrived first, and acks its later deliveries without a result', async () => {
    const agent = enrolledAgent();
    const cancelled: string[] = [];
    agent.on('cancelled', (id: string) => cancelled.push(id));
    await agent.onMessage(cancelMessage(C1));
    await agent.onMessage(commandMessage(C1));
    await agent.onMessage(commandMessage(C1));
    expect(agent.executions.has(C1)).toBe(false);
    expect(results(agent)).toEqual([]);
    expect(agent.state.commands[C1]).toMatchObject({ cancelled: true });
    expect(cancelled).toEqual([C1]);
  });

  it('does not execute a command cancelled while it waits to run', async () => {
    const agent = enrolledAgent({ executionDelayMs: 150 });
    const running = agent.onMessage(commandMessage(C1));
    await new Promise((r) => setTimeout(r, 20));
    await agent.onMessage(cancelMessage(C1));
    await running;
    expect(agent.executions.has(C1)).toBe(false);
    expect(results(agent)).toEqual([]);
  });

  it('changes nothing once the command ran: its result is reported as usual', async () => {
    const agent = enrolledAgent();
    await agent.onMessage(commandMessage(C1));
    await agent.onMessage(cancelMessage(C1));
    expect(agent.executions.get(C1)).toBe(1);
    expect(agent.state.commands[C1]?.cancelled).toBeUndefined();
    expect(results(agent)).toEqual([{ commandId: C1, status: 'succeeded' }]);
  });
});

describe('capabilities (§5)', () => {
  it('announces the configured capabilities and refuses a kind it did not announce', async () => {
    const agent = enrolledAgent({ capabilities: ['lock', 'report_request'] });
    expect(agent.helloBody().capabilities).toEqual(['lock', 'report_request']);
    await agent.onMessage(commandMessage(C1, 'message'));
    await agent.onMessage(commandMessage(C2, 'lock', {}));
    expect(agent.executions.has(C1)).toBe(false);
    expect(results(agent)).toEqual([
      { commandId: C1, status: 'failed', error: { code: 'UNSUPPORTED', message: 'Command kind message is not supported by this agent.' } },
      { commandId: C2, status: 'succeeded' },
    ]);
  });

  it('announces by default what it implements (policies and apps included), and report_request, but no server feature', () => {
    expect(AGENT_CAPABILITIES).toEqual(expect.arrayContaining(['lock', 'wipe', 'locate', 'lost_mode', 'report_request', 'policy', 'install_app', 'remove_app']));
    expect(AGENT_CAPABILITIES.filter((c) => ['push', 'certificate_renewal'].includes(c))).toEqual([]);
  });
});

describe('report.request (§12.7)', () => {
  it('answers with a fresh full app list and inventory, numbered after what was queued', async () => {
    const agent = enrolledAgent();
    agent.queue(createMessage('report.events', { events: [{ kind: 'boot', at: new Date().toISOString() }] }));
    await agent.onMessage(createMessage('report.request', { kinds: ['inventory', 'apps', 'mystery'], reason: 'sequence_gap' }));
    expect(agent.state.outbox.map((m) => [m.type, m.seq])).toEqual([
      ['report.events', 1],
      ['report.inventory', 2],
      ['report.apps', 3],
    ]);
    expect(agent.state.outbox[2]!.body.full).toBe(true);
  });
});

describe('certificate renewal (§20)', () => {
  it('is due once two thirds of the validity have elapsed', () => {
    const pem = certify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    const cert = new X509Certificate(pem);
    const from = Date.parse(cert.validFrom);
    const span = Date.parse(cert.validTo) - from;
    expect(renewalDue(pem, Date.now())).toBe(false);
    expect(renewalDue(pem, from + span * 0.66)).toBe(false);
    expect(renewalDue(pem, from + span * 0.67)).toBe(true);
  });

  it('asks for a certificate for a new key, signed by the current key, and switches to it', async () => {
    const agent = enrolledAgent();
    const oldCert = agent.state.certificate!;
    await agent.renewCertificate();
    const renew = agent.state.outbox.find((m) => m.type === 'certificate.renew') as Envelope;
    expect(validateMessage(renew, { from: 'agent' })).toMatchObject({ ok: true, known: true });
    expect(renew.seq).toBe(1);
    const { csr, signature } = renew.body as { csr: string; signature: string };
    const oldKey = new X509Certificate(oldCert).publicKey;
    expect(verify('sha256', Buffer.from(renewSigningInput(DEVICE, csr)), oldKey, Buffer.from(signature, 'base64'))).toBe(true);
    const newKey = createPublicKey({ key: parseCsr(csr).publicKeyDer, format: 'der', type: 'spki' });
    expect(newKey.export({ type: 'spki', format: 'der' }).equals(oldKey.export({ type: 'spki', format: 'der' }))).toBe(false);

    // The answer for another key, or another device, is refused; the right one is taken.
    const refusals: string[] = [];
    agent.on('renewal-refused', (reason: string) => refusals.push(reason));
    const stranger = certify(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey);
    await agent.onMessage(createMessage('certificate.issued', { certificate: stranger, chain: [ca.certPem] }, { ref: renew.id }));
    expect(refusals).toEqual(['not our new key']);
    expect(agent.state.certificate).toBe(oldCert);

    await agent.renewCertificate();
    const again = agent.state.outbox.filter((m) => m.type === 'certificate.renew').at(-1)!;
    const againKey = createPublicKey({ key: parseCsr((again.body as { csr: string }).csr).publicKeyDer, format: 'der', type: 'spki' });
    await agent.onMessage(createMessage('certificate.issued', { certificate: certify(againKey, 'someone-else'), chain: [ca.certPem] }, { ref: again.id }));
    expect(refusals).toEqual(['not our new key', 'not our deviceId']);

    await agent.renewCertificate();
    const third = agent.state.outbox.filter((m) => m.type === 'certificate.renew').at(-1)!;
    const thirdKey = createPublicKey({ key: parseCsr((third.body as { csr: string }).csr).publicKeyDer, format: 'der', type: 'spki' });
    const renewed = new Promise((resolve) => agent.once('renewed', resolve));
    await agent.onMessage(createMessage('certificate.issued', { certificate: certify(thirdKey), chain: [ca.certPem] }, { ref: third.id }));
    await renewed;
    expect(agent.state.certificate).not.toBe(oldCert);
    expect(agent.state.previousIdentity?.certificate).toBe(oldCert);
    expect(agent.state.renewal).toBeUndefined();
    // The next hello proves the new key.
    const nonce = 'I9TKKIvnyAOdlQW3Wccnse/0e2p8T/u+D6Vyf7GPQDo=';
    const hello = agent.helloBody();
    expect(verify('sha256', Buffer.from(authSigningInput(nonce, DEVICE)), new X509Certificate(hello.certificate).publicKey, Buffer.from(agent.signNonce(nonce), 'base64'))).toBe(true);
  });

  it('drops the new key when the server refuses the renewal', async () => {
    const agent = enrolledAgent();
    await agent.renewCertificate();
    const renew = agent.state.outbox.find((m) => m.type === 'certificate.renew')!;
    await agent.onMessage(createMessage('error', { code: 'rate_limited', message: 'later', retryAfterSec: 3600 }, { ref: renew.id }));
    await agent.onMessage(createMessage('ack', {}, { ref: renew.id }));
    expect(agent.state.renewal).toBeUndefined();
    expect(agent.state.outbox.some((m) => m.type === 'certificate.renew')).toBe(false);
  });
});

describe('push registration (§23.2)', () => {
  it('registers with the provider and announces the token in hello; a rotation is queued only for a server offering push', async () => {
    const push = new FakePushService();
    const agent = enrolledAgent({ push });
    await agent.load();
    const first = agent.helloBody().push;
    expect(first).toEqual({ provider: 'fcm', token: agent.state.pushToken, projectId: 'cartable-test' });

    agent.connected = true;
    push.rotate(first!.token);
    expect(agent.state.outbox.some((m) => m.type === 'push.token')).toBe(false);
    agent.serverCapabilities = ['push'];
    const second = push.rotate(agent.state.pushToken!);
    const message = agent.state.outbox.find((m) => m.type === 'push.token')!;
    expect(message.body).toEqual({ provider: 'fcm', token: second, projectId: 'cartable-test' });
    expect(validateMessage(message, { from: 'agent' })).toMatchObject({ ok: true, known: true });
    expect(await push.send({ token: first!.token, data: { cartable: 'wake' }, priority: 'high', ttlSec: 60 })).toEqual({ ok: false, reason: 'token_invalid' });
  });
});

describe('state persistence', () => {
  it('reports a failed save as an event instead of crashing the message loop', async () => {
    const agent = enrolledAgent({ state: { load: async () => undefined, save: async () => Promise.reject(new Error('disk full')) } });
    const errors: unknown[] = [];
    agent.on('state-error', (e) => errors.push(e));
    await agent.onMessage(commandMessage(C1));
    expect(agent.executions.get(C1)).toBe(1);
    expect(errors.length).toBeGreaterThan(0);
  });
});
