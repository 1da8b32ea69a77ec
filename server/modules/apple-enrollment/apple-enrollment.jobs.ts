import type { JobHandlers } from '../../infra/queues/registry';
import type { AppleEnrollmentService } from './apple-enrollment.service';

/** iPad enrollment's background work: one-time challenges do not outlive their use. */
export function appleEnrollmentJobHandlers(enrollment: AppleEnrollmentService): Pick<JobHandlers, 'apple.challenges.purge'> {
  return {
    'apple.challenges.purge': async () => ({ deleted: await enrollment.purgeExpiredChallenges() }),
  };
}
