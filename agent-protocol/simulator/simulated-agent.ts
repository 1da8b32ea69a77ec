import { createPrivateKey, createPublicKey, generateKeyPair, randomUUID, sign } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { promisify } from 'node:util';
import WebSocket from 'ws';
import { createCsr } from '../../server/infra/pki/csr';
import {
  CAPABILITIES,
  DESTRUCTIVE_COMMAND_KINDS,
  SUPPORTED_PROTOCOL,
  TIMERS,
  WS_CLOSE,
  authSigningInput,
  backoffDelayMs,
  createMessage,
  isCommandExpired,
  parseEnvelope,
  validateCommandParams,
  type Command,
  type CommandResult,
  type EnrollResponse,
  type Envelope,
  type Problem,
} from '../src';
import { deviceProfile, type DeviceProfile } from './device-profile';
import { MemoryStateStore, type AgentState, type AgentStateStore } from './state';
import { HttpsExchange } from './https-exchange';

const generateKeyPairAsync = promisify(generateKeyPair);
const AGENT_CAPABILITIES = CAPABILITIES.filter((c) => !['install_app', 'remove_app', 'policy'].includes(c));

export class EnrollmentError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

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
  private skewMs = 0;
  private attempt = 0;
  private closing = false;
  private timers = new Set<NodeJS.Timeout>();
  private lastReceivedAt = 0;
  private ackWaiters = new Map<string, () => void>();
  private https: HttpsExchange | undefined;

  constructor(readonly options: SimulatedAgentOptions) {
    super();
    this.store = options.state ?? new MemoryStateStore();
    this.profile = deviceProfile(options.index ?? 0);
    this.transport = options.transport ?? 'ws';
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
    if (!this.state.privateKeyPem) {
      const { privateKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
      this.state.privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    }
    const privateKey = createPrivateKey(this.state.privateKeyPem);
    const csr = createCsr({ keyPair: { privateKey, publicKey: createPublicKey(privateKey) }, commonName: 'fr.cartable.agent' });
    const res = await fetch(`${this.options.serverUrl.replace(/\/+$/, '')}/agent/v1/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token, csr, hardware: this.profile.hardware, agent: this.profile.agent }),
    });
    const body = (await res.json()) as EnrollResponse | Problem;
    if (res.status !== 201) {
      const problem = body as Problem;
      throw new EnrollmentError(res.status, problem.code, problem.detail ?? problem.title);
    }
    const enrolled = body as EnrollResponse;
    Object.assign(this.state, { deviceId: enrolled.deviceId, certificate: enrolled.certificate, chain: enrolled.chain, endpoints: enrolled.endpoints });
    this.heartbeatSec = enrolled.heartbeatSec;
    this.queue(createMessage('report.events', { events: [{ kind: 'enrollment_complete', at: new Date().toISOString() }] }));
    await this.save();
    this.emit('enrolled', enrolled);
    return enrolled;
  }

  /** The signature of §8 over the nonce exactly as received. */
  signNonce(nonce: string): string {
    return sign('sha256', Buffer.from(authSigningInput(nonce, this.state.deviceId!), 'utf8'), createPrivateKey(this.state.privateKeyPem!)).toString('base64');
  }

  helloBody() {
    return {
      deviceId: this.state.deviceId!,
      certificate: this.state.certificate!,
      protocol: { ...SUPPORTED_PROTOCOL },
      capabilities: AGENT_CAPABILITIES,
      agent: { versionName: this.profile.agent.versionName, versionCode: this.profile.agent.versionCode },
      bootId: this.state.bootId,
      lastCommandIds: Object.keys(this.state.commands).slice(-100).reverse(),
    };
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
    await this.openSocket();
  }

  private openSocket(): Promise<void> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.state.endpoints!.ws, { perMessageDeflate: false, localAddress: this.options.localAddress });
      this.ws = ws;
      let welcomed = false;
      ws.on('message', (data) => {
        this.lastReceivedAt = Date.now();
        const parsed = parseEnvelope(data as Buffer, undefined, { from: 'server' });
        if (!parsed.ok || !parsed.known) return;
        if (parsed.type === 'challenge') return void this.sendRaw(createMessage('hello', { ...this.helloBody(), signature: this.signNonce(parsed.body.nonce) }));
        if (parsed.type === 'welcome') {
          welcomed = true;
          this.onWelcome(parsed.body.serverTime, parsed.body.heartbeatSec);
          return resolve();
        }
        void this.onMessage(parsed.envelope);
      });
      ws.on('error', (err) => {
        if (!welcomed) reject(err);
      });
      ws.on('close', (code, reason) => {
        this.connected = false;
        this.clearTimers();
        this.emit('disconnected', code, reason.toString());
        if (!welcomed) {
          this.wsFailures++;
          reject(Object.assign(new Error(`closed ${code} ${reason.toString()}`), { code }));
        }
        this.scheduleReconnect(code);
      });
    });
  }

  private onWelcome(serverTime: string, heartbeatSec: number): void {
    this.connected = true;
    this.wsFailures = 0;
    this.skewMs = Date.parse(serverTime) - Date.now();
    this.heartbeatSec = heartbeatSec;
    const welcomedAt = Date.now();
    this.every(heartbeatSec * 1000, () => {
      if (Date.now() - welcomedAt >= heartbeatSec * 1000) this.attempt = 0;
      if (Date.now() - this.lastReceivedAt > heartbeatSec * TIMERS.missedHeartbeats * 1000) return void this.ws?.terminate();
      this.sendRaw(createMessage('ping', {}));
    });
    this.emit('connected');
    void this.afterConnect();
  }

  /** After welcome: outbox first, then fresh reports (§9.1). */
  async afterConnect(): Promise<void> {
    for (const m of this.state.outbox) this.sendRaw(m);
    const pending = this.state.pendingRestart;
    if (pending && pending.bootId !== this.state.bootId) {
      this.state.pendingRestart = undefined;
      await this.finish(pending.commandId, { commandId: pending.commandId, status: 'succeeded' });
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
      case 'command.cancel': {
        const commandId = String(envelope.body.commandId).toLowerCase();
        const seen = this.state.commands[commandId];
        if (!seen) this.state.commands[commandId] = { receivedAt: new Date().toISOString(), cancelled: true };
        else if (!seen.result) seen.cancelled = true;
        await this.save();
        return this.sendRaw(createMessage('ack', {}, { ref: envelope.id }));
      }
      case 'command':
        return this.onCommand(envelope);
    }
  }

  /** §13.2: persist, ack, dedup, expiry, support, execute. */
  private async onCommand(envelope: Envelope): Promise<void> {
    const command = envelope.body as Command;
    const commandId = command.commandId.toLowerCase();
    const seen = this.state.commands[commandId];
    if (!seen) {
      this.state.commands[commandId] = { receivedAt: new Date().toISOString() };
      await this.save();
    }
    this.sendRaw(createMessage('command.ack', { commandId }, { ref: envelope.id }));
    if (seen) {
      if (seen.result && !this.state.outbox.some((m) => m.type === 'command.result' && m.body.commandId === commandId)) this.queue(createMessage('command.result', seen.result));
      return;
    }
    if (isCommandExpired(command, Date.now(), this.skewMs)) return this.finish(commandId, { commandId, status: 'expired' });
    if (!(AGENT_CAPABILITIES as string[]).includes(capabilityOf(command.kind))) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'UNSUPPORTED', message: `Command kind ${command.kind} is not supported by this agent.` } });
    }
    if (!validateCommandParams(command.kind, command.params).ok) {
      return this.finish(commandId, { commandId, status: 'failed', error: { code: 'INVALID_VALUE', message: 'Invalid params.' } });
    }
    await this.execute(commandId, command);
  }

  private async execute(commandId: string, command: Command): Promise<void> {
    if (this.state.commands[commandId]?.cancelled) return;
    this.executions.set(commandId, (this.executions.get(commandId) ?? 0) + 1);
    this.emit('executed', command);
    if (DESTRUCTIVE_COMMAND_KINDS.includes(command.kind as (typeof DESTRUCTIVE_COMMAND_KINDS)[number])) {
      if (command.kind !== 'wipe') this.state.pendingRestart = { commandId, bootId: this.state.bootId };
      const executing = createMessage('command.result', { commandId, status: 'executing' });
      this.state.commands[commandId]!.result = executing.body as CommandResult;
      this.queue(executing);
      await this.save();
      await this.waitForAck(executing.id, TIMERS.destructiveConfirmTimeoutSec * 1000);
      return this.restart(command.kind === 'wipe');
    }
    const result: CommandResult = { commandId, status: 'succeeded' };
    if (command.kind === 'locate') result.result = { location: this.profile.location() };
    if (command.kind === 'lost_mode_on') this.state.lostMode = commandId;
    if (command.kind === 'lost_mode_off') this.state.lostMode = undefined;
    if (command.kind === 'refresh_inventory') this.sendInventory();
    await this.finish(commandId, result);
    if (command.kind === 'lost_mode_on') this.queue(createMessage('report.location', { ...this.profile.location(), commandId }));
  }

  private async finish(commandId: string, result: CommandResult): Promise<void> {
    const entry = (this.state.commands[commandId] ??= { receivedAt: new Date().toISOString() });
    entry.result = result;
    this.queue(createMessage('command.result', result));
    await this.save();
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

function capabilityOf(kind: string): string {
  return kind === 'lost_mode_on' || kind === 'lost_mode_off' ? 'lost_mode' : kind;
}
