import type { JobHandlers } from '../../infra/queues/registry';
import type { WebhooksService } from './webhooks.service';

/** Sending webhook deliveries, and finding again those whose job a Redis flush took away. */
export function webhookJobHandlers(webhooks: WebhooksService): Pick<JobHandlers, 'webhooks.deliver' | 'webhooks.sweep'> {
  return {
    'webhooks.deliver': async (data, job) => webhooks.deliver(data.deliveryId, job.attemptsMade + 1 >= (job.opts.attempts ?? 1)),
    'webhooks.sweep': async () => webhooks.sweep(),
  };
}
