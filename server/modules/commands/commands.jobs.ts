import type { Logger } from '../../infra/logger';
import type { JobHandlers, Queues } from '../../infra/queues/registry';
import type { CommandsService } from './commands.service';

/** The commands capability's background work: bulk fan-out chunks and the delivery reconciler. */
export function commandJobHandlers(commands: CommandsService): Pick<JobHandlers, 'commands.fanout' | 'commands.reconcile'> {
  return {
    'commands.fanout': async (data) => ({ inserted: await commands.fanoutChunk(data) }),
    'commands.reconcile': async () => commands.reconcile(),
  };
}

const WATCHDOG_MS = 15_000;

/**
 * A Redis flush also forgets the reconciler's repeatable schedule; re-declaring it is cheap and
 * idempotent, so every worker process re-declares it periodically.
 */
export function startScheduleWatchdog(queues: Queues, log: Logger): () => void {
  const timer = setInterval(() => {
    queues.ensureSchedules().catch((err: unknown) => log.warn({ err: err instanceof Error ? err.message : String(err) }, 'could not re-declare job schedules'));
  }, WATCHDOG_MS);
  timer.unref();
  return () => clearInterval(timer);
}
