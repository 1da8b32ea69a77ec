import type { FastifyInstance, FastifyRequest } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError, UnauthenticatedError } from '../../domain/errors';
import type { Actor, Permission, Principal, Scope } from './principal';
import { SESSION_COOKIE } from './session-cookie';

/** A route hook: use it as `onRequest` so refusals come before body validation (it also works as `preHandler`). */
export type AuthHook = (request: FastifyRequest) => Promise<void>;

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set by `authorize` / `authenticate` before the handler runs. */
    principal: Principal;
    /** The schools the caller may reach for the permission the route asked for. */
    scope: Scope;
  }
  interface FastifyInstance {
    /** Authenticates, then requires a grant carrying `permission`; sets `request.principal` and `request.scope`. */
    authorize(permission: Permission): AuthHook;
    /** Authenticates any signed-in caller, whatever their grants (for routes about the caller themself). */
    authenticate: AuthHook;
  }
  interface FastifyContextConfig {
    /** The route stays open to an account that must first replace its password (sign-out, who am I, the change itself). */
    beforePasswordChange?: boolean;
  }
}

/** OpenAPI security requirement of routes that accept an API token or a session cookie. */
export const API_SECURITY: Array<Record<string, string[]>> = [{ bearer: [] }, { session: [] }];

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The identity an audit event records for this request. */
export function actorOf(request: FastifyRequest): Actor {
  const p = request.principal;
  const roles = [...new Set(p.grants.map((g) => g.role))].sort().join(',');
  return { type: p.kind, id: p.userId, label: p.label, role: roles || null, ip: request.ip };
}

async function identify(app: FastifyInstance, request: FastifyRequest): Promise<Principal> {
  if (request.principal) return request.principal;
  const header = request.headers.authorization;
  let principal: Principal;
  if (header !== undefined) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new UnauthenticatedError('Authorization must be "Bearer <API token>"', 'invalid_token');
    principal = await app.services.auth.authenticateBearer(match[1]!);
  } else {
    const session = request.cookies[SESSION_COOKIE];
    if (!session) throw new UnauthenticatedError();
    principal = await app.services.auth.authenticateSession(session);
  }
  request.principal = principal;
  if (principal.mustChangePassword && !request.routeOptions.config.beforePasswordChange) {
    throw new ForbiddenError('This account must replace its first password before anything else: POST /api/v1/auth/password (or sign in to the console)', 'password_change_required');
  }
  return principal;
}

/**
 * Authentication and authorization for the REST API and the console. Wrapped with
 * fastify-plugin, so its decorators and its CSRF hook reach every route registered after it.
 */
export const authPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('principal', null as never);
    app.decorateRequest('scope', null as never);

    app.decorate('authenticate', async (request: FastifyRequest) => {
      await identify(app, request);
    });

    app.decorate('authorize', (permission: Permission): AuthHook => {
      return async (request) => {
        const principal = await identify(app, request);
        const scope = await app.services.auth.scopeFor(principal, permission);
        if (!scope) throw new ForbiddenError(`This action needs the ${permission} permission`, 'missing_permission');
        request.scope = scope;
      };
    });

    // A browser sends the session cookie with any request, including one forged by another
    // site: a change made with the cookie must also carry a CSRF token (form field or header).
    // Scripts with an API token are not concerned: a browser never adds that header on its own.
    app.addHook('preHandler', (request, reply, done) => {
      if (request.principal?.sessionId && !SAFE_METHODS.has(request.method)) return app.csrfProtection(request, reply, done);
      done();
    });
  },
  { name: 'cartable-auth', dependencies: ['@fastify/csrf-protection', '@fastify/cookie'] },
);
