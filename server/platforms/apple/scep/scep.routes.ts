import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { DomainError } from '../../../domain/errors';
import { problemOf } from '../../../infra/http/error-handler';
import { problem, sendProblem } from '../../../infra/http/problem';
import { ScepMessageError } from './pki-message';
import type { ScepResponder } from './scep-responder';

/**
 * SCEP (RFC 8894 §4) at one URL, `?operation=` choosing: GetCACaps, GetCACert, and
 * PKIOperation by GET (base64 `message`) or POST (the DER body). Anything wrong with a request
 * is a 400: SCEP clients read HTTP errors, and a CertRep FAILURE is kept for refusals of a
 * well-formed request (a wrong challenge).
 */

const Operation = Type.Union([Type.Literal('GetCACaps'), Type.Literal('GetCACert'), Type.Literal('PKIOperation')]);

export const ScepQuery = Type.Object(
  {
    operation: Operation,
    // Base64 of a PKIMessage for GET PKIOperation; the profile's Name for GetCACert (ignored).
    message: Type.Optional(Type.String({ maxLength: 200_000 })),
  },
  { additionalProperties: true },
);

export interface ScepRoutesOptions {
  scep: ScepResponder;
  maxMessageBytes: number;
}

const PKI_MESSAGE = 'application/x-pki-message';
const badRequest = (reply: FastifyReply, code: string, detail: string) => sendProblem(reply, problem(400, code, detail));

export function scepRoutes(options: ScepRoutesOptions): FastifyPluginAsyncTypebox {
  const { scep, maxMessageBytes } = options;
  return async (app) => {
    // The body is the DER message whatever Content-Type a client puts on it.
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: maxMessageBytes }, (_request, body, done) => done(null, body));

    app.setErrorHandler((error: FastifyError | DomainError, request, reply) => {
      if (error instanceof DomainError) return sendProblem(reply, problemOf(error));
      if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
        request.log.warn({ limit: maxMessageBytes }, 'SCEP message refused: larger than APPLE_SCEP_MAX_BYTES');
        return badRequest(reply, 'message_too_big', `A SCEP message is at most ${maxMessageBytes} bytes.`);
      }
      if (error.validation || (error.statusCode ?? 500) < 500) {
        request.log.warn({ err: error.message }, 'SCEP request refused');
        return badRequest(reply, 'scep_bad_request', error.message);
      }
      throw error;
    });

    async function pkiOperation(request: FastifyRequest, reply: FastifyReply, message: Buffer) {
      if (message.length === 0) return badRequest(reply, 'scep_bad_request', 'PKIOperation needs a message.');
      if (message.length > maxMessageBytes) {
        request.log.warn({ bytes: message.length, limit: maxMessageBytes }, 'SCEP message refused: larger than APPLE_SCEP_MAX_BYTES');
        return badRequest(reply, 'message_too_big', `A SCEP message is at most ${maxMessageBytes} bytes.`);
      }
      try {
        const result = await scep.pkiOperation(message, request.ip);
        app.infra.metrics.scepRequests.inc({ outcome: result.outcome });
        return reply.header('cache-control', 'no-store').type(PKI_MESSAGE).send(result.body);
      } catch (error) {
        if (!(error instanceof ScepMessageError)) throw error;
        request.log.warn({ reason: error.message, bytes: message.length }, 'SCEP message refused');
        app.infra.metrics.scepRequests.inc({ outcome: 'bad_message' });
        return badRequest(reply, 'scep_bad_message', error.message);
      }
    }

    const access = { device: 'scep_challenge' as const };

    app.get('/scep', { config: { access }, schema: { tags: ['apple'], querystring: ScepQuery } }, async (request, reply) => {
      switch (request.query.operation) {
        case 'GetCACaps':
          return reply.type('text/plain; charset=utf-8').send(scep.caCaps());
        case 'GetCACert':
          return reply.type('application/x-x509-ca-cert').send(scep.caCertDer());
        case 'PKIOperation': {
          const encoded = request.query.message ?? '';
          // Clients send standard base64, sometimes with '+' decoded to ' ' by a careless escape.
          const normalised = encoded.replace(/ /g, '+').replace(/\s+/g, '');
          if (!/^[A-Za-z0-9+/_-]*={0,2}$/.test(normalised)) return badRequest(reply, 'scep_bad_request', 'message must be base64.');
          return pkiOperation(request, reply, Buffer.from(normalised, 'base64'));
        }
      }
    });

    app.post('/scep', { config: { access }, schema: { tags: ['apple'], querystring: ScepQuery } }, async (request, reply) => {
      if (request.query.operation !== 'PKIOperation') return badRequest(reply, 'scep_bad_request', `${request.query.operation} is a GET operation.`);
      const body = request.body;
      return pkiOperation(request, reply, Buffer.isBuffer(body) ? body : Buffer.alloc(0));
    });
  };
}
