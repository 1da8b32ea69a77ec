import type { JobHandlers } from '../../infra/queues/registry';
import type { RetentionService } from './retention.service';

/** The privacy capability's background work: the daily retention purge (idempotent, resumable). */
export function privacyJobHandlers(retention: RetentionService): Pick<JobHandlers, 'privacy.retention'> {
  return {
    'privacy.retention': async () => retention.run(),
  };
}
