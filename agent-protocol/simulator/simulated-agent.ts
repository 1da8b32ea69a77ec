import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import WebSocket from 'ws';
import { TIMERS, WS_CLOSE, backoffDelayMs, createMessage, type EnrollResponse, type Envelope } from '../src';
import { CommandRunner } from './command-runner';
import { deviceProfile, type DeviceProfile } from './device-profile';
import { HttpsExchange } from './https-exchange';
import { helloBody, requestEnrollment, signNonce } from './identity';
import { MemoryStateStore, type AgentState, type AgentStateStore } from './state';
import { openWsSession } from './ws-session';

export { EnrollmentError } from './identity';

export interface SimulatedAgentOptions {
  serverUrl: string;
  token?: string;
  state?: AgentStateStore;
  transport?: 'ws' | 'https';
  /** Picks the simulated tablet's serial, model and MAC. */
  index?: number;
  /** Source address for the sockets (to spread many agents over 127.0.0.x). */
  localAddress?: string;
  /** Switch to HTTPS after three WebSocket attempts that never reach welcome (default true). */
  fallback?: boolean;
  /** Reconnect after a close or a failure (default true). */
  reconnect?: boolean;
  /** Send status, inventory and apps after each welcome (default true). */
  reportOnConnect?: boolean;
}

/**
 * A reference agent speaking protocol version 1 as a tablet would: enrollment, signed hello,
 * outbox with acks, commands executed at most once, backoff, HTTPS fallback.
 * Events: enrolled, connected, disconnected(code), message(envelope), executed(command), error-message(body).
 */
export class SimulatedAgent extends EventEmitter {
  readonly executions = new Map<string, number>();
  readonly profile: DeviceProfile;
  state!: AgentState;
  ws: WebSocket | undefined;
  connected = false;
  heartbeatSec: number = TIMERS.defaultHeartbeatSec;
  transport: 'ws' | 'https';
  private wsFailures = 0;
  private readonly store: AgentStateStore;
  private readonly runner: CommandRunner;
  private attempt = 0;
  private closing = false;
  private timers = new Set<NodeJS.Timeout>();
  private ackWaiters = new Map<string, () => void>();
  private https: HttpsExchange | undefined;

  constructor(readonly options: SimulatedAgentOptions) {
    super();
    this.store = options.state ?? new MemoryStateStore();
    this.profile = deviceProfile(options.index ?? 0);
    this.transport = options.transport ?? 'ws';
    this.runner = new CommandRunner(this, (wiped) => this.restart(wiped));
  }

  get deviceId(): string | undefined {
    return this.state?.deviceId;
  }

  /** Reads the stored state (identity, outbox, seen commands), or starts a fresh one. */
  async load(): Promise<void> {
    this.state ??= (await this.store.load()) ?? { bootId: randomUUID(), outbox: [], commands: {} };
  }

  save(): Promise<void> {
    return this.store.save(this.state);
  }

  /** POST /agent/v1/enroll with a fresh EC P-256 key (reused on retries of the same enrollment). */
  async enroll(token = this.options.token): Promise<EnrollResponse> {
    await this.load();
    if (!token) throw new Error('enroll() needs an enrollment token');
    const enrolled = await requestEnrollment(this.options.serverUrl, token, this.state, this.profile);
    Object.assign(this.state, { deviceId: enrolled.deviceId, certificate: enrolled.certificate, chain: enrolled.chain, endpoints: enrolled.endpoints });
    this.heartbeatSec = enrolled.heartbeatSec;
    this.queue(createMessage('report.events', { events: [{ kind: 'enrollment_complete', at: new Date().toISOString() }] }));
    await this.save();
    this.emit('enrolled', enrolled);
    return enrolled;
  }

  /** The signature of §8 over the nonce exactly as received. */
  signNonce(nonce: string): string {
    return signNonce(this.state, nonce);
  }

  helloBody() {
    return helloBody(this.state, this.profile);
  }

  /** Connects and resolves at `welcome` (WebSocket) or at the first exchange (HTTPS). */
  async connect(): Promise<void> {
    await this.load();
    if (!this.state.deviceId) throw new Error('connect() needs an enrolled agent');
    this.closing = false;
    if (this.transport === 'https') {
      this.https ??= new HttpsExchange(this);
      await this.https.start();
      return;
    }
    await openWsSession(this, {
      welcomed: (serverTime, heartbeatSec) => {
        this.connected = true;
        this.wsFailures = 0;
        this.runner.skewMs = Date.parse(serverTime) - Date.now();
        this.heartbeatSec = heartbeatSec;
        this.emit('connected');
        void this.afterConnect();
      },
      stable: () => void (this.attempt = 0),
      closed: (code, reason, beforeWelcome) => {
        this.connected = false;
        this.clearTimers();
        this.emit('disconnected', code, reason);
        if (beforeWelcome) this.wsFailures++;
        this.scheduleReconnect(code);
      },
    });
  }

