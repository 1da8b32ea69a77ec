import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import { CreatedEndpoint, DeliveriesQuery, DeliveryView, EndpointParams, EndpointView, NewEndpoint } from './webhooks.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['webhooks'];

/** The organisation's webhook endpoints and what was delivered to them. */
export const webhooksRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { webhooks } = app.services;
  const manage = (action?: string) => ({ access: { permission: 'organisation.manage' as const, ...(action ? { audit: { action, target: 'webhook' } } : {}) } });

  app.get('/webhooks', { config: manage(), schema: { tags, summary: 'Webhook endpoints of the organisation', response: { 200: Type.Array(EndpointView) } } }, async (request) =>
    webhooks.list(caller(request)),
  );

  app.post(
    '/webhooks',
    { config: manage('webhook.create'), schema: { tags, summary: 'Add an endpoint; its signing secret is shown once', body: NewEndpoint, response: { 201: CreatedEndpoint } } },
    async (request, reply) => reply.code(201).send(await webhooks.create(caller(request), request.body)),
  );

  app.delete(
    '/webhooks/:id',
    { config: manage('webhook.delete'), schema: { tags, summary: 'Remove an endpoint and its delivery log', params: EndpointParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await webhooks.remove(caller(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/webhooks/:id/deliveries',
    { config: manage(), schema: { tags, summary: "An endpoint's deliveries, newest first, with each one's attempts", params: EndpointParams, querystring: DeliveriesQuery, response: { 200: Type.Array(DeliveryView) } } },
    async (request) => webhooks.deliveries(caller(request), request.params.id, request.query.limit ?? 50),
  );

  app.post(
    '/webhooks/:id/ping',
    { config: manage(), schema: { tags, summary: 'Post a webhook.ping event to the endpoint', params: EndpointParams, response: { 202: Type.Object({ eventId: Type.String() }) } } },
    async (request, reply) => reply.code(202).send(await webhooks.ping(caller(request), request.params.id)),
  );
};
