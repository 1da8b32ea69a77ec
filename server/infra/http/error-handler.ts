import type { FastifyError, FastifyInstance } from 'fastify';
import { DomainError, RateLimitedError, type ErrorKind } from '../../domain/errors';
import { isPoolExhausted } from '../db/client';
import { problem, sendProblem, type Problem } from './problem';

/** The REST API's reading of each domain error kind. */
export const HTTP_STATUS: Readonly<Record<ErrorKind, number>> = {
  invalid: 400,
  unauthenticated: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unprocessable: 422,
  confirmation_required: 428,
  rate_limited: 429,
  not_implemented: 501,
  unavailable: 503,
};

/** Fastify's own client errors, by code, with the problem code they become. */
const FASTIFY_CLIENT_ERRORS: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'malformed_json',
  FST_ERR_CTP_BODY_TOO_LARGE: 'body_too_large',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'unsupported_media_type',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'bad_content_length',
  FST_CSRF_MISSING_SECRET: 'csrf_failed',
  FST_CSRF_INVALID_TOKEN: 'csrf_failed',
};

/** What an error becomes for a client: its status and stable code; the console words it from the code. */
export function problemOf(error: FastifyError | DomainError): Problem {
  if (error instanceof DomainError) return problem(HTTP_STATUS[error.kind], error.code, error.message, error.details ?? {});
  if (error.validation) {
    return problem(400, 'validation_failed', `Invalid ${error.validationContext ?? 'request'}: ${error.message}`, {
      errors: error.validation.map((v) => ({ path: v.instancePath || '/', message: v.message, params: v.params })),
    });
  }
  if (error.code && FASTIFY_CLIENT_ERRORS[error.code]) {
    return problem(error.statusCode ?? 400, FASTIFY_CLIENT_ERRORS[error.code]!, error.message);
  }
  if (isPoolExhausted(error)) return problem(503, 'server_busy', 'The server is busy; retry in a few seconds');
  if (error instanceof SyntaxError || (error.statusCode && error.statusCode >= 400 && error.statusCode < 500)) {
    return problem(error.statusCode ?? 400, 'bad_request', error.message);
  }
  return problem(500, 'internal_error', 'An unexpected error occurred; it has been logged.');
}

/** The one place where errors become HTTP answers; 5xx details stay in the log. */
export function registerErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error: FastifyError, request, reply) => {
    const body = problemOf(error);
    // A refusal the server chose (overloaded, a dependency down) is not a failure to investigate.
    if (body.status === 503) {
      request.log.warn({ code: body.code, status: body.status }, 'request refused');
      reply.header('retry-after', reply.getHeader('retry-after') ?? '5');
    } else if (body.status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code: body.code, status: body.status }, 'request refused');
    if (error instanceof RateLimitedError) reply.header('retry-after', String(error.retryAfterSec));
    return sendProblem(reply, { ...body, instance: request.url.split('?')[0] });
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(reply, { ...problem(404, 'route_not_found', `No route for ${request.method} ${request.url.split('?')[0]}`), instance: request.url.split('?')[0] }),
  );
}
