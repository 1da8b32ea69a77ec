/**
 * The one error taxonomy. Services throw these; the HTTP error handler turns them into
 * application/problem+json, and device protocol adapters map them to their own wire errors.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends AppError {
  constructor(message: string, code = 'bad_request', details?: Record<string, unknown>) {
    super(400, code, message, details);
  }
}
export class UnauthorizedError extends AppError {
  constructor(message = 'Authentication required', code = 'unauthorized') {
    super(401, code, message);
  }
}
export class ForbiddenError extends AppError {
  constructor(message = 'Not allowed', code = 'forbidden') {
    super(403, code, message);
  }
}
export class NotFoundError extends AppError {
  constructor(what = 'Resource', code = 'not_found') {
    super(404, code, `${what} not found`);
  }
}
export class ConflictError extends AppError {
  constructor(message: string, code = 'conflict', details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}
export class TooManyRequestsError extends AppError {
  constructor(
    message: string,
    readonly retryAfterSec: number,
    code = 'rate_limited',
  ) {
    super(429, code, message);
  }
}
/** Something the code deliberately does not do yet: said plainly rather than faked. */
export class NotImplementedError extends AppError {
  constructor(feature: string) {
    super(501, 'not_implemented', `${feature} is not available in this version of Cartable`);
  }
}
