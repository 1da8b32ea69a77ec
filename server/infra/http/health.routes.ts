import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import { checkRedis, withTimeout } from '../health';
import type { Metrics } from '../metrics';
import type { Queues } from '../queues/registry';
import { problem, sendProblem } from './problem';

interface HealthDeps {
  checkDatabase: () => Promise<void>;
  redis: Redis;
  queues: Queues;
  metrics: Metrics;
}

export const healthRoutes: FastifyPluginAsync<HealthDeps> = async (app, deps) => {
  app.get('/healthz', { schema: { hide: true } }, async () => ({ status: 'ok' }));

  app.get('/readyz', { schema: { hide: true } }, async (_request, reply) => {
    const failures: string[] = [];
    await Promise.all([
      deps.checkDatabase().catch((e: Error) => failures.push(`PostgreSQL: ${e.message}`)),
      checkRedis(deps.redis).catch((e: Error) => failures.push(`Redis: ${e.message}`)),
    ]);
    if (failures.length) return sendProblem(reply, problem(503, 'not_ready', failures.join('; '), { checks: failures }));
    return { status: 'ready' };
  });

  app.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    if (deps.redis.status === 'ready') {
      const counts = await withTimeout(deps.queues.counts(), 1000, 'Redis').catch(() => ({}));
      for (const [queue, states] of Object.entries(counts)) {
        for (const [state, n] of Object.entries(states)) deps.metrics.queueJobs.set({ queue, state }, n);
      }
    }
    return reply.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
};
