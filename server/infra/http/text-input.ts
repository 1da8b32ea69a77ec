import type { FastifyInstance } from 'fastify';
import { InvalidInputError } from '../../domain/errors';

/** Half of a surrogate pair: it cannot be written as UTF-8, so it cannot be stored. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;
/** PostgreSQL text cannot hold a NUL character, nor can a JSON document it stores. */
const unstorableText = (s: string) => s.includes('\u0000') || LONE_SURROGATE.test(s);
const MAX_DEPTH = 32;

/** The path of the first string of `value` that cannot be stored as text, if any. */
function unstorable(value: unknown, path: string, depth = 0): string | null {
  if (typeof value === 'string') return unstorableText(value) ? path : null;
  if (value === null || typeof value !== 'object' || depth > MAX_DEPTH) return null;
  for (const [key, inner] of Object.entries(value)) {
    const found = unstorable(key, `${path}/${key}`, depth + 1) ?? unstorable(inner, `${path}/${key}`, depth + 1);
    if (found) return found;
  }
  return null;
}

/**
 * Refuses, for every route and before any schema, a path parameter, query parameter or body field
 * holding text no database column can keep: a 400 naming the field, never a 500 from the database.
 */
export function registerTextInputChecks(app: FastifyInstance): void {
  app.addHook('preValidation', async (request) => {
    // A text body (a CSV file) is its route's to check: it names the line and the column. Raw
    // bytes (a device's signed plist or SyncML) are decoded, and checked, by their route; walked
    // here they would be enumerated byte by byte.
    const body = typeof request.body === 'string' || Buffer.isBuffer(request.body) ? undefined : request.body;
    const where = unstorable(request.params, '/params') ?? unstorable(request.query, '/query') ?? unstorable(body, '/body');
    if (where) throw new InvalidInputError(`${where} holds a NUL character or a lone surrogate, which cannot be stored as text`, 'invalid_text', { path: where });
  });
}
