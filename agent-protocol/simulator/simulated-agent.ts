import { EventEmitter } from 'node:events';
import type WebSocket from 'ws';
import { TIMERS, createMessage, type CertificateIssued, type DesiredState, type EnrollResponse, type Envelope, type ReportApps, type Welcome } from '../src';
import { applyDesiredState, type PolicyVerdict } from './policy';
import { LocationReporter } from './location-reporter';
import { AgentConnection } from './agent-connection';
import { abandonRenewal, acceptIssued, confirmIdentity, renewalDue, startRenewal } from './certificate-renewal';
import { AGENT_CAPABILITIES, CommandRunner } from './command-runner';
import { deviceProfile, type DeviceProfile } from './device-profile';
import { appsReport } from './app-installer';
import { helloBody, requestEnrollment, signNonce, type Announcement } from './identity';
import { DEFAULT_OUTBOX_LIMITS, enqueue, type FreshReports, type OutboxLimits } from './outbox';
import type { FakePushService, PushReceiver } from './push';
import { MemoryStateStore, freshState, type AgentState, type AgentStateStore } from './state';

export { EnrollmentError } from './identity';

export interface SimulatedAgentOptions {
  serverUrl: string;
  token?: string;
  state?: AgentStateStore;
  /** 'https': HTTPS only, never a WebSocket (a network that blocks it). Default 'ws', with the §15.3 rules. */
  transport?: 'ws' | 'https';
  /** Picks the simulated tablet's serial, model and MAC. */
  index?: number;
  /** Source address for the sockets (to spread many agents over 127.0.0.x). */
  localAddress?: string;
  /** Allow the HTTPS fallback of §15.3 (default true). */
  fallback?: boolean;
  /** Reconnect after a close or a failure (default true). */
  reconnect?: boolean;
  /** Send status, inventory and apps after each welcome (default true). */
  reportOnConnect?: boolean;
  /** Capabilities announced at enrollment and in hello (default `AGENT_CAPABILITIES`). */
  capabilities?: string[];
  /** A push provider to register with (§23); wake-ups from it make the agent connect at once. */
  push?: FakePushService;
  /** Renew the certificate when due or asked, if the server offers it (§20; default true). */
  renewCertificates?: boolean;
  /** What the tablet does with each policy it is given (default: applies it whole). */
  policyVerdict?: (desired: DesiredState) => PolicyVerdict | undefined;
  /** Delay before a non-destructive command runs (a busy tablet), during which a cancel can land. */
  executionDelayMs?: number;
  /** §15.3 probe timers and the attempt timeout, shortened by tests. */
  wsProbeInitialMs?: number;
  wsProbeMaxMs?: number;
  attemptTimeoutMs?: number;
  outboxLimits?: Partial<OutboxLimits>;
  random?: () => number;
  /** The tablet's clock for periodic location (default: the server clock as measured, §21); tests move their own. */
  clock?: () => Date;
  /** Checks every this many ms whether a periodic location report is due (§27.4); unset: only when `location.tick()` is called. */
  locationTickMs?: number;
}

/**
 * A reference agent speaking protocol version 1, revision 1.1, as a tablet would: enrollment,
 * signed hello, numbered outbox with acks and a bound, commands executed at most once and never
 * once cancelled, backoff and the transport rules of §15.3, certificate renewal, push wake-ups.
 * Events: enrolled, connected, disconnected(code, reason), message(envelope), executed(command),
 * cancelled(commandId), error-message(body, ref), fallback, transport(name), revoked, wiped,
 * rebooted, renewal-requested, renewed, renewal-refused(reason), woken, outbox-dropped(messages).
 */
export class SimulatedAgent extends EventEmitter implements PushReceiver {
  readonly executions = new Map<string, number>();
  readonly profile: DeviceProfile;
  readonly capabilities: string[];
  state!: AgentState;
  ws: WebSocket | undefined;
  connected = false;
  heartbeatSec: number = TIMERS.defaultHeartbeatSec;
  /** What the server announced in its last welcome or session answer. */
  serverCapabilities: string[] = [];
  private readonly connection: AgentConnection;
  private readonly store: AgentStateStore;
  private readonly runner: CommandRunner;
  private readonly outboxLimits: OutboxLimits;
  private readonly fresh: FreshReports;
  private ackWaiters = new Map<string, () => void>();
  private pushRegistered = false;
  /** Periodic location under the policy's `locationReporting`. */
  readonly location: LocationReporter;

