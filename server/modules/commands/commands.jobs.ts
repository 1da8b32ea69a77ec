import type { EventEmitter } from 'node:events';
import type { Logger } from '../../infra/logger';
import type { JobHandlers, Queues } from '../../infra/queues/registry';
import type { CommandBatchesService } from './command-batches.service';
import type { CommandReconciler } from './command-reconciler.service';

/** The commands capability's background work: storing bulk batches and the reconciler. */
export function commandJobHandlers(batches: CommandBatchesService, reconciler: CommandReconciler): Pick<JobHandlers, 'commands.batch' | 'commands.reconcile'> {
  return {
    'commands.batch': async (data) => ({ stored: await batches.run(data.batchId) }),
    'commands.reconcile': async () => reconciler.reconcile(),
  };
}

const WATCHDOG_MS = 15_000;

/**
 * A Redis flush or restart also forgets the reconciler's repeatable schedule; re-declaring it is
 * cheap and idempotent, so every worker process re-declares it periodically, and at once when
 * its connection to Redis comes back.
 */
export function startScheduleWatchdog(queues: Queues, redis: Pick<EventEmitter, 'on' | 'off'>, log: Logger): () => void {
  const declare = () => {
    queues.ensureSchedules().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not re-declare job schedules'));
  };
  const timer = setInterval(declare, WATCHDOG_MS);
  timer.unref();
  redis.on('ready', declare);
  return () => {
    clearInterval(timer);
    redis.off('ready', declare);
  };
}
