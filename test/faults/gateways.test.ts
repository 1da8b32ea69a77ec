import WebSocket from 'ws';
import { MemoryStateStore } from '../../agent-protocol/simulator/state';
import { CountingAgent, openFaultWorld, waitUntil, type FaultWorld } from './fault-world';

/** Several gateway processes share the devices: each device has one socket, and a gateway leaves cleanly. */
let world: FaultWorld;
afterEach(async () => world?.close());

/** What a fresh WebSocket to the gateway gets first: a challenge, a close code, or a refused connection. */
function newSocketOutcome(url: string): Promise<string> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/agent/v1/ws`);
    ws.on('message', () => {
      resolve('challenge');
      ws.terminate();
    });
    ws.on('close', (code) => resolve(`closed ${code}`));
    ws.on('error', (err) => resolve(`error ${err.message}`));
  });
}

/** A second instance of the same tablet (same identity and key), pointed at another gateway. */
async function twinOf(agent: CountingAgent, gatewayUrl: string, transport: 'ws' | 'https' = 'ws'): Promise<CountingAgent> {
  const store = new MemoryStateStore();
  const base = gatewayUrl.replace(/\/+$/, '');
  await store.save({ ...agent.state, endpoints: { ws: `${base.replace(/^http/, 'ws')}/agent/v1/ws`, http: `${base}/agent/v1` }, outbox: [] });
  return new CountingAgent({ serverUrl: gatewayUrl, state: store, index: 0, reportOnConnect: false, fallback: false, reconnect: false, transport });
}

describe('gateways', () => {
  it('delivers a command created through one node to an agent connected to another within 1 s', async () => {
    world = await openFaultWorld();
    const api = await world.node('api,worker');
    const gateway = await world.node('gateway');
    const [agent] = await world.enroll(api.url, gateway.url, 1);
    await agent!.connect();
    await new Promise((r) => setTimeout(r, 300)); // presence is written right after welcome
    const executed = new Promise<number>((resolve) => agent!.once('executed', () => resolve(Date.now())));
    const t0 = Date.now();
    await world.api(api.url, 'POST', `/devices/${agent!.deviceId}/commands`, { kind: 'lock' });
    expect((await executed) - t0).toBeLessThan(1000);
  }, 60_000);

  it('on SIGTERM closes every socket with 1001, refuses new ones, and exits 0 in time', async () => {
    world = await openFaultWorld({ env: { SHUTDOWN_TIMEOUT_MS: '8000' } });
    const gateway = await world.node('api,gateway,worker');
    const fleet = await world.enroll(gateway.url, gateway.url, 200, { reconnect: false });
    await Promise.all(fleet.map((a) => a.connect()));
    const codes: number[] = [];
    for (const a of fleet) a.on('disconnected', (code: number) => codes.push(code));
    const t0 = Date.now();
    const exited = gateway.stop('SIGTERM');
    await waitUntil(() => codes.length > 0, 5000, 'first socket closed');
    // A tablet trying to connect now is turned away before any challenge, and goes elsewhere.
    expect(await newSocketOutcome(gateway.url)).not.toBe('challenge');
    const { code } = await exited;
    expect(code).toBe(0);
    expect(Date.now() - t0).toBeLessThan(8000);
    await waitUntil(() => codes.length === fleet.length, 5000, 'every agent disconnected');
    expect(new Set(codes)).toEqual(new Set([1001]));
  }, 90_000);

  it('keeps one socket per device across gateways: the older one is closed with 4409', async () => {
    world = await openFaultWorld();
    const api = await world.node('api,worker');
    const gateway1 = await world.node('gateway');
    const gateway2 = await world.node('gateway');
    const [agent] = await world.enroll(api.url, gateway1.url, 1, { reconnect: false });
    await agent!.connect();
    const closed = new Promise<number>((resolve) => agent!.once('disconnected', (code: number) => resolve(code)));
    const twin = await twinOf(agent!, gateway2.url);
    await twin.connect();
    expect(await closed).toBe(4409);
    // Commands now reach the newer socket only.
    const lock = await world.api(api.url, 'POST', `/devices/${agent!.deviceId}/commands`, { kind: 'lock' });
    expect(lock.status).toBe(201);
    await waitUntil(() => twin.executions.size === 1, 15_000, 'lock through the newer socket');
    expect(agent!.frames.size).toBe(0);
    await twin.close();
  }, 60_000);

  it('does not let an HTTPS exchange hide the WebSocket the device still holds', async () => {
    world = await openFaultWorld();
    const node = await world.node('api,gateway,worker');
    const [agent] = await world.enroll(node.url, node.url, 1, { reconnect: false });
    await agent!.connect();
    const twin = await twinOf(agent!, node.url, 'https');
    await twin.connect();
    await twin.close();
    const t0 = Date.now();
    await world.api(node.url, 'POST', `/devices/${agent!.deviceId}/commands`, { kind: 'message', params: { text: 'Toujours là' } });
    await waitUntil(() => agent!.executions.size === 1, 5000, 'message through the socket');
    expect(Date.now() - t0).toBeLessThan(1000);
  }, 60_000);
});
