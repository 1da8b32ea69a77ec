import type { FastifyError, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { RateLimitedError } from '../../domain/errors';
import { PATHS, type SoapAnswer } from './enrollment/enrollment-endpoints';
import { EnrollmentFault, faultEnvelope } from './enrollment/soap';
import type { WindowsEdge } from './windows-edge';

const SOAP = 'application/soap+xml; charset=utf-8';
const SYNCML = 'application/vnd.syncml.dm+xml';

/**
 * Windows' fixed paths. Bodies are read as text (SOAP and SyncML are parsed by the edge);
 * every answer carries a Content-Length, since Windows' clients refuse chunked answers.
 */
export function windowsRoutes(edge: WindowsEdge, bodyLimit: number, enrollPerMinute: number): FastifyPluginAsync {
  return async (app) => {
    edge.lastSeen.start();
    edge.sessionsOpened.start();
    app.addHook('onClose', async () => {
      await Promise.all([edge.lastSeen.stop(), edge.sessionsOpened.stop()]);
    });
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit }, (_request, body, done) => done(null, body));
    app.setErrorHandler((error: FastifyError, request, reply) => {
      if (error instanceof RateLimitedError) {
        // Too many attempts from this address (PIN guessing, a flood): a fault Windows shows as "try later".
        const body = faultEnvelope(new EnrollmentFault('enrollmentserver', error.message, 'InMaintenance'), '');
        return reply.code(503).header('retry-after', String(error.retryAfterSec)).header('content-length', Buffer.byteLength(body)).type(SOAP).send(body);
      }
      const status = error.statusCode === 413 ? 413 : error.statusCode && error.statusCode < 500 ? 400 : 500;
      request.log.warn({ err: error, status }, 'Windows MDM request refused');
      return reply.code(status).type('text/plain').send(status === 500 ? 'server error' : 'refused');
    });

    const bodyOf = (request: FastifyRequest) => (typeof request.body === 'string' ? request.body : '');
    // No browser reads these answers: the security headers of pages are left off, as for iPads.
    const device = { config: { access: { device: 'windows_mdm' as const }, securityHeaders: false as const }, schema: { hide: true } };
    const soap = (request: FastifyRequest, reply: FastifyReply, answer: SoapAnswer) => {
      if (answer.refusal) request.log.warn({ ...answer.refusal, url: request.url }, 'Windows enrollment refused');
      return reply.code(answer.status).header('content-length', Buffer.byteLength(answer.body)).type(SOAP).send(answer.body);
    };

    // Windows first GETs the discovery address and expects an empty 200.
    app.get(PATHS.discovery, device, async (_request, reply) => reply.code(200).header('content-length', 0).send(''));
    app.post(PATHS.discovery, device, async (request, reply) => soap(request, reply, await edge.enrollment.discover(bodyOf(request))));
    // Counted before anything is read: PIN guesses are limited per address, with the agent's enrollments.
    const enrollLimit = app.addressLimit('enrollment', enrollPerMinute, 60_000);
    app.post(PATHS.policy, { ...device, onRequest: enrollLimit }, async (request, reply) => soap(request, reply, await edge.enrollment.getPolicies(bodyOf(request))));
    app.post(PATHS.enrollment, { ...device, onRequest: enrollLimit }, async (request, reply) => soap(request, reply, await edge.enrollment.requestSecurityToken(bodyOf(request), request.ip)));

    app.post(PATHS.management, device, async (request, reply) => {
      const answer = await edge.management.handle(bodyOf(request), request.headers);
      if (answer.refusal) request.log.warn({ ...answer.refusal, url: request.url }, 'Windows management message refused');
      return reply.code(answer.status).header('content-length', Buffer.byteLength(answer.body)).type(SYNCML).send(answer.body);
    });
  };
}
