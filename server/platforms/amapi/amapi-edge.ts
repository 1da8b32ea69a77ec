import type { AmapiBindingService } from '../../modules/amapi/amapi-binding.service';
import type { AmapiDevicesService, NotificationOutcome } from '../../modules/amapi/amapi-devices.service';
import type { PubsubMessage, PushTokenVerifier } from '../../modules/amapi/amapi.port';

export interface AmapiEdgeDeps {
  binding: AmapiBindingService;
  devices: AmapiDevicesService;
  verify: PushTokenVerifier;
  /** Queues an accepted notification (deterministic job id: a replayed push is one job). */
  enqueue(message: PubsubMessage): Promise<void>;
  count(outcome: NotificationOutcome | 'bad_signature' | 'wrong_audience' | 'wrong_account'): void;
}

/** The push edge: who may push is the binding's push subscription, proven by Google's signature. */
export function createAmapiEdge(deps: AmapiEdgeDeps) {
  return {
    async acceptPush(token: string, message: PubsubMessage): Promise<'accepted' | 'ignored' | 'refused'> {
      const expected = await deps.binding.pushExpectation(message);
      if (!expected) {
        deps.count('unknown_enterprise');
        return 'ignored';
      }
      let claims: { email: string; emailVerified: boolean };
      try {
        claims = await deps.verify(token, expected.audience);
      } catch (error) {
        deps.count(/audience/i.test((error as Error).message) ? 'wrong_audience' : 'bad_signature');
        return 'refused';
      }
      if (!claims.emailVerified || claims.email !== expected.serviceAccount) {
        deps.count('wrong_account');
        return 'refused';
      }
      await deps.enqueue(message);
      return 'accepted';
    },
  };
}
export type AmapiEdge = ReturnType<typeof createAmapiEdge>;