  /** After welcome: outbox first, then fresh reports (§9.1). */
  async afterConnect(): Promise<void> {
    for (const m of this.state.outbox) this.sendRaw(m);
    const pending = this.state.pendingRestart;
    if (pending && pending.bootId !== this.state.bootId) {
      this.state.pendingRestart = undefined;
      await this.runner.finish(pending.commandId, { commandId: pending.commandId, status: 'succeeded' });
    }
    if (this.options.reportOnConnect === false) return;
    this.queue(createMessage('report.status', this.profile.status()));
    const stale = !this.state.inventoryAckedAt || Date.now() - Date.parse(this.state.inventoryAckedAt) > 24 * 3600_000;
    if (stale) this.sendInventory();
  }

  sendInventory(): void {
    this.queue(createMessage('report.inventory', this.profile.inventory()));
    this.queue(createMessage('report.apps', this.profile.apps()));
  }

  /** Puts a report or result in the outbox and sends it if a channel is open. */
  queue(message: Envelope): void {
    this.state.outbox.push(message);
    if (this.connected) this.sendRaw(message);
  }

  sendRaw(message: Envelope): void {
    if (this.https && this.transport === 'https') return this.https.send(message);
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  /** Waits for the ack of a message id (or the timeout). */
  waitForAck(id: string, timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(), timeoutMs);
      this.ackWaiters.set(id, () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async onMessage(envelope: Envelope): Promise<void> {
    this.emit('message', envelope);
    switch (envelope.type) {
      case 'ping':
        return this.sendRaw(createMessage('pong', {}, { ref: envelope.id }));
      case 'ack': {
        const index = this.state.outbox.findIndex((m) => m.id === envelope.ref);
        if (index >= 0) {
          const [acked] = this.state.outbox.splice(index, 1);
          if (acked?.type === 'report.inventory') this.state.inventoryAckedAt = new Date().toISOString();
          await this.save();
        }
        this.ackWaiters.get(envelope.ref!)?.();
        this.ackWaiters.delete(envelope.ref!);
        return;
      }
      case 'nudge':
        for (const m of this.state.outbox) this.sendRaw(m);
        return this.queue(createMessage('report.status', this.profile.status()));
      case 'error':
        return void this.emit('error-message', envelope.body, envelope.ref);
      case 'command.cancel':
        return this.runner.cancel(envelope);
      case 'command':
        return this.runner.receive(envelope);
    }
  }

  /** Simulates the reboot (new boot id, reconnect) or the wipe (identity gone, agent stops). */
  private async restart(wiped: boolean): Promise<void> {
    this.closing = true;
    this.ws?.close(WS_CLOSE.NORMAL);
    this.https?.stop();
    if (wiped) {
      this.state = { bootId: randomUUID(), outbox: [], commands: {} };
      await this.save();
      return void this.emit('wiped');
    }
    this.state.bootId = randomUUID();
    await this.save();
    this.emit('rebooted');
    this.closing = false;
    setTimeout(() => this.connect().catch(() => this.scheduleReconnect(WS_CLOSE.GOING_AWAY)), 50);
  }

  /** §9.5 backoff; 4403 stops, 4400/4401 start at the maximum delay, 4409 waits the maximum. */
  scheduleReconnect(code: number): void {
    if (this.closing || this.options.reconnect === false) return;
    if (code === WS_CLOSE.DEVICE_REVOKED) return void this.emit('revoked');
    if (this.transport === 'ws' && this.wsFailures >= 3 && this.options.fallback !== false) {
      this.transport = 'https';
      this.emit('fallback');
    }
    const max = code === WS_CLOSE.PROTOCOL_ERROR || code === WS_CLOSE.AUTH_FAILED || code === WS_CLOSE.REPLACED;
    const delay = max ? backoffDelayMs(30) : backoffDelayMs(this.attempt++);
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.connect().catch(() => undefined);
    }, delay);
    this.timers.add(timer);
  }

  every(ms: number, fn: () => void): void {
    const timer = setInterval(fn, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.clearTimers();
    this.https?.stop();
    const ws = this.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(WS_CLOSE.NORMAL);
      });
    }
    this.connected = false;
  }
}
