import type { PushRegistration, PushRegistrationsPort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import * as repo from './device-push.repository';

/** The latest push registration of each device, and the wake-ups due to it. */
export function createDevicePushService({ db }: { db: Db }): PushRegistrationsPort {
  return {
    register: (deviceId: string, registration: PushRegistration) => repo.upsertRegistration(db, deviceId, registration),
    forget: (deviceId: string, token?: string) => repo.removeRegistration(db, deviceId, token),
    claimWakeUps: (deviceIds: string[], minIntervalSec: number) => (deviceIds.length === 0 ? Promise.resolve([]) : repo.claimWakeUps(db, deviceIds, minIntervalSec)),
  };
}
