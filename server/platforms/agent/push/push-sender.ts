/** One push, as a sender hands it to its provider (the fields of FCM's HTTP v1 message). */
export interface PushMessage {
  token: string;
  data: Record<string, string>;
  priority: 'high' | 'normal';
  ttlSec: number;
  collapseKey?: string;
}

/** Accepted by the provider; the token is dead (forget it); or try again later. */
export type PushOutcome = { ok: true } | { ok: false; reason: 'token_invalid' | 'retry' };

/** A push provider, chosen by configuration (FCM in production). */
export interface PushSender {
  readonly provider: string;
  /** The provider project registrations must name; tokens of another project cannot be reached. */
  readonly projectId: string;
  send(message: PushMessage): Promise<PushOutcome>;
}
