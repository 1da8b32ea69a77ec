import type { WebSocket } from 'ws';
import { TIMERS, WS_CLOSE } from '../../../agent-protocol/src';
import type { AgentSelfUpdatePort, DeviceIdentityPort, InventoryPort } from '../../domain/platform-ports';
import { concurrencyLimit } from '../../infra/concurrency-limit';
import type { Metrics } from '../../infra/metrics';
import type { NodeSignal, Nudges } from '../../infra/nudges';
import type { Presence } from '../../infra/presence';
import { LastSeen } from '../last-seen';
import { AgentConnection } from './agent-connection';
import type { AgentMessageDeps } from './agent-messages';
import type { SessionTerms } from './agent-session';

export interface GatewayDeps extends AgentMessageDeps {
  identity: DeviceIdentityPort;
  inventory: InventoryPort;
  selfUpdate: AgentSelfUpdatePort;
  presence: Presence;
  nudges: Nudges;
  nodeId: string;
  heartbeatSec: number;
  /**
   * Handshakes verified at once. After a gateway restart every one of its tablets comes back
   * within seconds; each handshake reads and writes the database several times in a row, and
   * beyond the pool's size they would fail on its acquisition timeout (the tablet then backs off,
   * and comes back later) instead of waiting their turn.
   */
  handshakeConcurrency: number;
  /** A command, or a report request, not acknowledged within this delay is sent again (§12.7, §14.2). */
  ackTimeoutSec: number;
  terms: SessionTerms;
  metrics: Metrics;
  log: AgentMessageDeps['log'] & { info(obj: object, msg: string): void };
}

const CHUNK = 500;
/** How long closing sockets get to finish their closing handshake before they are cut. */
const CLOSE_GRACE_MS = 1_500;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The agent sockets held by this process. Presence and last-seen times are written in batches:
 * one Redis pipeline and one SQL statement per flush, whatever the number of devices.
 */
export class AgentGateway {
  private readonly connections = new Map<string, AgentConnection>();
  private readonly lastSeen: LastSeen;
  private timers: NodeJS.Timeout[] = [];
  private stopListening: (() => Promise<void>) | undefined;
  private sweeping = false;
  /** Set at shutdown: new sockets are refused at once, so agents reconnect to another gateway. */
  closing = false;

  /** Runs a handshake when one of the `handshakeConcurrency` slots is free. */
  readonly handshake: <T>(task: () => Promise<T>) => Promise<T>;

  constructor(readonly deps: GatewayDeps) {
    this.log = deps.log;
    this.handshake = concurrencyLimit(deps.handshakeConcurrency);
    this.lastSeen = new LastSeen(deps.inventory, deps.log);
  }

  readonly log: GatewayDeps['log'];

  async start(): Promise<void> {
    this.stopListening = await this.deps.nudges.listen(this.deps.nodeId, (signal) => this.onSignal(signal));
    const sweepMs = this.deps.heartbeatSec * 500;
    this.lastSeen.start();
    this.timers.push(setInterval(() => void this.sweep(), sweepMs));
    for (const t of this.timers) t.unref();
  }

  /**
   * Closes every socket with 1001 (going away), gives the closing handshakes a moment, then cuts
   * whatever is left, so the process exits on time even with agents that never answer.
   */
  async stop(): Promise<void> {
    this.closing = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.stopListening?.().catch(() => undefined);
    const open = [...this.connections.values()];
    const closed = Promise.all(open.map((conn) => new Promise<void>((resolve) => (conn.ws.readyState === conn.ws.CLOSED ? resolve() : conn.ws.once('close', () => resolve())))));
    for (const conn of open) conn.ws.close(WS_CLOSE.GOING_AWAY, 'server shutting down');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]);
    clearTimeout(timer);
    for (const conn of open) if (conn.ws.readyState !== conn.ws.CLOSED) conn.ws.terminate();
    await this.lastSeen.stop();
  }

  accept(ws: WebSocket): void {
    if (this.closing) {
      ws.close(WS_CLOSE.GOING_AWAY, 'server shutting down');
      return;
    }
    new AgentConnection(ws, this);
  }

  /**
   * An authenticated socket. An older one of the same device is replaced (§9.3), in this
   * process or in another gateway, which presence names and a signal reaches.
   */
  async register(conn: AgentConnection): Promise<void> {
    const deviceId = conn.identity!.deviceId;
    conn.registeredAt = Date.now();
    const previous = this.connections.get(deviceId);
    if (previous && previous !== conn) previous.fail('connection_replaced', 'A newer connection of this device took over.');
    this.connections.set(deviceId, conn);
    this.deps.metrics.connectedDevices.set(this.connections.size);
    this.touch(deviceId);
    // Presence is written at once, not at the next flush, so a nudge sent right after welcome finds us.
    const holder = await this.deps.presence.claim(deviceId, this.deps.nodeId).catch(() => null);
    if (holder && holder !== this.deps.nodeId) await this.deps.nudges.takeover(holder, deviceId, conn.registeredAt).catch(() => undefined);
  }

  unregister(conn: AgentConnection): void {
    const deviceId = conn.identity!.deviceId;
    this.touch(deviceId);
    if (this.connections.get(deviceId) !== conn) return;
    this.connections.delete(deviceId);
    this.deps.metrics.connectedDevices.set(this.connections.size);
    void this.deps.presence.clear(deviceId, this.deps.nodeId).catch(() => undefined);
  }

  /** The device sent a protocol message: it is alive, whatever the transport. */
  touch(deviceId: string): void {
    this.lastSeen.touch(deviceId);
  }

  private onSignal(signal: NodeSignal): void {
    if (signal.kind === 'takeover') {
      const conn = this.connections.get(signal.deviceId);
      if (conn && conn.registeredAt < signal.since) conn.fail('connection_replaced', 'A newer connection of this device took over.');
      return;
    }
    for (const id of signal.deviceIds) {
      const conn = this.connections.get(id.toLowerCase());
      if (conn) conn.deliverCommands(false, true).catch((err: unknown) => this.log.error({ err, deviceId: id }, 'command delivery failed'));
    }
  }

  /** Writes this node's presence for every socket it holds (Redis came back empty, say). */
  async refreshPresence(): Promise<void> {
    const ids = [...this.connections.keys()];
    for (let i = 0; i < ids.length; i += CHUNK) await this.deps.presence.set(ids.slice(i, i + CHUNK), this.deps.nodeId).catch(() => undefined);
  }

  /**
   * Every half heartbeat: close agents silent for too long with `heartbeat_timeout` / 4408 (only
   * their own messages count, §10),
   * ping the rest, refresh presence. Commands not acknowledged in time are re-sent by the
   * reconciler, which reads PostgreSQL. Chunked so 10,000 sockets never stall the loop.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const deadline = Date.now() - this.deps.heartbeatSec * TIMERS.missedHeartbeats * 1000;
      const conns = [...this.connections.values()];
      for (let i = 0; i < conns.length; i += CHUNK) {
        const alive: string[] = [];
        for (const conn of conns.slice(i, i + CHUNK)) {
          if (conn.lastReceivedAt < deadline) {
            conn.fail('heartbeat_timeout', `Nothing received from the agent for ${this.deps.heartbeatSec * TIMERS.missedHeartbeats} seconds.`);
            continue;
          }
          conn.ws.ping();
          alive.push(conn.identity!.deviceId);
        }
        await this.deps.presence.set(alive, this.deps.nodeId).catch((err: unknown) => this.log.warn({ err }, 'presence refresh failed'));
        await yieldToLoop();
      }
    } finally {
      this.sweeping = false;
    }
  }
}
