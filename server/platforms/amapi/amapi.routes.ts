import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { PushBody } from '../../modules/amapi/amapi.schemas';
import type { AmapiEdge } from './amapi-edge';

/**
 * Google Pub/Sub's push endpoint. Any 2xx acknowledges: a push that can never succeed
 * (unknown enterprise, duplicate) is acknowledged so Google stops sending it; a forged one is
 * refused. Accepted notifications are processed by a job, not within Google's push deadline.
 */
export function amapiPushRoutes(edge: AmapiEdge): FastifyPluginAsyncTypebox {
  return async (app) => {
    app.post(
      '/pubsub',
      { config: { access: { public: 'Google Pub/Sub pushes here; each push carries a token signed by Google, checked before anything is read' } }, schema: { hide: true, body: PushBody } },
      async (request, reply) => {
        const header = request.headers.authorization ?? '';
        const token = header.startsWith('Bearer ') ? header.slice(7) : '';
        const verdict = await edge.acceptPush(token, request.body.message);
        if (verdict === 'refused') return reply.code(401).send();
        return reply.code(204).send();
      },
    );
  };
}
