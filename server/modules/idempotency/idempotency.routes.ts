import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { InvalidInputError } from '../../domain/errors';

const HEADER = 'idempotency-key';
const KEY = /^[\x21-\x7e]{1,255}$/;

declare module 'fastify' {
  interface FastifyRequest {
    idempotency?: { owner: string; key: string };
  }
}

/**
 * `Idempotency-Key` on the REST API's POST requests. Registered after authentication (a key
 * belongs to its caller) and validation (a refused request claims nothing).
 */
export function registerIdempotency(app: FastifyInstance): void {
  const service = app.services.idempotency;
  app.addHook('preHandler', async (request: FastifyRequest, reply) => {
    const key = request.headers[HEADER];
    if (request.method !== 'POST' || key === undefined || !request.principal) return;
    if (typeof key !== 'string' || !KEY.test(key)) throw new InvalidInputError('Idempotency-Key must be 1 to 255 printable characters', 'invalid_idempotency_key');
    const owner = request.principal.tokenId ? `token:${request.principal.tokenId}` : `user:${request.principal.userId}`;
    const hash = createHash('sha256').update(`${request.method} ${request.url}\n${JSON.stringify(request.body ?? null)}`).digest('hex');
    const begun = await service.begin(owner, key, hash);
    if (begun.state === 'replay') {
      reply.code(begun.statusCode).header('idempotent-replayed', 'true').header('cache-control', 'no-store');
      if (begun.contentType) reply.type(begun.contentType);
      return reply.send(begun.body);
    }
    request.idempotency = { owner, key };
  });
  app.addHook('onSend', async (request, reply, payload) => {
    const claim = request.idempotency;
    if (!claim) return payload;
    request.idempotency = undefined;
    if (reply.statusCode < 500 && typeof payload === 'string') {
      const type = reply.getHeader('content-type');
      await service.complete(claim.owner, claim.key, reply.statusCode, typeof type === 'string' ? type : null, payload);
    } else {
      await service.release(claim.owner, claim.key);
    }
    return payload;
  });
}