  constructor(readonly options: SimulatedAgentOptions) {
    super();
    this.store = options.state ?? new MemoryStateStore();
    this.profile = deviceProfile(options.index ?? 0);
    this.capabilities = options.capabilities ?? AGENT_CAPABILITIES;
    this.connection = new AgentConnection(this);
    this.runner = new CommandRunner(this, (mode) => this.restart(mode), options.executionDelayMs);
    this.outboxLimits = { ...DEFAULT_OUTBOX_LIMITS, ...options.outboxLimits };
    this.location = new LocationReporter(this, options.clock ?? (() => new Date(Date.now() + (this.state?.clockOffsetMs ?? 0))));
    if (options.locationTickMs) this.location.start(options.locationTickMs);
    this.fresh = {
      apps: () => createMessage('report.apps', this.appsReport()),
      inventory: () => createMessage('report.inventory', this.profile.inventory()),
    };
  }

  get deviceId(): string | undefined {
    return this.state?.deviceId;
  }

  /** The transport in use, or the one the next attempt will use. */
  get transport(): 'ws' | 'https' {
    return this.connection.transport;
  }

  /** Asleep (Doze): no connection, no reconnection, until a push wake-up. */
  get asleep(): boolean {
    return this.connection.asleep;
  }

  /** Reads the stored state (identity, outbox, seen commands), or starts a fresh one. */
  async load(): Promise<void> {
    this.state ??= (await this.store.load()) ?? freshState();
    if (this.options.push && !this.pushRegistered) {
      this.state.pushToken = this.options.push.register(this);
      this.pushRegistered = true;
    }
  }

  /** Persists the state; a failed write is reported, not thrown into the message loop. */
  save(): Promise<void> {
    return this.store.save(this.state).catch((error: unknown) => void this.emit('state-error', error));
  }

  private announce(): Announcement {
    const push = this.options.push;
    return {
      capabilities: this.capabilities,
      ...(push && this.state.pushToken ? { push: { provider: push.provider, token: this.state.pushToken, projectId: push.projectId } } : {}),
    };
  }

  /** POST /agent/v1/enroll with a fresh EC P-256 key (reused on retries of the same enrollment). */
  async enroll(token = this.options.token): Promise<EnrollResponse> {
    await this.load();
    if (!token) throw new Error('enroll() needs an enrollment token');
    const enrolled = await requestEnrollment(this.options.serverUrl, token, this.state, this.profile, this.announce());
    Object.assign(this.state, { deviceId: enrolled.deviceId, certificate: enrolled.certificate, chain: enrolled.chain, endpoints: enrolled.endpoints, nextSeq: 1 });
    this.heartbeatSec = enrolled.heartbeatSec;
    if (enrolled.serverTime) this.onServerTime(enrolled.serverTime);
    this.queue(createMessage('report.events', { events: [{ kind: 'enrollment_complete', at: this.serverNow() }] }));
    await this.applyDesiredState(enrolled.desiredState);
    await this.save();
    this.emit('enrolled', enrolled);
    return enrolled;
  }

  /**
   * §22: enrolls again with a new key, proving the identity it holds; the old identity's outbox
   * is dropped and numbering restarts. Without a link (`previousDeviceId` absent) it is a plain
   * enrollment. A refused proof leaves the old identity in place.
   */
  async reenroll(token: string): Promise<EnrollResponse> {
    await this.load();
    const previous = { deviceId: this.state.deviceId!, certificate: this.state.certificate!, privateKeyPem: this.state.privateKeyPem! };
    this.state.privateKeyPem = undefined;
    let enrolled: EnrollResponse;
    try {
      enrolled = await requestEnrollment(this.options.serverUrl, token, this.state, this.profile, this.announce(), previous);
    } catch (error) {
      this.state.privateKeyPem = previous.privateKeyPem;
      throw error;
    }
    Object.assign(this.state, { deviceId: enrolled.deviceId, certificate: enrolled.certificate, chain: enrolled.chain, endpoints: enrolled.endpoints, nextSeq: 1, outbox: [], renewal: undefined, previousIdentity: undefined });
    if (enrolled.serverTime) this.onServerTime(enrolled.serverTime);
    const data = enrolled.previousDeviceId ? { previousDeviceId: enrolled.previousDeviceId } : undefined;
    this.queue(createMessage('report.events', { events: [{ kind: 'enrollment_complete', at: this.serverNow(), ...(data ? { data } : {}) }] }));
    await this.save();
    this.emit('enrolled', enrolled);
    return enrolled;
  }

