import type { Job } from 'bullmq';
import type { TestApp } from './test-env';

/** The maintenance job once it completed or failed, as the queue holds it then. */
export async function settled(t: TestApp, job: Job, timeoutMs: number): Promise<Job> {
  const start = Date.now();
  for (;;) {
    const state = await job.getState();
    if (state === 'completed' || state === 'failed') return (await t.infra.queues.queue('maintenance').getJob(job.id!))!;
    if (Date.now() - start > timeoutMs) throw new Error(`job still ${state}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
