import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ChallengeResponse, EnrollRequest, EnrollResponse, ExchangeRequest, ExchangeResponse, SessionRequest, SessionResponse } from '../../../agent-protocol/src';
import { Nudges } from '../../infra/nudges';
import { Presence } from '../../infra/presence';
import { AgentStore } from './agent-store';
import { AgentGateway } from './gateway';
import { createHttpsFallback } from './https-fallback';

/** The device agent's endpoints (enrollment, WebSocket, HTTPS fallback), mounted under /agent/v1. */
export const agentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { infra, services } = app;
  const { config } = infra;
  const presence = new Presence(infra.redis, config.REDIS_PREFIX, config.AGENT_HEARTBEAT_SEC * 2);
  const gateway = new AgentGateway({
    agent: services.deviceAgent,
    delivery: services.commandDelivery,
    store: new AgentStore(infra.redis, config.REDIS_PREFIX),
    presence,
    nudges: new Nudges(infra.redis, infra.subscriber, presence, config.REDIS_PREFIX),
    nodeId: infra.nodeId,
    heartbeatSec: config.AGENT_HEARTBEAT_SEC,
    metrics: infra.metrics,
    log: app.log,
  });
  await gateway.start();
  app.addHook('preClose', () => gateway.stop());
  const fallback = createHttpsFallback(gateway);

  // Counted before validation, so a flood of malformed attempts is limited too.
  const enrollLimit = app.addressLimit('enrollment', config.ENROLL_RATE_LIMIT_PER_MIN, 60_000);

  app.post('/enroll', { onRequest: enrollLimit, schema: { tags: ['agent'], body: EnrollRequest, response: { 201: EnrollResponse } } }, async (request, reply) =>
    reply.code(201).send(await services.enrollment.enroll(request.body, request.ip)),
  );

  app.get('/ws', { websocket: true, schema: { hide: true } }, (socket) => gateway.accept(socket));

  app.get('/challenge', { schema: { tags: ['agent'], response: { 200: ChallengeResponse } } }, () => fallback.challenge());

  app.post('/session', { schema: { tags: ['agent'], body: SessionRequest, response: { 200: SessionResponse } } }, (request) => fallback.session(request.body));

  app.post('/exchange', { schema: { tags: ['agent'], body: ExchangeRequest, response: { 200: ExchangeResponse } } }, async (request) =>
    fallback.exchange(await fallback.identify(request.headers.authorization), request.body.messages),
  );
};
