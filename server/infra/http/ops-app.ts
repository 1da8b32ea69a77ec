import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { checkPostgres, withTimeout } from '../health';
import type { Infra } from '../infra';
import { registerErrorHandlers } from './error-handler';
import { healthRoutes } from './health.routes';

/**
 * The operations endpoints, on a port of their own (OPS_HOST:OPS_PORT, 127.0.0.1 by default):
 * Prometheus metrics and the API documentation say much about a deployment and are no business
 * of the tablets and browsers that reach the public port, where these paths answer 404. Every
 * process has one, a worker too; the documentation is there when the process serves the API.
 */
export async function buildOpsApp(infra: Infra, options: { apiDocument?: () => Record<string, unknown> } = {}): Promise<FastifyInstance> {
  const { metrics } = infra;
  const app = Fastify({
    loggerInstance: infra.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  });
  registerErrorHandlers(app);
  await app.register(healthRoutes, { checkDatabase: () => checkPostgres(infra.database.pool), redis: infra.redis });

  app.get('/metrics', async (_request, reply) => {
    if (infra.redis.status === 'ready') {
      const counts = await withTimeout(infra.queues.counts(), 1000, 'Redis').catch(() => ({}));
      for (const [queue, states] of Object.entries(counts)) {
        for (const [state, n] of Object.entries(states)) metrics.queueJobs.set({ queue, state }, n);
      }
    }
    return reply.type(metrics.registry.contentType).send(await metrics.registry.metrics());
  });

  if (options.apiDocument) {
    await app.register(swagger, { mode: 'static', specification: { document: options.apiDocument() as never } });
    await app.register(swaggerUi, { routePrefix: '/api/docs' });
  }
  return app;
}

/** Listens, logging a line distinct from the public server's (tools and tests read that one for its address). */
export async function listenOps(app: FastifyInstance, host: string, port: number): Promise<string> {
  return app.listen({ host, port, listenTextResolver: (address) => `Operations endpoints listening at ${address}` });
}
