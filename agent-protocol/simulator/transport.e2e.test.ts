/**
 * The simulated agent's transport rules (§15.3) and push wake-ups (§23.4) against a real
 * Cartable server over real sockets. The agents reach the server through a TCP gateway this
 * test can take down, as a reverse proxy restarting would.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { eq } from 'drizzle-orm';
import { devices } from '../../server/infra/db/schema';
import { freePort, startAgentWorld, until, type AgentWorld } from '../../test/e2e/agent-harness';
import { PUSH_WAKE_DATA } from '../src';
import { FakePushService } from './push';
import { SimulatedAgent, type SimulatedAgentOptions } from './simulated-agent';

/** A TCP relay to the server that can be cut (every connection dropped, new ones refused) and restored. */
class Gateway {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly port: number,
    private readonly target: number,
  ) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  up(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => (s === client ? upstream : client).destroy());
      }
      client.pipe(upstream).pipe(client);
    });
    this.server = server;
    return new Promise((resolve) => server.listen(this.port, '127.0.0.1', () => resolve()));
  }

  async down(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

let w: AgentWorld;
let gateway: Gateway;
const agents: SimulatedAgent[] = [];
let index = 0;

beforeAll(async () => {
  const gatewayPort = await freePort();
  // The public URL is the gateway's: enrollment hands the agents endpoints behind it.
  w = await startAgentWorld({ CARTABLE_PUBLIC_URL: `http://127.0.0.1:${gatewayPort}`, AGENT_HEARTBEAT_SEC: '5' });
  gateway = new Gateway(gatewayPort, Number(new URL(w.url).port));
  await gateway.up();
}, 60_000);
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.close()));
});
afterAll(async () => {
  await gateway?.down();
  await w?.close();
});

async function enrolledAgent(options: Partial<SimulatedAgentOptions> = {}): Promise<SimulatedAgent> {
  const agent = new SimulatedAgent({ serverUrl: gateway.url, token: w.token, index: 900_000 + index++, reportOnConnect: false, ...options });
  agents.push(agent);
  await agent.enroll();
  return agent;
}

const onWebSocket = (a: SimulatedAgent) => a.connected && a.transport === 'ws';
const sessionTransport = async (deviceId: string) => {
  const [row] = await w.t.infra.database.db.select().from(devices).where(eq(devices.id, deviceId));
  return (row?.facts as { session?: { transport?: string } }).session?.transport;
};

describe('transport rules (§15.3) against a real server', () => {
  it('brings every agent back on the WebSocket after the gateway was down for a few seconds', async () => {
    const fleet = await Promise.all(Array.from({ length: 8 }, () => enrolledAgent()));
    await Promise.all(fleet.map((a) => a.connect()));
    const dropped = fleet.map((a) => new Promise((resolve) => a.once('disconnected', resolve)));
    await gateway.down();
    await Promise.all(dropped);
    await new Promise((r) => setTimeout(r, 4000));
    await gateway.up();
    await until(() => fleet.every(onWebSocket), 60_000);
    expect(fleet.map((a) => a.transport)).toEqual(fleet.map(() => 'ws'));
  }, 90_000);

  it('falls back to HTTPS where the WebSocket is blocked, and returns to it once a probe gets through', async () => {
    const agent = await enrolledAgent({ wsProbeInitialMs: 400, wsProbeMaxMs: 1600 });
    const realWs = agent.state.endpoints!.ws;
    agent.state.endpoints = { ...agent.state.endpoints!, ws: `ws://127.0.0.1:${await freePort()}/agent/v1/ws` };
    const fellBack = new Promise((resolve) => agent.once('fallback', resolve));
    await expect(agent.connect()).rejects.toThrow();
    await fellBack;
    expect(agent.connected && agent.transport === 'https').toBe(true);
    expect(await sessionTransport(agent.deviceId!)).toBe('https');

    // The probes keep failing while the WebSocket is blocked, then one gets through.
    await new Promise((r) => setTimeout(r, 1500));
    expect(agent.transport).toBe('https');
    const switched = new Promise((resolve) => agent.once('transport', resolve));
    agent.state.endpoints = { ...agent.state.endpoints!, ws: realWs };
    expect(await switched).toBe('ws');
    expect(onWebSocket(agent)).toBe(true);
    await until(async () => (await sessionTransport(agent.deviceId!)) === 'ws');
  }, 60_000);

  it('retries HTTPS with backoff when exchanges fail, instead of giving up', async () => {
    const agent = await enrolledAgent({ wsProbeInitialMs: 60_000 });
    agent.state.endpoints = { ...agent.state.endpoints!, ws: `ws://127.0.0.1:${await freePort()}/agent/v1/ws` };
    await agent.connect().catch(() => undefined);
    await until(() => agent.connected && agent.transport === 'https', 20_000);
    const lost = new Promise((resolve) => agent.once('disconnected', resolve));
    await gateway.down();
    await lost;
    await new Promise((r) => setTimeout(r, 2000));
    expect(agent.connected).toBe(false);
    const back = new Promise((resolve) => agent.once('connected', resolve));
    await gateway.up();
    expect(await back).toBe('https');
  }, 60_000);
});

describe('push wake-ups (§23.4) against a real server', () => {
  it('keeps a sleeping agent offline until a wake-up, then connects at once; other pushes are ignored', async () => {
    const push = new FakePushService();
    const agent = await enrolledAgent({ push });
    expect(agent.helloBody().push).toMatchObject({ provider: 'fcm', token: agent.state.pushToken });
    await agent.connect();
    await agent.sleep();
    expect(agent.connected).toBe(false);

    let reconnected = false;
    agent.once('connected', () => (reconnected = true));
    expect(await push.send({ token: agent.state.pushToken!, data: { cartable: 'sync' }, priority: 'high', ttlSec: 60 })).toEqual({ ok: true });
    await new Promise((r) => setTimeout(r, 1500));
    expect(reconnected).toBe(false);

    const t0 = Date.now();
    const connected = new Promise((resolve) => agent.once('connected', resolve));
    expect(await push.send({ token: agent.state.pushToken!, data: { ...PUSH_WAKE_DATA }, priority: 'high', ttlSec: 60, collapseKey: 'cartable-wake' })).toEqual({ ok: true });
    await connected;
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(onWebSocket(agent)).toBe(true);
  }, 30_000);
});
