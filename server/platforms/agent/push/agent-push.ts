import { TIMERS, type PushRegistration as WireRegistration } from '../../../../agent-protocol/src';
import type { PushRegistrationsPort, WakeUp } from '../../../domain/platform-ports';
import type { PushSender } from './push-sender';

const MAX_TTL_SEC = 28 * 24 * 3600;
const MIN_TTL_SEC = 60;
/** When only a cancellation waits, nothing expires: the wake-up is kept an hour. */
const CANCEL_TTL_SEC = 3600;
/** The only data a push ever carries (§23.3): nothing about the command, the device or its user. */
const WAKE_DATA = { cartable: 'wake' } as const;

/**
 * The push channel of the agent protocol (§23): registrations from hello, session, enrollment
 * and `push.token`, and content-free wake-ups for devices with something pending and no live
 * socket. Without a sender (push not configured) registrations are ignored and nothing is sent.
 */
export class AgentPush {
  constructor(
    private readonly sender: PushSender | undefined,
    private readonly registrations: PushRegistrationsPort,
    private readonly log: { warn(obj: object, msg: string): void },
  ) {}

  get enabled(): boolean {
    return this.sender !== undefined;
  }

  /** A registration without a token means the device can no longer be reached. */
  async register(deviceId: string, registration: Partial<WireRegistration> & { provider: string }): Promise<void> {
    const sender = this.sender;
    if (!sender || registration.provider !== sender.provider) return;
    if (!registration.token) return this.registrations.forget(deviceId);
    if (registration.projectId && registration.projectId !== sender.projectId) {
      this.log.warn({ deviceId, projectId: registration.projectId }, 'push registration for another project ignored');
      return;
    }
    await this.registrations.register(deviceId, { provider: registration.provider, token: registration.token, projectId: registration.projectId ?? null });
  }

  /** Wakes the devices among these that have something new pending; never blocks delivery on the provider. */
  async wake(deviceIds: string[]): Promise<void> {
    if (!this.sender || deviceIds.length === 0) return;
    const due = await this.registrations.claimWakeUps(deviceIds, TIMERS.pushMinIntervalSec);
    await Promise.all(due.map((wakeUp) => this.deliver(wakeUp, true)));
  }

  private async deliver(wakeUp: WakeUp, retry: boolean): Promise<void> {
    const ttlSec = wakeUp.earliestExpiry ? Math.min(MAX_TTL_SEC, Math.max(MIN_TTL_SEC, Math.floor((wakeUp.earliestExpiry.getTime() - Date.now()) / 1000))) : CANCEL_TTL_SEC;
    const outcome = await this.sender!.send({ token: wakeUp.token, data: { ...WAKE_DATA }, priority: 'high', ttlSec, collapseKey: 'cartable-wake' });
    if (outcome.ok) return;
    if (outcome.reason === 'token_invalid') return this.registrations.forget(wakeUp.deviceId, wakeUp.token);
    // One more try, at the next slot.
    if (retry) setTimeout(() => void this.deliver(wakeUp, false).catch(() => undefined), TIMERS.pushMinIntervalSec * 1000).unref();
  }
}
