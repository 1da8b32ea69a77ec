import { Queue, Worker, type ConnectionOptions, type Job, type JobsOptions } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../logger';

/**
 * Every queue, every job type and its payload, in one place. Enqueueing is type-checked per job,
 * and a worker process refuses to start when a job type has no handler.
 */
export interface JobPayloads {
  /** Store the command rows of a bulk batch (its outbox row says what and for whom). */
  'commands.batch': { batchId: string };
  /** Advance one campaign now: settle outcomes and waves, fan out to the schools whose window is open. */
  'campaigns.advance': { campaignId: string };
  /** Advance every running campaign (outcomes, promotions, free slots, joining devices). */
  'campaigns.tick': Record<string, never>;
  /** Find in-flight commands and batches whose work vanished, and resume them. */
  'commands.reconcile': Record<string, never>;
  /** Carry a profile change to the devices whose effective set it changes (its outbox row says which). */
  'profiles.rollout': { rolloutId: string };
  /** Sign a checkpoint of every audit chain whose head moved since its last one. */
  'audit.checkpoint': Record<string, never>;
  /** Delete the SCEP challenges of iPad enrollment profiles that expired a day ago or more. */
  'apple.challenges.purge': Record<string, never>;
  /** Purge what is past its retention period, organisation by organisation (docs/privacy.md). */
  'privacy.retention': Record<string, never>;
  /** One attempt at posting a webhook delivery (retried with backoff by the queue). */
  'webhooks.deliver': { deliveryId: string };
  /** Queue again the pending webhook deliveries whose job vanished. */
  'webhooks.sweep': Record<string, never>;
  /** Tell the organisation's recipients that a tablet left (or came back into) its school's perimeter. */
  'location.alert': { alertId: string };
  /** Hand the pending commands of AMAPI tablets to Google (a quota wait holds a worker, never a request). */
  'amapi.dispatch': { deviceIds: string[] };
  /** One Google Pub/Sub notification received by push. */
  'amapi.notification': { messageId: string; publishTime: string; data?: string; attributes?: Record<string, string> };
  /** Pull notifications and poll open operations of every bound enterprise. */
  'amapi.sync': Record<string, never>;
  /** List every AMAPI device and retire used-up Google tokens: a missed notification loses nothing. */
  'amapi.reconcile': Record<string, never>;
}
export type JobName = keyof JobPayloads;

export const QUEUE_OF = {
  'commands.batch': 'commands',
  'commands.reconcile': 'maintenance',
  'campaigns.advance': 'campaigns',
  'campaigns.tick': 'campaigns',
  'profiles.rollout': 'commands',
  'audit.checkpoint': 'maintenance',
  'apple.challenges.purge': 'maintenance',
  'privacy.retention': 'maintenance',
  'webhooks.deliver': 'webhooks',
  'webhooks.sweep': 'maintenance',
  'location.alert': 'maintenance',
  'amapi.dispatch': 'commands',
  'amapi.notification': 'commands',
  'amapi.sync': 'maintenance',
  'amapi.reconcile': 'maintenance',
} as const satisfies Record<JobName, string>;
export type QueueName = (typeof QUEUE_OF)[JobName];
export const QUEUE_NAMES = [...new Set(Object.values(QUEUE_OF))] as QueueName[];
export const JOB_NAMES = Object.keys(QUEUE_OF) as JobName[];

/**
 * Repeatable jobs, re-declared at every worker start and by the watchdog (a Redis flush forgets
 * them). A period runs at once when declared; a cron pattern waits for its time, which suits
 * nightly work that need not run at every worker start.
 */
export const SCHEDULES: ({ job: JobName; everyMs: number } | { job: JobName; pattern: string; tz: string })[] = [
  { job: 'commands.reconcile', everyMs: 5_000 },
  { job: 'campaigns.tick', everyMs: 2_000 },
  { job: 'audit.checkpoint', everyMs: 15 * 60_000 },
  { job: 'apple.challenges.purge', everyMs: 60 * 60_000 },
  { job: 'privacy.retention', pattern: '30 2 * * *', tz: 'Europe/Paris' },
  { job: 'webhooks.sweep', everyMs: 60_000 },
  { job: 'amapi.sync', everyMs: 30_000 },
  { job: 'amapi.reconcile', everyMs: 15 * 60_000 },
];

