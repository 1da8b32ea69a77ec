import swagger from '@fastify/swagger';
import underPressure from '@fastify/under-pressure';
import websocket from '@fastify/websocket';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type RawServerDefault } from 'fastify';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { registerConsole } from './console/console.routes';
import { apiRoutes } from './modules/api.routes';
import { authPlugin } from './modules/access/auth.plugin';
import { SECURITY_SCHEMES } from './modules/access/route-access';
import { registerWebPlumbing } from './infra/http/web-plumbing';
import { agentRoutes } from './platforms/agent/agent.routes';
import { enrollmentProfileRoutes } from './platforms/apple/enrollment/enrollment-profile.routes';
import { scepRoutes } from './platforms/apple/scep/scep.routes';
import { appleRoutes } from './platforms/apple/apple.routes';
import { windowsRoutes } from './platforms/windows/windows.routes';
import { amapiPushRoutes } from './platforms/amapi/amapi.routes';
import { problemOf, registerErrorHandlers } from './infra/http/error-handler';
import { registerTextInputChecks } from './infra/http/text-input';
import { checkPostgres } from './infra/health';
import { healthRoutes } from './infra/http/health.routes';
import { UnavailableError } from './domain/errors';
import { sendProblem } from './infra/http/problem';
import type { Infra } from './infra/infra';
import type { Services } from './services';

declare module 'fastify' {
  interface FastifyInstance {
    infra: Infra;
    services: Services;
  }
}

/** The app with TypeBox typing of route schemas. */
export type App = FastifyInstance<RawServerDefault, IncomingMessage, ServerResponse, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface AppDeps {
  infra: Infra;
  services: Services;
}

const UNLOGGED = new Set(['/healthz', '/readyz']);

/** Builds the HTTP server for this process's roles; `main` and the tests both use it. */
export async function buildApp({ infra, services }: AppDeps): Promise<App> {
  const { config, metrics } = infra;
  const app = Fastify({
    loggerInstance: infra.log as FastifyBaseLogger,
    // One line per request is written by the onResponse hook below, with the route and timing.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    // Client addresses feed rate limits and the audit trail: only named proxies may rewrite them.
    trustProxy: config.TRUST_PROXY === 'true' ? true : config.TRUST_PROXY === 'false' ? false : config.TRUST_PROXY,
    connectionTimeout: 30_000,
    requestTimeout: 30_000,
    keepAliveTimeout: 72_000,
    return503OnClosing: true,
    ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', useDefaults: true, allErrors: true } },
    // A malformed or oversized address is refused like any other bad request, as a problem document.
    frameworkErrors: (error, request, reply) => sendProblem(reply, { ...problemOf(error as FastifyError), instance: request.url.split('?')[0] }),
  }).withTypeProvider<TypeBoxTypeProvider>();

  app.decorate('infra', infra);
  app.decorate('services', services);
  registerErrorHandlers(app);
  registerTextInputChecks(app);
  await registerWebPlumbing(app, infra);
  // Before any route: every route's declared access becomes its check and its OpenAPI security.
  await app.register(authPlugin);

  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    metrics.httpDuration.observe({ method: request.method, route, status: String(reply.statusCode) }, reply.elapsedTime / 1000);
    if (!UNLOGGED.has(route)) request.log.info({ method: request.method, url: route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });

  await app.register(underPressure, {
    maxEventLoopDelay: config.MAX_EVENT_LOOP_DELAY_MS,
    retryAfter: 5,
    // A rejected promise stops the request here; a handler that only sent the answer would let
    // under-pressure go on to the route, which would then do its work behind the 503.
    pressureHandler: (_request, reply, type, value) => {
      reply.header('retry-after', '5');
      return Promise.reject(new UnavailableError(`Server under pressure (${type}${value ? `: ${Math.round(Number(value))}` : ''}); retry shortly`, 'overloaded'));
    },
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'Cartable API', version: '1', description: 'Mobile device management for school tablets' },
      components: { securitySchemes: SECURITY_SCHEMES },
    },
  });
  app.get('/api/openapi.json', { config: { access: { public: 'the API description' } }, schema: { hide: true } }, async () => app.swagger());

  // Metrics and the documentation's UI are served on the operations port (server/infra/http/ops-app.ts).
  await app.register(healthRoutes, { checkDatabase: () => checkPostgres(infra.database.pool), redis: infra.redis });

  if (config.roles.has('gateway')) {
    const { gateway } = services.edges.agent;
    await gateway.start();
    await app.register(websocket, {
      options: { maxPayload: 256 * 1024, perMessageDeflate: false, clientTracking: true },
      // The gateway closes its sockets itself: with 1001, and cutting those that do not answer.
      preClose: async function (this: FastifyInstance) {
        await gateway.stop();
        await new Promise<void>((resolve) => this.websocketServer.close(() => resolve()));
      },
    });
    await app.register(agentRoutes(services.edges.agent), { prefix: '/agent/v1' });
    await app.register(appleRoutes(services.edges.apple), { prefix: '/apple' });
    const { appleEnrollment } = services.edges;
    await app.register(scepRoutes({ scep: appleEnrollment.scep, maxMessageBytes: config.APPLE_SCEP_MAX_BYTES }), { prefix: '/apple' });
    await app.register(enrollmentProfileRoutes({ profiles: appleEnrollment.profiles, rateLimitPerMin: config.ENROLL_RATE_LIMIT_PER_MIN }), { prefix: '/apple' });
    await app.register(windowsRoutes(services.edges.windows, config.BODY_LIMIT_BYTES, config.ENROLL_RATE_LIMIT_PER_MIN));
    await app.register(amapiPushRoutes(services.amapi.edge), { prefix: '/amapi/v1' });
  }
  if (config.roles.has('api')) {
    await app.register(apiRoutes, { prefix: '/api/v1' });
    await registerConsole(app);
  }
  return app;
}
