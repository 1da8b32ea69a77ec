/**
 * An in-process stand-in for a push provider (§23), for tests: agents register and get a
 * token, and whatever sends through `send()` — a server-side push sender plugged on this fake —
 * reaches the simulated agent that holds the token, in the same process.
 */
import { randomBytes } from 'node:crypto';
import type { PushMessage, PushOutcome } from '../src';

export type { PushMessage, PushOutcome };

/** The contract of a push sender, faked here and implemented for FCM by the server. */
export interface PushSender {
  send(message: PushMessage): Promise<PushOutcome>;
}

/** The side of a simulated agent that push reaches. */
export interface PushReceiver {
  onPush(data: Record<string, string>): void;
  onPushToken(token: string | undefined): void;
}

export class FakePushService implements PushSender {
  readonly provider = 'fcm';
  /** Every message accepted, in order. */
  readonly sent: PushMessage[] = [];
  /** Delivery delay, as a provider would add one. */
  latencyMs = 0;
  /** When true, the provider is unreachable: every send answers "retry". */
  down = false;
  private readonly receivers = new Map<string, PushReceiver>();

  constructor(readonly projectId = 'cartable-test') {}

  /** A new registration token for this receiver (FirebaseMessaging.getToken()). */
  register(receiver: PushReceiver): string {
    const token = `${randomBytes(8).toString('base64url')}:APA91b${randomBytes(24).toString('base64url')}`;
    this.receivers.set(token, receiver);
    return token;
  }

  /** The provider replaces a receiver's token (onNewToken); the old one becomes invalid. */
  rotate(oldToken: string): string | undefined {
    const receiver = this.receivers.get(oldToken);
    if (!receiver) return undefined;
    this.receivers.delete(oldToken);
    const token = this.register(receiver);
    receiver.onPushToken(token);
    return token;
  }

  /** The app instance loses its token (Play services removed): sends to it fail from now on. */
  unregister(token: string): void {
    this.receivers.get(token)?.onPushToken(undefined);
    this.receivers.delete(token);
  }

  async send(message: PushMessage): Promise<PushOutcome> {
    if (this.down) return { ok: false, reason: 'retry' };
    const receiver = this.receivers.get(message.token);
    if (!receiver) return { ok: false, reason: 'token_invalid' };
    this.sent.push(message);
    const deliver = () => receiver.onPush({ ...message.data });
    if (this.latencyMs > 0) setTimeout(deliver, this.latencyMs).unref();
    else setImmediate(deliver);
    return { ok: true };
  }
}