  /** The signature of §8 over the nonce exactly as received. */
  signNonce(nonce: string): string {
    return signNonce(this.state, nonce);
  }

  helloBody() {
    return helloBody(this.state, this.profile, this.announce());
  }

  /** One attempt with the transport §15.3 picks; resolves at `welcome` or at the first exchange. */
  async connect(): Promise<void> {
    await this.load();
    if (!this.state.deviceId) throw new Error('connect() needs an enrolled agent');
    return this.connection.attempt();
  }

  /** Called by the HTTPS exchange after each successful exchange. */
  onExchanged(): void {
    this.connection.onExchanged();
  }

  /** A welcome or a session answer: the identity worked, and the server said what it offers. */
  onChannelOpened(info: Partial<Pick<Welcome, 'serverTime' | 'heartbeatSec' | 'capabilities' | 'renewCertificate' | 'desiredState'>>): void {
    if (info.desiredState) void this.applyDesiredState(info.desiredState);
    if (this.state.previousIdentity) {
      confirmIdentity(this.state);
      void this.save();
    }
    if (info.serverTime) this.onServerTime(info.serverTime);
    if (info.heartbeatSec) this.heartbeatSec = info.heartbeatSec;
    this.serverCapabilities = info.capabilities ?? [];
    void this.maybeRenew(info.renewCertificate === true);
  }

  /** §27.3: applies a newer desired state and reports the outcome as an event. */
  applyDesiredState(desired: DesiredState): Promise<'applied' | 'rejected' | 'ignored'> {
    return applyDesiredState(this, desired, this.options.policyVerdict);
  }

  onServerTime(serverTime: string): void {
    this.state.clockOffsetMs = Date.parse(serverTime) - Date.now();
    this.runner.skewMs = this.state.clockOffsetMs;
  }

  /** Now, on the server clock (§21). */
  serverNow(): string {
    return new Date(Date.now() + (this.state.clockOffsetMs ?? 0)).toISOString();
  }

  private async maybeRenew(asked: boolean): Promise<void> {
    if (this.options.renewCertificates === false || !this.serverCapabilities.includes('certificate_renewal')) return;
    if (this.state.renewal || !this.state.certificate) return;
    if (!asked && !renewalDue(this.state.certificate, Date.now() + (this.state.clockOffsetMs ?? 0))) return;
    await this.renewCertificate();
  }

  /** Sends a `certificate.renew` for a new key now (§20.2). */
  async renewCertificate(): Promise<void> {
    this.queue(await startRenewal(this.state));
    await this.save();
    this.emit('renewal-requested');
  }

  /** After welcome: outbox first, then fresh reports (§9.1). */
  async afterConnect(): Promise<void> {
    for (const m of this.state.outbox) this.sendRaw(m);
    const pending = this.state.pendingRestart;
    if (pending && pending.bootId !== this.state.bootId) {
      this.state.pendingRestart = undefined;
      await this.runner.finish(pending.commandId, { commandId: pending.commandId, status: 'succeeded' });
    }
    const update = this.state.pendingUpdate;
    if (update) {
      this.state.pendingUpdate = undefined;
      const running = this.profile.agent.versionCode;
      await this.runner.finish(
        update.commandId,
        running >= update.versionCode
          ? { commandId: update.commandId, status: 'succeeded', result: { versionCode: running } }
          : { commandId: update.commandId, status: 'failed', error: { code: 'UNKNOWN', message: `Still at versionCode ${running} after the update to ${update.versionCode}.` } },
      );
    }
    if (this.options.reportOnConnect === false) return;
    this.queue(createMessage('report.status', this.profile.status()));
    const stale = !this.state.inventoryAckedAt || Date.now() - Date.parse(this.state.inventoryAckedAt) > 24 * 3600_000;
    if (stale) this.sendInventory();
  }

  sendInventory(): void {
    this.queue(createMessage('report.inventory', this.profile.inventory()));
    this.queue(createMessage('report.apps', this.appsReport()));
  }

  /** The full app list: the profile's apps as changed by install_app and remove_app. */
  appsReport(): ReportApps {
    return appsReport(this.state, this.profile.apps());
  }

  /** A real agent reports its apps again when a package is added or removed. */
  sendApps(): void {
    this.queue(this.fresh.apps());
  }

