import WebSocket from 'ws';
import { TIMERS, WS_CLOSE, type Envelope, type Welcome } from '../src';
import { revertIdentity } from './certificate-renewal';
import { ConnectionPolicy, type Decision } from './connection-policy';
import { HttpsExchange, type HttpsFailure } from './https-exchange';
import type { SimulatedAgent } from './simulated-agent';
import { openWsSession } from './ws-session';

/**
 * The agent's channel to the server: one WebSocket or HTTPS attempt at a time, the backoff of
 * §9.5, the transport rules and WebSocket probes of §15.3, sleep (Doze) and push wake-ups.
 */
export class AgentConnection {
  /** Closed by the owner (close, restart): nothing reconnects. */
  closing = false;
  /** Asleep (Doze): no connection, no reconnection, until a wake-up. */
  asleep = false;
  private channel: 'ws' | 'https' | undefined;
  private readonly policy: ConnectionPolicy;
  private heartbeats = new Set<NodeJS.Timeout>();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private probeTimer: NodeJS.Timeout | undefined;
  private https: HttpsExchange | undefined;

  constructor(private readonly agent: SimulatedAgent) {
    const { options } = agent;
    this.policy = new ConnectionPolicy({
      fallback: options.fallback,
      httpsOnly: options.transport === 'https',
      random: options.random,
      probeInitialMs: options.wsProbeInitialMs,
      probeMaxMs: options.wsProbeMaxMs,
    });
  }

  /** The transport in use, or the one the next attempt will use. */
  get transport(): 'ws' | 'https' {
    return this.channel ?? this.policy.next;
  }

  /** One attempt with the transport §15.3 picks; resolves at `welcome` or at the first exchange. */
  attempt(): Promise<void> {
    this.closing = false;
    this.asleep = false;
    clearTimeout(this.reconnectTimer);
    return this.policy.next === 'https' ? this.attemptHttps() : this.attemptWs(false);
  }

  private attemptWs(probe: boolean): Promise<void> {
    return openWsSession(
      this.agent,
      {
        welcomed: (welcome) => this.onWsWelcome(welcome),
        stable: () => this.policy.wsStable(),
        closed: (code, reason, beforeWelcome) => {
          if (probe && beforeWelcome) {
            this.policy.probeFailed();
            return this.scheduleProbe();
          }
          this.onWsClosed(code, reason, beforeWelcome);
        },
      },
      this.agent.options.attemptTimeoutMs ?? TIMERS.connectAttemptTimeoutSec * 1000,
    );
  }

  private async attemptHttps(): Promise<void> {
    this.https ??= new HttpsExchange(this.agent, (failure) => this.onHttpsFailed(failure));
    try {
      await this.https.start();
    } catch (error) {
      this.onHttpsFailed(error as HttpsFailure);
      throw error;
    }
  }

  private onWsWelcome(welcome: Welcome): void {
    this.policy.wsWelcomed();
    const switched = this.channel === 'https';
    this.https?.stop();
    clearTimeout(this.probeTimer);
    this.channel = 'ws';
    this.agent.connected = true;
    this.agent.onChannelOpened(welcome);
    this.agent.emit(switched ? 'transport' : 'connected', 'ws');
    void this.agent.afterConnect();
  }

  private onWsClosed(code: number, reason: string, beforeWelcome: boolean): void {
    if (this.channel === 'ws') {
      this.channel = undefined;
      this.agent.connected = false;
    }
    this.clearHeartbeats();
    this.agent.emit('disconnected', code, reason);
    // A new certificate refused before it ever worked: the previous one is still valid (§20.3).
    if (beforeWelcome && code === WS_CLOSE.AUTH_FAILED && revertIdentity(this.agent.state)) void this.agent.save();
    this.follow(beforeWelcome ? this.policy.wsFailed(code) : this.policy.wsClosed(code));
  }

  private onHttpsFailed(failure: HttpsFailure): void {
    clearTimeout(this.probeTimer);
    if (this.channel === 'https') {
      this.channel = undefined;
      this.agent.connected = false;
      this.agent.emit('disconnected', 0, failure.message);
    }
    if (failure.status === 401 && failure.code !== 'session_expired' && revertIdentity(this.agent.state)) void this.agent.save();
    this.follow(this.policy.httpsFailed(failure.status));
  }

  /** After each successful exchange; the first one of a session opens the HTTPS channel. */
  onExchanged(): void {
    if (this.channel === 'https') return;
    this.policy.httpsSucceeded();
    this.channel = 'https';
    this.agent.connected = true;
    this.agent.emit('connected', 'https');
    if (this.agent.options.transport !== 'https') {
      this.agent.emit('fallback');
      this.scheduleProbe();
    }
    void this.agent.afterConnect();
  }

  private follow(decision: Decision): void {
    if (decision.stop) return void this.agent.emit('revoked');
    if (this.closing || this.asleep || this.agent.options.reconnect === false) return;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.agent.connect().catch(() => undefined), decision.delayMs);
  }

  private scheduleProbe(): void {
    clearTimeout(this.probeTimer);
    if (this.closing || this.asleep || this.agent.options.transport === 'https' || this.channel !== 'https') return;
    this.probeTimer = setTimeout(() => void this.attemptWs(true).catch(() => undefined), this.policy.nextProbeDelayMs());
  }

  send(message: Envelope): void {
    if (this.channel === 'https' && this.https?.active) return this.https.send(message);
    const ws = this.agent.ws;
    if (ws?.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  /** A push wake-up (§23.4): exchange or connect at once, unless a WebSocket is up. */
  wake(): void {
    this.asleep = false;
    if (this.channel === 'ws' && this.agent.connected) return;
    if (this.channel === 'https') return void this.https?.exchangeNow();
    void this.agent.connect().catch(() => undefined);
  }

  every(ms: number, fn: () => void): void {
    this.heartbeats.add(setInterval(fn, ms));
  }

  private clearHeartbeats(): void {
    for (const t of this.heartbeats) clearInterval(t);
    this.heartbeats.clear();
  }

  /** Drops every channel and timer; with `asleep`, a wake-up may bring the connection back. */
  async shutDown(mode: 'close' | 'sleep'): Promise<void> {
    if (mode === 'close') this.closing = true;
    else this.asleep = true;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.probeTimer);
    this.clearHeartbeats();
    this.https?.stop();
    if (this.channel === 'https') this.channel = undefined;
    const ws = this.agent.ws;
    if (ws && ws.readyState !== WebSocket.CLOSED) {
      await new Promise<void>((resolve) => {
        ws.once('close', () => resolve());
        ws.close(WS_CLOSE.NORMAL);
      });
    }
    this.agent.connected = false;
  }
}
