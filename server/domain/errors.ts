/**
 * The one error taxonomy, in the domain's words. Services throw these and know nothing of any
 * protocol: each edge maps the kind to its own answer (the REST API to an HTTP status and a
 * problem+json body, the agent protocol to its error codes, Apple MDM never to a 401).
 */
export const ERROR_KINDS = [
  'invalid',
  'unauthenticated',
  'forbidden',
  'not_found',
  'conflict',
  'too_large',
  'unprocessable',
  'confirmation_required',
  'rate_limited',
  'not_implemented',
  'unavailable',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export class DomainError extends Error {
  constructor(
    readonly kind: ErrorKind,
    /** Stable and machine-readable: clients and the console key their messages on it. */
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class InvalidInputError extends DomainError {
  constructor(message: string, code = 'invalid_input', details?: Record<string, unknown>) {
    super('invalid', code, message, details);
  }
}

export class UnauthenticatedError extends DomainError {
  constructor(message = 'Authentication required', code = 'unauthorized') {
    super('unauthenticated', code, message);
  }
}

export class ForbiddenError extends DomainError {
  constructor(message = 'Not allowed', code = 'forbidden') {
    super('forbidden', code, message);
  }
}

export class NotFoundError extends DomainError {
  constructor(what = 'Resource', code = 'not_found') {
    super('not_found', code, `${what} not found`);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, code = 'conflict', details?: Record<string, unknown>) {
    super('conflict', code, message, details);
  }
}

export class TooLargeError extends DomainError {
  constructor(message: string, code = 'too_large', details?: Record<string, unknown>) {
    super('too_large', code, message, details);
  }
}

/** Well-formed, but this target cannot take it (a command a platform or a device cannot carry). */
export class UnprocessableError extends DomainError {
  constructor(message: string, code = 'unprocessable', details?: Record<string, unknown>) {
    super('unprocessable', code, message, details);
  }
}

/** A destructive action waits for a second, confirmed request; details say how to confirm. */
export class ConfirmationRequiredError extends DomainError {
  constructor(message: string, details: Record<string, unknown>) {
    super('confirmation_required', 'confirmation_required', message, details);
  }
}

export class RateLimitedError extends DomainError {
  constructor(
    message: string,
    readonly retryAfterSec: number,
    code = 'rate_limited',
  ) {
    super('rate_limited', code, message);
  }
}

/** Something Cartable deliberately does not do yet: said plainly rather than faked. */
export class NotImplementedError extends DomainError {
  constructor(feature: string) {
    super('not_implemented', 'not_implemented', `${feature} is not available in this version of Cartable`);
  }
}

/** A dependency is down for a moment; the same request can succeed later. */
export class UnavailableError extends DomainError {
  constructor(message: string, code = 'unavailable') {
    super('unavailable', code, message);
  }
}
