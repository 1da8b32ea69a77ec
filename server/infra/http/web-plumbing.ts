import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import helmet from 'helmet';
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import type { Infra } from '../infra';
import { RateLimitedError } from '../../domain/errors';

const CSRF_COOKIE = 'cartable_csrf';

declare module 'fastify' {
  interface FastifyInstance {
    /** Whether cookies this server sets must carry `Secure` (the public URL is HTTPS). */
    secureCookies: boolean;
    /**
     * Counts a request against a named per-address budget shared by every route that uses the
     * same name, in Redis so that every process sees the same counts. Empty when `max` is 0.
     */
    addressLimit(name: string, max: number, windowMs: number): onRequestHookHandler[];
  }
  interface FastifyContextConfig {
    /** `false` for routes only devices call: the security headers of pages (CSP and the like) are left off. */
    securityHeaders?: false;
  }
}

/** A key for one purpose, derived from the installation's master secret. */
function derivedKey(passphrase: string, purpose: string): string {
  return createHash('sha256').update(`cartable:${purpose}:${passphrase}`).digest('base64url');
}

/**
 * Cookies, CSRF tokens, security headers and per-address rate limits, on Fastify's own plugins.
 * Registered at the root, before any route, so the REST API, the console and the device
 * endpoints all get them.
 */
export async function registerWebPlumbing(app: FastifyInstance, infra: Infra): Promise<void> {
  const secure = infra.config.CARTABLE_PUBLIC_URL.startsWith('https://');
  app.decorate('secureCookies', secure);

  await app.register(cookie, { secret: derivedKey(infra.secrets.passphrase, 'cookies') });

  // The CSRF secret lives in a signed cookie; each token is bound to the caller's session id, so a
  // token taken from one session is worthless in another. Sessions themselves stay in PostgreSQL.
  await app.register(csrf, {
    cookieKey: CSRF_COOKIE,
    cookieOpts: { path: '/', sameSite: 'strict', httpOnly: true, secure, signed: true },
    csrfOpts: { hmacKey: derivedKey(infra.secrets.passphrase, 'csrf') },
    getUserInfo: (request: FastifyRequest) => request.principal?.sessionId ?? 'anonymous',
    getToken: (request: FastifyRequest) => {
      const fromForm = (request.body as { _csrf?: unknown } | undefined)?._csrf;
      const header = request.headers['x-csrf-token'];
      return typeof fromForm === 'string' ? fromForm : typeof header === 'string' ? header : undefined;
    },
  });

  // The middleware is built once: @fastify/helmet builds it anew, directives parsed again, at every
  // request, which weighed on a gateway taking back thousands of tablets at once.
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        connectSrc: ["'self'"],
        fontSrc: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
        // The location map's tiles come from the configured tile server.
        imgSrc: ["'self'", 'data:', new URL(infra.config.MAP_TILE_URL.replace(/\{[a-z]\}/g, '0')).origin],
        objectSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        ...(secure ? { upgradeInsecureRequests: [] } : {}),
      },
    },
    frameguard: { action: 'deny' },
    // Over plain HTTP (a development machine) the header would be ignored, and it would pin a
    // host name to HTTPS for a year.
    strictTransportSecurity: secure ? { maxAge: 31_536_000 } : false,
  });
  app.addHook('onRequest', (request, reply, done) => {
    if (request.routeOptions.config.securityHeaders === false) return done();
    securityHeaders(request.raw, reply.raw, (err?: unknown) => done(err as Error | undefined));
  });

  app.addHook('onSend', async (_request, reply) => {
    // Anything that does not say otherwise is not stored by browsers or proxies: answers carry
    // tokens shown once, QR codes holding enrollment secrets, and pupils' devices.
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store');
    // The time spent on the server, as browsers' developer tools and benchmarks read it.
    reply.header('server-timing', `app;dur=${reply.elapsedTime.toFixed(1)}`);
  });

  // A connection of its own that fails at once while Redis is away, so that `skipOnError` lets
  // the request through instead of waiting for Redis to come back.
  // The timeout only matters when Redis hangs; it is loose enough that a busy event loop does not
  // mistake a reply already in the socket for a hung server.
  const limiterRedis = infra.redis.duplicate({ enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 2000 });
  limiterRedis.on('error', () => undefined);
  app.addHook('onClose', async () => limiterRedis.disconnect());
  // Without its connection the limiter lets every request through: the first requests after start
  // are counted only if the connection is up before the server listens.
  await limiterReady(limiterRedis, app);
  await app.register(rateLimit, {
    global: false,
    redis: limiterRedis,
    nameSpace: `${infra.config.REDIS_PREFIX}:ratelimit:`,
    skipOnError: true,
    errorResponseBuilder: (_request, context) => {
      const retryAfterSec = Math.max(1, Math.ceil(context.ttl / 1000));
      return new RateLimitedError(`Too many attempts from this address; retry in ${retryAfterSec} s`, retryAfterSec);
    },
  });
  app.decorate('addressLimit', (name: string, max: number, windowMs: number) => {
    if (max <= 0) return [];
    const options: RateLimitOptions = { max, timeWindow: windowMs, keyGenerator: (request) => `${name}:${request.ip}` };
    return [app.rateLimit(options)];
  });
}

const LIMITER_CONNECT_WAIT_MS = 5000;

async function limiterReady(redis: Redis, app: FastifyInstance): Promise<void> {
  if (redis.status === 'ready') return;
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), LIMITER_CONNECT_WAIT_MS);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) app.log.warn('rate limiter: Redis not reachable at start; limits apply once it is');
}

const SIGN_IN_WINDOW_MS = 15 * 60 * 1000;

/** One budget of sign-in attempts per address, shared by every way of signing in. */
export function signInLimit(app: FastifyInstance): onRequestHookHandler[] {
  return app.addressLimit('sign-in', app.infra.config.SIGN_IN_RATE_LIMIT_PER_15MIN, SIGN_IN_WINDOW_MS);
}
