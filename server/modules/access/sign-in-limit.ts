import type { FastifyInstance, onRequestHookHandler } from 'fastify';

const WINDOW_MS = 15 * 60 * 1000;

/** One budget of sign-in attempts per address, shared by every way of signing in. */
export function signInLimit(app: FastifyInstance): onRequestHookHandler[] {
  return app.addressLimit('sign-in', app.infra.config.SIGN_IN_RATE_LIMIT_PER_15MIN, WINDOW_MS);
}
