import { createPrivateKey, sign } from 'node:crypto';
import { createServer } from 'node:net';
import WebSocket from 'ws';
import { authSigningInput, createMessage, parseEnvelope, type Envelope } from '../../agent-protocol/src';
import { SimulatedAgent, type SimulatedAgentOptions } from '../../agent-protocol/simulator/simulated-agent';
import { orgWithSchools } from '../integration/enrollment.helpers';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export interface AgentWorld {
  env: TestEnv;
  t: TestApp;
  url: string;
  tree: Awaited<ReturnType<typeof orgWithSchools>>;
  token: string;
  close(): Promise<void>;
}

/** A listening server whose public URL is its real address, an organisation and an enrollment token. */
export async function startAgentWorld(overrides: Record<string, string> = {}): Promise<AgentWorld> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = await createTestEnv({ CARTABLE_PUBLIC_URL: url, ...overrides });
  const t = await startTestApp(env);
  await t.app.listen({ host: '127.0.0.1', port });
  const tree = await orgWithSchools(t.infra.database.db);
  const { token } = await t.services.enrollment.createToken({ all: true, organisationId: tree.org.id }, { type: 'system', id: null, label: 'test', role: null, ip: null }, { schoolId: tree.schools[0]!.id, label: 'e2e' });
  return {
    env,
    t,
    url,
    tree,
    token,
    async close() {
      await t.close();
      await env.cleanup();
    },
  };
}

export function newAgent(world: AgentWorld, options: Partial<SimulatedAgentOptions> = {}): SimulatedAgent {
  return new SimulatedAgent({ serverUrl: world.url, token: world.token, index: Math.floor(Math.random() * 1e6), ...options });
}

export async function until<T>(probe: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}

export interface RawSession {
  ws: WebSocket;
  messages: Envelope[];
  challenge: Promise<Envelope>;
  closed: Promise<{ code: number; reason: string }>;
  send(value: unknown): void;
}

/** A bare WebSocket to the gateway, for frames no well-behaved agent would send. */
export function rawSession(url: string): RawSession {
  const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/agent/v1/ws`);
  const messages: Envelope[] = [];
  let resolveChallenge: (e: Envelope) => void;
  const challenge = new Promise<Envelope>((r) => (resolveChallenge = r));
  ws.on('message', (data) => {
    const parsed = parseEnvelope(data as Buffer);
    if (!parsed.ok) return;
    messages.push(parsed.envelope);
    if (parsed.type === 'challenge') resolveChallenge(parsed.envelope);
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  return { ws, messages, challenge, closed, send: (value) => ws.send(typeof value === 'string' || Buffer.isBuffer(value) ? value : JSON.stringify(value)) };
}

export interface RawIdentity {
  deviceId: string;
  certificate: string;
  privateKeyPem: string;
}

/** Answers the socket's challenge with a hello signed by the given identity. */
export async function sendHello(session: RawSession, identity: RawIdentity, extra: Record<string, unknown> = {}): Promise<void> {
  const challenge = await session.challenge;
  const signature = sign('sha256', Buffer.from(authSigningInput(String(challenge.body.nonce), identity.deviceId), 'utf8'), createPrivateKey(identity.privateKeyPem)).toString('base64');
  session.send(
    createMessage('hello', {
      deviceId: identity.deviceId,
      certificate: identity.certificate,
      signature,
      protocol: { min: 1, max: 1 },
      capabilities: ['lock'],
      agent: { versionName: '1.1.0', versionCode: 10100 },
      ...extra,
    }),
  );
}

/** Authenticates a bare socket with the given identity; resolves with the welcome or the error, and the close. */
export async function rawHello(url: string, identity: RawIdentity, extra: Record<string, unknown> = {}): Promise<{ session: RawSession; answer: Envelope }> {
  const session = rawSession(url);
  await sendHello(session, identity, extra);
  const answer = await until(() => session.messages.find((m) => m.type === 'welcome' || m.type === 'error'), 10_000);
  return { session, answer };
}
