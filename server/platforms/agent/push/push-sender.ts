import type { PushMessage, PushOutcome } from '../../../../agent-protocol/src';

export type { PushMessage, PushOutcome };

/** A push provider, chosen by configuration (FCM in production). */
export interface PushSender {
  readonly provider: string;
  /** The provider project registrations must name; tokens of another project cannot be reached. */
  readonly projectId: string;
  send(message: PushMessage): Promise<PushOutcome>;
}
