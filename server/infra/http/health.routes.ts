import type { FastifyPluginAsync } from 'fastify';
import type { Redis } from 'ioredis';
import { checkRedis } from '../health';
import { problem, sendProblem } from './problem';

interface HealthDeps {
  checkDatabase: () => Promise<void>;
  redis: Redis;
}

export const healthRoutes: FastifyPluginAsync<HealthDeps> = async (app, deps) => {
  const probe = { config: { access: { public: 'probes of the load balancer and the orchestrator' } } };
  app.get('/healthz', { ...probe, schema: { hide: true } }, async () => ({ status: 'ok' }));

  /**
   * Not ready without PostgreSQL, the source of truth. Without Redis the process still answers:
   * commands are stored and delivered once it is back, so the node stays in rotation, degraded.
   */
  app.get('/readyz', { ...probe, schema: { hide: true } }, async (_request, reply) => {
    const [database, redis] = await Promise.all([
      deps.checkDatabase().then(
        () => null,
        (e: Error) => `PostgreSQL: ${e.message}`,
      ),
      checkRedis(deps.redis).then(
        () => null,
        (e: Error) => `Redis: ${e.message}`,
      ),
    ]);
    if (database) return sendProblem(reply, problem(503, 'not_ready', [database, redis].filter(Boolean).join('; '), { checks: [database, redis].filter(Boolean) }));
    if (redis) return { status: 'degraded', degraded: [`${redis} (commands are stored; devices get them once Redis is back)`] };
    return { status: 'ready' };
  });
};
