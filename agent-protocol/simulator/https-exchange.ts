import { MAX_HTTP_BODY_BYTES, type ChallengeResponse, type Envelope, type ExchangeResponse, type Problem, type SessionResponse } from '../src';
import type { SimulatedAgent } from './simulated-agent';

/** An HTTPS attempt or exchange that failed; `status` when the server answered. */
export class HttpsFailure extends Error {
  constructor(
    readonly status: number | undefined,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

/** Room left in a 1 MiB body for `{"messages":[...]}` and the commas. */
const BODY_BUDGET = MAX_HTTP_BODY_BYTES - 64;

/**
 * The HTTPS fallback of §15: challenge, session, then exchanges paced by `pollAfterSec`. A
 * failed exchange ends the session and is reported to the agent, whose policy decides what to
 * try next (§15.3); this class never retries on its own, except to reopen an expired session.
 */
export class HttpsExchange {
  private token: string | undefined;
  private outgoing: Envelope[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private busy: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly agent: SimulatedAgent,
    private readonly failed: (failure: HttpsFailure) => void,
  ) {}

  private get base(): string {
    return this.agent.state.endpoints!.http;
  }

  private async request<T>(path: string, init: RequestInit): Promise<{ status: number; body: T | Problem }> {
    let res: Response;
    try {
      res = await fetch(`${this.base}${path}`, { ...init, signal: AbortSignal.timeout(30_000) });
    } catch (error) {
      throw new HttpsFailure(undefined, undefined, `${path}: ${(error as Error).message}`);
    }
    const body = (await res.json().catch(() => ({}))) as T | Problem;
    return { status: res.status, body };
  }

  private post<T>(path: string, body: unknown, token?: string) {
    return this.request<T>(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify(body),
    });
  }

  private refused(res: { status: number; body: unknown }, what: string): HttpsFailure {
    const code = (res.body as Problem).code;
    return new HttpsFailure(res.status, code, `${what} refused: ${res.status} ${code ?? ''}`);
  }

  private async openSession(): Promise<void> {
    const challenge = await this.request<ChallengeResponse>('/challenge', { method: 'GET' });
    if (challenge.status !== 200) throw this.refused(challenge, 'challenge');
    const { nonce } = challenge.body as ChallengeResponse;
    const res = await this.post<SessionResponse>('/session', { ...this.agent.helloBody(), nonce, signature: this.agent.signNonce(nonce) });
    if (res.status !== 200) throw this.refused(res, 'session');
    const session = res.body as SessionResponse;
    this.token = session.token;
    this.agent.onChannelOpened(session);
  }

  /** An HTTPS attempt: a session and a first exchange. Throws `HttpsFailure` if either fails. */
  async start(): Promise<void> {
    this.running = true;
    try {
      await this.openSession();
      // Kicks during the first exchange (command acks) join it instead of running beside it.
      const first = this.exchange();
      this.busy = first.then(
        () => undefined,
        () => undefined,
      ).finally(() => (this.busy = undefined));
      await first;
    } catch (error) {
      this.stop();
      throw error;
    }
  }

  /** Non-outbox messages (command.ack, acks of a cancel or a report request) go in the next exchange only. */
  send(message: Envelope): void {
    if (!this.agent.state.outbox.includes(message)) this.outgoing.push(message);
    // An exchange in flight goes round once more; otherwise the kick starts one.
    this.again = true;
    this.kick();
  }

  kick(): void {
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.exchangeNow(), 5);
  }

  /** Exchanges at once (a push wake-up, something to send); a failure ends the session. */
  async exchangeNow(): Promise<void> {
    if (this.busy) {
      this.again = true;
      return this.busy;
    }
    this.busy = this.exchange()
      .catch((error: unknown) => {
        if (!this.running) return;
        this.stop();
        this.failed(error instanceof HttpsFailure ? error : new HttpsFailure(undefined, undefined, String(error)));
      })
      .finally(() => (this.busy = undefined));
    return this.busy;
  }

  /** The oldest messages that fit in one body (§15.2); the rest go in the next exchange. */
  private batch(): { messages: Envelope[]; more: boolean } {
    const all = [...this.agent.state.outbox, ...this.outgoing];
    const messages: Envelope[] = [];
    let bytes = 0;
    for (const m of all) {
      const size = Buffer.byteLength(JSON.stringify(m), 'utf8') + 1;
      if (messages.length > 0 && bytes + size > BODY_BUDGET) break;
      messages.push(m);
      bytes += size;
    }
    const sentOutgoing = new Set(messages);
    this.outgoing = this.outgoing.filter((m) => !sentOutgoing.has(m));
    return { messages, more: messages.length < all.length };
  }

  private async exchange(): Promise<void> {
    let pollAfterSec = this.agent.heartbeatSec;
    do {
      this.again = false;
      const { messages, more } = this.batch();
      let res = await this.post<ExchangeResponse>('/exchange', { messages }, this.token);
      if (res.status === 401 && (res.body as Problem).code === 'session_expired') {
        await this.openSession();
        res = await this.post<ExchangeResponse>('/exchange', { messages }, this.token);
      }
      if (res.status !== 200) throw this.refused(res, 'exchange');
      const body = res.body as ExchangeResponse;
      if (body.serverTime) this.agent.onServerTime(body.serverTime);
      this.agent.onExchanged();
      for (const m of body.messages) await this.agent.onMessage(m);
      pollAfterSec = body.pollAfterSec;
      if (pollAfterSec === 0 || more || this.outgoing.length > 0) this.again = true;
    } while (this.again && this.running);
    if (!this.running) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.exchangeNow(), Math.max(pollAfterSec, 1) * 1000);
  }

  get active(): boolean {
    return this.running;
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.token = undefined;
  }
}
