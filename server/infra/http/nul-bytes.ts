import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '../../domain/errors';

/** Where the first NUL character sits in a decoded JSON value or query (a JSON pointer), or null. */
export function nulBytePath(value: unknown, path = ''): string | null {
  if (typeof value === 'string') return value.includes('\u0000') ? path || '/' : null;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = nulBytePath(value[i], `${path}/${i}`);
      if (found !== null) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const [key, v] of Object.entries(value)) {
      const found = key.includes('\u0000') ? `${path}/${key}` : nulBytePath(v, `${path}/${key}`);
      if (found !== null) return found;
    }
  }
  return null;
}

/**
 * PostgreSQL stores no NUL character in text: a request carrying one is refused with a 400 naming
 * where, before anything is written, instead of failing its write with a 500. A text body (a CSV
 * file) is left to its route, which names the line and column.
 */
export function refuseNulBytes(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    const parts = { params: request.params, querystring: request.query, body: typeof request.body === 'object' ? request.body : undefined };
    for (const [part, value] of Object.entries(parts)) {
      const path = nulBytePath(value);
      if (path !== null) throw new InvalidInputError(`The request's ${part} holds a NUL character at ${path}: text cannot contain one`, 'nul_byte', { in: part, path });
    }
  });
}
