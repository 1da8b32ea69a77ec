import type { Envelope, ExchangeResponse, Problem, SessionResponse, ChallengeResponse } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** The HTTPS fallback of §15: challenge, session, then exchanges paced by `pollAfterSec`. */
export class HttpsExchange {
  private token: string | undefined;
  private outgoing: Envelope[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;

  constructor(private readonly agent: SimulatedAgent) {}

  private get base(): string {
    return this.agent.state.endpoints!.http;
  }

  private async post<T>(path: string, body: unknown, token?: string): Promise<{ status: number; body: T | Problem }> {
    const res = await fetch(`${this.base}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as T | Problem };
  }

  private async openSession(): Promise<void> {
    const challenge = (await (await fetch(`${this.base}/challenge`)).json()) as ChallengeResponse;
    const { deviceId, certificate, protocol, capabilities, agent, bootId } = this.agent.helloBody();
    const res = await this.post<SessionResponse>('/session', { deviceId, certificate, protocol, capabilities, agent, bootId, nonce: challenge.nonce, signature: this.agent.signNonce(challenge.nonce) });
    if (res.status !== 200) throw Object.assign(new Error(`session refused: ${(res.body as Problem).code}`), { code: (res.body as Problem).code });
    this.token = (res.body as SessionResponse).token;
  }

  async start(): Promise<void> {
    this.running = true;
    await this.openSession();
    this.agent.connected = true;
    this.agent.emit('connected');
    await this.agent.afterConnect();
    await this.exchangeNow();
  }

  /** Non-outbox messages (command.ack, ack of a cancel) go in the next exchange only. */
  send(message: Envelope): void {
    if (!this.agent.state.outbox.includes(message)) this.outgoing.push(message);
    this.kick();
  }

  kick(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.exchangeNow(), 5);
  }

  async exchangeNow(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = this.run().finally(() => (this.busy = undefined));
    return this.busy;
  }

  private async run(): Promise<void> {
    let pollAfterSec = this.agent.heartbeatSec;
    do {
      this.again = false;
      const messages = [...this.agent.state.outbox, ...this.outgoing];
      this.outgoing = [];
      let res = await this.post<ExchangeResponse>('/exchange', { messages }, this.token).catch(() => undefined);
      if (res && res.status === 401) {
        await this.openSession().catch(() => undefined);
        res = await this.post<ExchangeResponse>('/exchange', { messages }, this.token).catch(() => undefined);
      }
      if (!res || res.status !== 200) {
        if (res?.status === 403) {
          this.stop();
          this.agent.emit('revoked');
          return;
        }
        break;
      }
      const body = res.body as ExchangeResponse;
      for (const m of body.messages) await this.agent.onMessage(m);
      pollAfterSec = body.pollAfterSec;
      if (pollAfterSec === 0 || this.outgoing.length > 0) this.again = true;
    } while (this.again && this.running);
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.exchangeNow(), Math.max(pollAfterSec, 1) * 1000);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.agent.connected = false;
  }
}