/**
 * A job whose worker died is taken over once its lock expires and a stalled check sees it: about
 * `lockDuration + stalledInterval` (BullMQ's defaults make that a minute). Every job here is
 * idempotent, so a short lock costs at most a harmless second run if a worker's event loop ever
 * stalls for longer than the lock; the reconciler covers the rest within its own period.
 */
export const WORKER_LOCKS = { lockDuration: 6_000, stalledInterval: 3_000, maxStalledCount: 5 } as const;

export type JobHandler<N extends JobName> = (data: JobPayloads[N], job: Job<JobPayloads[N]>) => Promise<unknown>;
export type JobHandlers = { [N in JobName]: JobHandler<N> };

export interface QueueOptions {
  connection: ConnectionOptions;
  prefix: string;
}

export class Queues {
  private readonly queues = new Map<QueueName, Queue>();

  constructor(private readonly options: QueueOptions) {
    for (const name of QUEUE_NAMES) {
      const queue = new Queue(name, { connection: options.connection, prefix: options.prefix });
      queue.on('error', () => undefined); // surfaced through /readyz, not by crashing
      this.queues.set(name, queue);
    }
  }

  queue(name: QueueName): Queue {
    return this.queues.get(name)!;
  }

  /** Jobs carry deterministic ids where a retry of the caller must not enqueue twice. */
  add<N extends JobName>(name: N, data: JobPayloads[N], opts: JobsOptions = {}): Promise<Job> {
    return this.queue(QUEUE_OF[name]).add(name, data, opts);
  }

  async ensureSchedules(): Promise<void> {
    for (const s of SCHEDULES) {
      const repeat = 'pattern' in s ? { pattern: s.pattern, tz: s.tz } : { every: s.everyMs };
      await this.queue(QUEUE_OF[s.job]).upsertJobScheduler(s.job, repeat, { name: s.job, data: {} });
    }
  }

  async counts(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, queue] of this.queues) out[name] = await queue.getJobCounts('waiting', 'active', 'delayed', 'failed', 'completed');
    return out;
  }

  /** Closes the queues and the connection they were given, which they share and do not own. */
  async close(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    if (this.options.connection instanceof Redis) this.options.connection.disconnect();
  }
}

export interface WorkerSet {
  /** Lets running jobs finish for up to `graceMs`, then stops anyway: every job is idempotent and resumed elsewhere. */
  close(graceMs?: number): Promise<void>;
}

/** Starts one BullMQ worker per queue; throws before starting anything if a job type lacks a handler. */
export function startWorkers(handlers: Partial<JobHandlers>, options: QueueOptions & { log: Logger; concurrency?: number }): WorkerSet {
  const missing = JOB_NAMES.filter((n) => typeof handlers[n] !== 'function');
  if (missing.length) throw new Error(`no handler registered for job type(s): ${missing.join(', ')}`);
  const workers = QUEUE_NAMES.map((queueName) => {
    const worker = new Worker(
      queueName,
      async (job: Job) => {
        const handler = handlers[job.name as JobName] as JobHandler<JobName> | undefined;
        if (!handler) throw new Error(`unknown job type ${job.name} on queue ${queueName}`);
        return handler(job.data, job);
      },
      {
        connection: options.connection,
        prefix: options.prefix,
        concurrency: options.concurrency ?? 4,
        ...WORKER_LOCKS,
        removeOnComplete: { age: 3600, count: 1000 },
        removeOnFail: { age: 7 * 24 * 3600, count: 5000 },
      },
    );
    worker.on('failed', (job, err) => options.log.warn({ job: job?.name, jobId: job?.id, err: err.message }, 'job failed'));
    worker.on('error', (err) => options.log.warn({ err: err.message, queue: queueName }, 'worker error'));
    return worker;
  });
  return {
    async close(graceMs = 5000) {
      let timer: NodeJS.Timeout | undefined;
      const graceful = Promise.all(workers.map((w) => w.close()));
      const late = await Promise.race([graceful.then(() => false), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs)))]);
      clearTimeout(timer);
      if (late) await Promise.all(workers.map((w) => w.close(true)));
    },
  };
}
