import type { FastifyInstance, FastifyPluginAsync, FastifyPluginCallback, FastifyRequest, onRequestHookHandler, preHandlerHookHandler, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { ForbiddenError, UnauthenticatedError } from '../../domain/errors';
import type { Actor, Permission, Principal, Scope } from './principal';
import { isPeopleAccess, openApiSecurity, permissionFor, type PeopleAccess, type RouteAccess } from './route-access';
import { SESSION_COOKIE } from './session-cookie';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated caller; set before the handler of every route that is not public. */
    principal: Principal;
    /** The schools the caller may reach for the permission the route declared. */
    scope: Scope;
  }
  interface FastifyInstance {
    /** Every route with its declared access (HEAD routes made from GET routes left out). */
    declaredRoutes(): DeclaredRoute[];
  }
  interface FastifyContextConfig {
    /** What the route requires of its caller: every route declares it, or the server does not start. */
    access?: RouteAccess;
    /** The route stays open to an account that must first replace its password (sign-out, who am I, the change itself). */
    beforePasswordChange?: boolean;
  }
}

export interface DeclaredRoute {
  method: string;
  url: string;
  access: RouteAccess;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const REFUSED = new Set([403, 404]);

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

async function scopeOrRefuse(app: FastifyInstance, principal: Principal, permission: Permission): Promise<Scope> {
  const scope = await app.services.auth.scopeFor(principal, permission);
  if (!scope) throw new ForbiddenError(`This action needs the ${permission} permission`, 'missing_permission');
  return scope;
}

/** The check a declaration stands for, run before body validation so refusals come first. */
function guardOf(app: FastifyInstance, access: PeopleAccess): onRequestHookHandler {
  return async function accessGuard(request) {
    const principal = await identify(app, request);
    if (access.person && principal.kind !== 'user') throw new ForbiddenError('Only a signed-in person can do this, not an API token', 'person_required');
    if ('permission' in access) request.scope = await scopeOrRefuse(app, principal, access.permission);
  };
}

/** A stronger permission for some kinds, decided once the body is parsed and validated. */
function kindGuardOf(app: FastifyInstance, access: Extract<PeopleAccess, { permission: Permission }>): preHandlerHookHandler {
  return async function kindGuard(request) {
    const kind = (request.params as { kind?: unknown } | undefined)?.kind ?? (request.body as { kind?: unknown } | undefined)?.kind;
    const permission = permissionFor(access, kind);
    if (permission !== access.permission) request.scope = await scopeOrRefuse(app, request.principal, permission);
  };
}

const asArray = <T>(hooks: T | T[] | undefined): T[] => (hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]);

/**
 * Every route declares its access in `config.access`: the check before its handler and its
 * OpenAPI `security` both follow from that declaration, and a route declaring nothing stops the
 * server at start. Wrapped with fastify-plugin, so its hooks see every route registered after it.
 */
export const authPlugin = fp(
  async (app: FastifyInstance) => {
    app.decorateRequest('principal', null as never);
    app.decorateRequest('scope', null as never);

    const routes: RouteOptions[] = [];
    app.decorate('declaredRoutes', () =>
      routes.flatMap((r) => [r.method].flat().filter((m) => m !== 'HEAD').map((method) => ({ method, url: r.url, access: r.config!.access! }))),
    );
    app.addHook('onRoute', (route) => {
      routes.push(route);
      // A third-party plugin's routes get their declaration from `withAccess`, after this hook.
      const access = route.config?.access;
      if (!access) return;
      if (!route.schema?.hide) route.schema = { ...route.schema, security: openApiSecurity(access) };
      if (!isPeopleAccess(access)) return;
      const onRequest = asArray(route.onRequest);
      // A HEAD route is made from its GET route's options, guard included.
      if (onRequest.some((h) => h.name === 'accessGuard')) return;
      route.onRequest = [guardOf(app, access), ...onRequest];
      if ('permission' in access && access.byKind) route.preHandler = [...asArray(route.preHandler), kindGuardOf(app, access)];
    });
    app.addHook('onReady', async () => {
      const missing = routes.filter((r) => !r.config?.access).map((r) => `${[r.method].flat().join(',')} ${r.url}`);
      if (missing.length) throw new Error(`Routes without an access declaration (config.access): ${missing.join('; ')}`);
    });

    // A browser sends the session cookie with any request, including one forged by another
    // site: a change made with the cookie must also carry a CSRF token (form field or header).
    // Scripts with an API token are not concerned: a browser never adds that header on its own.
    app.addHook('preHandler', (request, reply, done) => {
      if (request.principal?.sessionId && !SAFE_METHODS.has(request.method)) return app.csrfProtection(request, reply, done);
      done();
    });

    // A refused sensitive write leaves a trace: who tried what on which target, and nothing of
    // what was sent or of what exists.
    app.addHook('onSend', async (request, reply, payload) => {
      const access = request.routeOptions.config.access;
      const audit = access && isPeopleAccess(access) ? access.audit : undefined;
      if (!audit || !REFUSED.has(reply.statusCode) || !request.principal) return payload;
      const id = (request.params as { id?: unknown } | undefined)?.id;
      await app.services.auth.recordRefusal(request.principal.organisationId, actorOf(request), audit.action, {
        type: audit.target,
        id: typeof id === 'string' && UUID.test(id) ? id : null,
        status: reply.statusCode,
      });
      return payload;
    });
  },
  { name: 'cartable-auth', dependencies: ['@fastify/csrf-protection', '@fastify/cookie'] },
);

/**
 * Registers a third-party plugin (static files, the API documentation) whose routes cannot carry
 * a config of their own: all of them are public, for the reason given.
 */
export function withAccess<O extends object>(plugin: FastifyPluginAsync<O> | FastifyPluginCallback<O>, options: O, access: { public: string }): FastifyPluginAsync {
  return async (app) => {
    app.addHook('onRoute', (route) => {
      route.config = { ...route.config, access: route.config?.access ?? access };
    });
    await app.register(plugin as FastifyPluginAsync<O>, options);
  };
}
