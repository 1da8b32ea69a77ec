import { TIMERS, WS_CLOSE, backoffDelayMs } from '../src';

export type Transport = 'ws' | 'https';

/** What to do after an event: try again (after `delayMs`, with `transport`), or stop for good. */
export type Decision = { stop: false; transport: Transport; delayMs: number } | { stop: true };

export interface ConnectionPolicyOptions {
  /** Allow the HTTPS fallback at all (default true). */
  fallback?: boolean;
  /** Never try the WebSocket: a network that blocks it for good, or a load test of the fallback. */
  httpsOnly?: boolean;
  random?: () => number;
  probeInitialMs?: number;
  probeMaxMs?: number;
}

/** Closes after which the next attempt waits the longest delay: the server answered and refused (§9.4). */
const WAIT_LONGEST: ReadonlySet<number> = new Set([WS_CLOSE.PROTOCOL_ERROR, WS_CLOSE.AUTH_FAILED, WS_CLOSE.REPLACED]);
const LONGEST_ATTEMPT = 30;

/**
 * The reconnection rules of §9.5 and the transport choice of §15.3, without timers or sockets:
 * the agent reports what happened and gets back what to do, so the rules can be tested with a
 * controllable random source and no clock.
 */
export class ConnectionPolicy {
  /** On the HTTPS fallback: a session works and the WebSocket is only probed. */
  onFallback = false;
  private wsFailures = 0;
  private attempt = 0;
  private nextTransport: Transport;
  private probeMs: number;
  private readonly random: () => number;

  constructor(private readonly options: ConnectionPolicyOptions = {}) {
    this.random = options.random ?? Math.random;
    this.nextTransport = options.httpsOnly ? 'https' : 'ws';
    this.probeMs = this.probeInitialMs;
  }

  /** The transport of the next attempt. */
  get next(): Transport {
    return this.nextTransport;
  }

  private get probeInitialMs(): number {
    return this.options.probeInitialMs ?? TIMERS.wsProbeInitialSec * 1000;
  }

  private retry(transport: Transport, longest = false): Decision {
    this.nextTransport = this.options.httpsOnly ? 'https' : transport;
    const delayMs = backoffDelayMs(longest ? LONGEST_ATTEMPT : this.attempt, this.random);
    if (!longest) this.attempt++;
    return { stop: false, transport: this.nextTransport, delayMs };
  }

  /** A WebSocket (attempt or probe) reached `welcome`: the WebSocket is the transport again. */
  wsWelcomed(): void {
    this.wsFailures = 0;
    this.onFallback = false;
    this.nextTransport = 'ws';
    this.probeMs = this.probeInitialMs;
  }

  /** The WebSocket stayed up a full heartbeat after `welcome`. */
  wsStable(): void {
    this.attempt = 0;
  }

  /** An established WebSocket closed (after `welcome`). */
  wsClosed(code: number): Decision {
    if (code === WS_CLOSE.DEVICE_REVOKED) return { stop: true };
    return this.retry('ws', WAIT_LONGEST.has(code));
  }

  /** A WebSocket attempt did not reach `welcome`; `code` when the server closed it. */
  wsFailed(code?: number): Decision {
    if (code === WS_CLOSE.DEVICE_REVOKED) return { stop: true };
    // A 44xx close means the server answered: HTTPS would not do better.
    const answered = code !== undefined && code >= 4400 && code < 4500;
    if (!answered) this.wsFailures++;
    // The HTTPS attempt follows at once: it is the other half of the same try, and the backoff
    // comes after it. After an outage both fail together, so the next try starts on the WebSocket.
    if (!answered && this.options.fallback !== false && this.wsFailures >= TIMERS.fallbackAfterWsFailures) {
      this.nextTransport = 'https';
      return { stop: false, transport: 'https', delayMs: 0 };
    }
    return this.retry('ws', code !== undefined && WAIT_LONGEST.has(code));
  }

  /** An HTTPS attempt got its session and a first exchange through. */
  httpsSucceeded(): void {
    this.attempt = 0;
    this.onFallback = true;
    this.nextTransport = 'https';
  }

  /**
   * An HTTPS attempt or exchange failed. `status` is the HTTP status when there was an answer.
   * The next attempt is a WebSocket: when both fail, the agent alternates (§15.3 rule 4).
   */
  httpsFailed(status?: number): Decision {
    if (status === 403) return { stop: true };
    this.onFallback = false;
    return this.retry('ws', status === 401);
  }

  /** Delay before the next WebSocket probe while on the fallback, drawn in [d/2, d]. */
  nextProbeDelayMs(): number {
    return Math.round(this.probeMs / 2 + (this.random() * this.probeMs) / 2);
  }

  probeFailed(): void {
    this.probeMs = Math.min(this.probeMs * 2, this.options.probeMaxMs ?? TIMERS.wsProbeMaxSec * 1000);
  }
}
