import type { WebSocket } from 'ws';
import { TIMERS, WS_CLOSE } from '../../../agent-protocol/src';
import type { Metrics } from '../../infra/metrics';
import type { Nudges } from '../../infra/nudges';
import type { Presence } from '../../infra/presence';
import { AgentConnection } from './agent-connection';
import type { AgentMessageDeps } from './agent-messages';

export interface GatewayDeps extends AgentMessageDeps {
  presence: Presence;
  nudges: Nudges;
  nodeId: string;
  heartbeatSec: number;
  metrics: Metrics;
  log: AgentMessageDeps['log'] & { info(obj: object, msg: string): void };
}

const FLUSH_MS = 5_000;
const CHUNK = 500;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * The agent sockets held by this process. Presence and last-seen times are written in batches:
 * one Redis pipeline and one SQL statement per flush, whatever the number of devices.
 */
export class AgentGateway {
  private readonly connections = new Map<string, AgentConnection>();
  private readonly seen = new Map<string, Date>();
  private timers: NodeJS.Timeout[] = [];
  private stopListening: (() => Promise<void>) | undefined;
  private sweeping = false;

  constructor(readonly deps: GatewayDeps) {
    this.log = deps.log;
  }

  readonly log: GatewayDeps['log'];

  async start(): Promise<void> {
    this.stopListening = await this.deps.nudges.listen(this.deps.nodeId, (ids) => this.onNudge(ids));
    const sweepMs = this.deps.heartbeatSec * 500;
    this.timers.push(setInterval(() => void this.flush(), FLUSH_MS), setInterval(() => void this.sweep(), sweepMs));
    for (const t of this.timers) t.unref();
  }

  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.stopListening?.();
    for (const conn of this.connections.values()) conn.ws.close(WS_CLOSE.GOING_AWAY, 'server shutting down');
    await this.flush();
  }

  accept(ws: WebSocket): void {
    new AgentConnection(ws, this);
  }

  /** An authenticated socket: an older one of the same device is replaced (§9.3). */
  register(conn: AgentConnection): void {
    const deviceId = conn.identity!.deviceId;
    const previous = this.connections.get(deviceId);
    if (previous && previous !== conn) previous.fail('connection_replaced', 'A newer connection of this device took over.');
    this.connections.set(deviceId, conn);
    this.deps.metrics.connectedDevices.set(this.connections.size);
    this.touch(deviceId);
    // Presence is written at once, not at the next flush, so a nudge sent right after welcome finds us.
    void this.deps.presence.set([deviceId], this.deps.nodeId).catch(() => undefined);
  }

  unregister(conn: AgentConnection): void {
    const deviceId = conn.identity!.deviceId;
    this.touch(deviceId);
    if (this.connections.get(deviceId) !== conn) return;
    this.connections.delete(deviceId);
    this.deps.metrics.connectedDevices.set(this.connections.size);
    void this.deps.presence.clear(deviceId, this.deps.nodeId).catch(() => undefined);
  }

  touch(deviceId: string): void {
    this.seen.set(deviceId, new Date());
  }

  private onNudge(deviceIds: string[]): void {
    for (const id of deviceIds) {
      const conn = this.connections.get(id.toLowerCase());
      if (conn) conn.deliverCommands(true).catch((err: unknown) => this.log.error({ err, deviceId: id }, 'command delivery failed'));
    }
  }

  /** Last-seen times of every device heard from since the previous flush, in one UPDATE. */
  async flush(): Promise<void> {
    if (this.seen.size > 0) {
      const batch = [...this.seen].map(([id, at]) => ({ id, at }));
      this.seen.clear();
      await this.deps.agent.touch(batch).catch((err: unknown) => this.log.error({ err }, 'last-seen flush failed'));
    }
  }

  /**
   * Every half heartbeat: drop silent peers, ping the rest at protocol level, refresh presence.
   * Commands not acknowledged in time are re-sent by the reconciler, which reads PostgreSQL.
   * Chunked so 10,000 sockets never stall the loop.
   */
  private async sweep(): Promise<void> {
    if (this.sweeping) return;
    this.sweeping = true;
    try {
      const now = Date.now();
      const deadline = now - this.deps.heartbeatSec * TIMERS.missedHeartbeats * 1000;
      const conns = [...this.connections.values()];
      for (let i = 0; i < conns.length; i += CHUNK) {
        const alive: string[] = [];
        for (const conn of conns.slice(i, i + CHUNK)) {
          if (conn.lastReceivedAt < deadline) {
            conn.ws.close(WS_CLOSE.GOING_AWAY, 'idle');
            continue;
          }
          conn.ws.ping();
          alive.push(conn.identity!.deviceId);
        }
        await this.deps.presence.set(alive, this.deps.nodeId).catch((err: unknown) => this.log.error({ err }, 'presence refresh failed'));
        await yieldToLoop();
      }
    } finally {
      this.sweeping = false;
    }
  }
}
