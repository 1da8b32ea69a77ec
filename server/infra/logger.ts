import pino, { type Logger } from 'pino';

export type { Logger };

/** Paths that may carry secrets; pino replaces them before anything is written. */
const REDACT = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-csrf-token"]',
  'res.headers["set-cookie"]',
  '*.password',
  '*.token',
  '*.csr',
  '*.privateKey',
  '*.secret',
];

/** Fields of database errors that carry the values of a query (hashes, tokens, e-mails as typed). */
const VALUE_FIELDS = ['params', 'parameters', 'detail'];
const PARAMS_LINE = /^params: .*$/gm;

/**
 * Errors as logged: a failed query shows its SQL and its error code, never its values, at any
 * depth of the cause chain.
 */
export function serializeError(err: unknown): unknown {
  if (!(err instanceof Error)) return err;
  const out = pino.stdSerializers.err(err) as unknown as Record<string, unknown>;
  for (const field of VALUE_FIELDS) delete out[field];
  for (const field of ['message', 'stack']) if (typeof out[field] === 'string') out[field] = (out[field] as string).replace(PARAMS_LINE, 'params: [not logged]');
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}

export function createLogger(level: string, name = 'cartable'): Logger {
  return pino({ name, level, redact: { paths: REDACT, censor: '[redacted]' }, serializers: { err: serializeError } });
}
