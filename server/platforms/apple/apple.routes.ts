import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { AppleEdge } from './apple-edge';
import type { Answer } from './mdm/mdm-exchange';

const CHECKIN_TYPE = 'application/x-apple-aspen-mdm-checkin';

/**
 * Apple MDM's device endpoints. Bodies are taken as raw bytes (the signature covers them
 * exactly); every refusal is a bare 400/403/410/413, logged, and never a 401.
 */
export function appleRoutes(edge: AppleEdge): FastifyPluginAsync {
  return async (app) => {
    edge.lastSeen.start();
    app.addHook('onClose', async () => {
      await edge.lastSeen.stop();
      edge.apns.close();
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: edge.bodyLimit }, (_request, body, done) => done(null, body));

    app.setErrorHandler((error: FastifyError, request, reply) => {
      const status = error.statusCode === 413 ? 413 : error.statusCode && error.statusCode >= 400 && error.statusCode < 500 && error.statusCode !== 401 ? 400 : 500;
      request.log.warn({ err: error, status }, 'Apple MDM request refused');
      return reply.code(status).type('text/plain').send(status === 500 ? 'server error' : 'refused');
    });

    const send = (request: FastifyRequest, reply: FastifyReply, answer: Answer) => {
      if (answer.refusal) request.log.warn({ status: answer.status, ...answer.refusal, url: request.url }, 'Apple MDM request refused');
      if (answer.body) return reply.code(answer.status).type('application/xml; charset=utf-8').send(answer.body);
      return reply.code(answer.status).send();
    };
    const bodyOf = (request: FastifyRequest) => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
    // No browser reads these answers: the security headers of pages are left off.
    const options = { config: { access: { device: 'mdm_signature' as const }, securityHeaders: false as const }, schema: { hide: true } };

    const checkin = async (request: FastifyRequest, reply: FastifyReply) => {
      const type = (request.headers['content-type'] ?? '').split(';')[0]!.trim();
      if (type && type !== CHECKIN_TYPE && type !== 'application/xml') return send(request, reply, { status: 400, refusal: { code: 'content_type', message: `unexpected content type ${type}` } });
      return send(request, reply, await edge.exchange.checkin(request.headers, bodyOf(request)));
    };
    app.put('/checkin', options, checkin);
    app.post('/checkin', options, checkin);

    const command = async (request: FastifyRequest, reply: FastifyReply) => send(request, reply, await edge.exchange.command(request.headers, bodyOf(request)));
    app.put('/mdm', options, command);
    app.post('/mdm', options, command);
  };
}
