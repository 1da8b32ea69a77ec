import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import {
  ERROR_CODE_INFO,
  SUPPORTED_PROTOCOL,
  TIMERS,
  WS_CLOSE,
  createMessage,
  parseEnvelope,
  serializeMessage,
  type Envelope,
  type ErrorCode,
  type Hello,
} from '../../../agent-protocol/src';
import type { DeviceIdentity } from '../../domain/devices';
import { commandMessages, handleAgentMessage } from './agent-messages';
import { authenticateAgent, negotiateProtocol, openingTerms, recordAgentSession } from './agent-session';
import type { AgentGateway } from './gateway';
import { newerDesiredState } from './policy-reports';
import { freshChannel, reportRequestMessage } from './report-requests';

/**
 * One agent WebSocket: challenge, hello, then the session. Kept small (10,000 of them per
 * process): timers and sets are created only when needed.
 */
export class AgentConnection {
  identity: DeviceIdentity | undefined;
  /** When the agent last sent a protocol message. WebSocket pongs do not count: a client library answers them by itself. */
  lastReceivedAt = Date.now();
  registeredAt = 0;
  private nonce: string | undefined = randomBytes(32).toString('base64');
  private helloTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private delivering = false;
  /** Commands go only after the welcome (§9.1); a nudge during the handshake is covered by the first delivery. */
  private welcomed = false;
  private readonly channel = freshChannel();
  private deliverAgain = false;
  /** Armed while a report request sent on this socket may still be unacknowledged. */
  private reportRequestTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly ws: WebSocket,
    private readonly gateway: AgentGateway,
  ) {
    this.send(createMessage('challenge', { nonce: this.nonce!, serverTime: new Date().toISOString() }));
    this.helloTimer = setTimeout(() => this.fail('hello_timeout', 'No hello within 10 seconds.'), TIMERS.helloTimeoutSec * 1000);
    ws.on('message', (data, isBinary) => this.onFrame(data as Buffer, isBinary));
    ws.on('close', () => this.onClose());
    ws.on('error', () => undefined);
  }

  send(message: Envelope): void {
    if (this.ws.readyState !== this.ws.OPEN) return;
    this.ws.send(serializeMessage(message));
    if (message.type === 'report.request') this.watchReportRequest();
  }

  /**
   * §12.7: a report request not acknowledged within the ack timeout is sent again on the same
   * socket, like a command; the check runs in the connection's message order, and stops once the
   * device holds no pending request (its `ack` cleared it).
   */
  private watchReportRequest(): void {
    clearTimeout(this.reportRequestTimer);
    this.reportRequestTimer = setTimeout(() => {
      this.reportRequestTimer = undefined;
      this.chain = this.chain.then(() => this.resendReportRequest()).catch((err: unknown) => this.gateway.log.error({ err }, 'report request re-send failed'));
    }, this.gateway.deps.ackTimeoutSec * 1000);
  }

  private async resendReportRequest(): Promise<void> {
    if (!this.identity || this.ws.readyState !== this.ws.OPEN) return;
    const request = await this.gateway.deps.inventory.pendingReportRequest(this.identity.deviceId);
    if (request) this.send(reportRequestMessage(request));
  }

  /** Sends `error` then closes with the code's close code. */
  fail(code: ErrorCode, message: string, ref?: string): void {
    this.send(createMessage('error', { code, message }, ref ? { ref } : {}));
    const info = ERROR_CODE_INFO[code] as { wsClose?: number };
    this.ws.close(info.wsClose ?? WS_CLOSE.PROTOCOL_ERROR, code);
  }

  private onFrame(data: Buffer, isBinary: boolean): void {
    this.lastReceivedAt = Date.now();
    if (isBinary) return this.fail('invalid_envelope', 'Binary frames are not part of the protocol.');
    const parsed = parseEnvelope(data, undefined, { from: 'agent' });
    if (!parsed.ok && parsed.code !== 'invalid_body') return this.fail(parsed.code, parsed.message, parsed.id);
    // The tablet spoke in time; a wait for a handshake slot is the server's, not the tablet's.
    clearTimeout(this.helloTimer);
    this.helloTimer = undefined;
    // Messages of one connection are processed in order. A handshake gives its slot back at the
    // welcome: the first delivery then waits for the hand-out's shared statement, and would keep
    // other tablets' hellos waiting meanwhile for no database work of its own.
    this.chain = this.chain
      .then(async () => {
        if (this.identity) return this.onSessionMessage(parsed);
        if (await this.gateway.handshake(() => this.onHandshake(parsed))) await this.deliverCommands(true);
      })
      .catch((err: unknown) => {
        this.gateway.log.error({ err }, 'agent connection failed');
        this.fail('server_error', 'Unexpected server error.');
      });
  }

  /** True once the device is welcomed. */
  private async onHandshake(parsed: ReturnType<typeof parseEnvelope>): Promise<boolean> {
    // A tablet that gave up while its hello waited for a slot has already gone.
    if (!this.nonce || this.ws.readyState !== this.ws.OPEN) return false;
    if (!parsed.ok) return this.refuse(parsed.code, parsed.message, parsed.id);
    if (parsed.type !== 'hello' || !parsed.known) return this.refuse('hello_required', 'The first message must be hello.', parsed.envelope.id);
    const hello: Hello = parsed.body;
    const ref = parsed.envelope.id;
    const nonce = this.nonce;
    this.nonce = undefined;
    const protocol = negotiateProtocol(hello.protocol);
    if (protocol === null) return this.refuse('unsupported_protocol', `This server speaks protocol ${SUPPORTED_PROTOCOL.min}-${SUPPORTED_PROTOCOL.max}.`, ref);
    const { deps } = this.gateway;
    const outcome = await authenticateAgent(deps.identity, hello, nonce);
    if (!outcome.ok) return this.refuse(outcome.code, outcome.message, ref);
    if (this.ws.readyState !== this.ws.OPEN) return false;
    this.identity = outcome.identity;
    // Three independent round trips at once: after a gateway restart, handshakes queue for their
    // slots, and the time a slot is held sets how fast the fleet comes back. What the hello
    // announced is on record before the welcome, so that a command issued as soon as the tablet is
    // online is checked against its capabilities.
    const [, , state] = await Promise.all([
      this.gateway.register(this),
      recordAgentSession(deps, outcome.identity.deviceId, hello, protocol, 'ws'),
      newerDesiredState(deps.desiredState, outcome.identity.deviceId, hello.appliedStateVersion),
    ]);
    this.send(createMessage('welcome', { ...openingTerms(deps.terms, protocol, outcome.renewalDue), ...state }, { ref }));
    this.welcomed = true;
    return true;
  }

  private refuse(code: ErrorCode, message: string, ref?: string): false {
    this.fail(code, message, ref);
    return false;
  }

  private async onSessionMessage(parsed: ReturnType<typeof parseEnvelope>): Promise<void> {
    const identity = this.identity!;
    this.gateway.touch(identity.deviceId);
    if (parsed.ok && parsed.known && parsed.type === 'hello') return;
    const replies = await handleAgentMessage(this.gateway.deps, identity, parsed, this.channel);
    for (const reply of replies) this.send(reply);
  }

  /**
   * Sends pending commands and cancellations (marked sent by the queue as it hands them out);
   * calls that arrive during a delivery coalesce into one more. A nudge that finds nothing to send may mean the device was just wiped or revoked:
   * then the socket is closed at once rather than at the next reconnection.
   */
  async deliverCommands(newSession = false, fromNudge = false): Promise<void> {
    if (!this.identity || !this.welcomed) return;
    if (this.delivering) {
      this.deliverAgain = true;
      return;
    }
    this.delivering = true;
    const { deps } = this.gateway;
    try {
      let fresh = newSession;
      do {
        this.deliverAgain = false;
        const messages = await commandMessages(deps, this.identity.deviceId, fresh);
        fresh = false;
        if (messages.length === 0 && fromNudge && !(await deps.identity.stillActive(this.identity))) {
          return this.fail('device_revoked', 'The device was wiped, retired or revoked.');
        }
        if (messages.length === 0 || this.ws.readyState !== this.ws.OPEN) break;
        for (const m of messages) this.send(m);
      } while (this.deliverAgain);
    } finally {
      this.delivering = false;
    }
  }

  private onClose(): void {
    clearTimeout(this.helloTimer);
    clearTimeout(this.reportRequestTimer);
    if (this.identity) this.gateway.unregister(this);
  }
}