  /** Puts an outbox message in the outbox (numbered, within the bound) and sends it if a channel is open. */
  queue(message: Envelope): void {
    const dropped = enqueue(this.state, message, this.fresh, this.outboxLimits);
    if (dropped.length > 0) this.emit('outbox-dropped', dropped);
    if (this.connected && this.state.outbox.includes(message)) this.sendRaw(message);
  }

  sendRaw(message: Envelope): void {
    this.connection.send(message);
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
      case 'ack':
        return this.onAck(envelope.ref!);
      case 'nudge':
        for (const m of this.state.outbox) this.sendRaw(m);
        return this.queue(createMessage('report.status', this.profile.status()));
      case 'error':
        if (envelope.ref && envelope.ref === this.state.renewal?.messageId) this.renewalFailed(String(envelope.body.code));
        return void this.emit('error-message', envelope.body, envelope.ref);
      case 'command.cancel':
        return this.runner.cancel(envelope);
      case 'command':
        return this.runner.receive(envelope);
      case 'report.request':
        return this.onReportRequest(envelope);
      case 'certificate.issued':
        return this.onCertificateIssued(envelope);
    }
  }

  private async onAck(ref: string): Promise<void> {
    const index = this.state.outbox.findIndex((m) => m.id === ref);
    if (index >= 0) {
      const [acked] = this.state.outbox.splice(index, 1);
      if (acked?.type === 'report.inventory') this.state.inventoryAckedAt = new Date().toISOString();
      // Acked without a certificate (the server discarded it): this key will never be certified.
      if (acked?.type === 'certificate.renew' && this.state.renewal?.messageId === ref) this.renewalFailed('no certificate');
      await this.save();
    }
    this.ackWaiters.get(ref)?.();
    this.ackWaiters.delete(ref);
  }

  /** §12.7: ack, then the requested reports as new outbox messages. */
  private async onReportRequest(envelope: Envelope): Promise<void> {
    this.sendRaw(createMessage('ack', {}, { ref: envelope.id }));
    const kinds = new Set(envelope.body.kinds as string[]);
    if (kinds.has('inventory')) this.queue(this.fresh.inventory());
    if (kinds.has('apps')) this.queue(this.fresh.apps());
    if (kinds.has('status')) this.queue(createMessage('report.status', this.profile.status()));
    await this.save();
  }

  private async onCertificateIssued(envelope: Envelope): Promise<void> {
    if (!envelope.ref || envelope.ref !== this.state.renewal?.messageId) return;
    const refused = acceptIssued(this.state, envelope.body as CertificateIssued);
    if (refused) return this.renewalFailed(refused);
    await this.save();
    this.emit('renewed', this.state.certificate);
  }

  private renewalFailed(reason: string): void {
    abandonRenewal(this.state);
    void this.save();
    this.emit('renewal-refused', reason);
  }

  /** A push arrived (§23.4): anything but a wake-up is ignored. */
  onPush(data: Record<string, string>): void {
    if (data.cartable !== 'wake' || (this.connection.closing && !this.asleep)) return;
    this.emit('woken');
    this.connection.wake();
  }

  /** The provider gave a new token, or took it away (§23.2). */
  onPushToken(token: string | undefined): void {
    this.state.pushToken = token;
    if (this.connected && this.serverCapabilities.includes('push')) {
      this.queue(createMessage('push.token', { provider: this.options.push?.provider ?? 'fcm', ...(token ? { token, projectId: this.options.push?.projectId } : {}) }));
    }
    void this.save();
  }

  /** Doze: the connection goes and nothing reconnects it until a push wake-up (or connect()). */
  sleep(): Promise<void> {
    return this.connection.shutDown('sleep');
  }

  /**
   * Simulates the reboot (new boot id, reconnect), the wipe (identity gone, agent stops) or the
   * replacement of the agent by its update (same boot, the new version reconnects).
   */
  private async restart(mode: 'reboot' | 'wipe' | 'update'): Promise<void> {
    await this.connection.shutDown('close');
    if (mode === 'update') {
      setTimeout(() => void this.connect().catch(() => undefined), 50);
      return;
    }
    if (mode === 'wipe') {
      this.state = freshState();
      await this.save();
      return void this.emit('wiped');
    }
    this.state.bootId = freshState().bootId;
    await this.save();
    this.emit('rebooted');
    setTimeout(() => void this.connect().catch(() => undefined), 50);
  }

  every(ms: number, fn: () => void): void {
    this.connection.every(ms, fn);
  }

  close(): Promise<void> {
    this.location.stop();
    return this.connection.shutDown('close');
  }
}
