import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type * as Oidc from 'openid-client';
import { setSessionCookie } from '../../modules/access/session-cookie';
import { signInLimit } from '../../infra/http/web-plumbing';
import { safeConsolePath } from '../form-schema';
import { errorMessage } from '../forms';
import { CONSOLE_PREFIX } from '../navigation';
import { renderPage, tFor } from '../page';

/** What must come back with the provider's answer, kept in a signed cookie for ten minutes. */
const FLOW_COOKIE = 'cartable_oidc';
const FLOW_PATH = `${CONSOLE_PREFIX}/oidc`;

interface Flow {
  verifier: string;
  state: string;
  nonce: string;
  next: string | null;
}

/**
 * Sign-in through the authority's OpenID Connect provider (authorization code with PKCE, state
 * and nonce, through openid-client). The e-mail address the provider vouches for must belong to
 * an existing Cartable account; nobody is created here.
 */
export const oidcRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { config } = app.infra;
  if (!config.OIDC_ISSUER_URL || !config.OIDC_CLIENT_ID || !config.OIDC_CLIENT_SECRET) return;
  const { OIDC_CLIENT_ID: clientId, OIDC_CLIENT_SECRET: clientSecret } = config;
  const issuer = new URL(config.OIDC_ISSUER_URL);
  // Loaded only where a provider is configured: it weighs on every start otherwise.
  const oidc: typeof Oidc = await import('openid-client');
  const publicUrl = config.CARTABLE_PUBLIC_URL.replace(/\/+$/, '');
  const redirectUri = `${publicUrl}${FLOW_PATH}/callback`;

  // Discovered at the first sign-in rather than at start, so a provider that is down does not
  // keep the server from starting; a failed discovery is tried again next time.
  let discovered: Promise<Oidc.Configuration> | undefined;
  const provider = () => {
    discovered ??= oidc.discovery(issuer, clientId, undefined, oidc.ClientSecretBasic(clientSecret), config.OIDC_ALLOW_HTTP === 'true' ? { execute: [oidc.allowInsecureRequests] } : undefined);
    return discovered.catch((error: unknown) => {
      discovered = undefined;
      throw error;
    });
  };

  const refused = (request: FastifyRequest, reply: FastifyReply, code: string, status: number) =>
    renderPage(request, reply, 'oidc-refused', { title: tFor(request)('oidc.refusedTitle'), status }, { message: errorMessage(code, tFor(request)) });

  app.get('/oidc/start', { config: { access: { public: 'signing in through the identity provider' } }, schema: { querystring: Type.Object({ next: Type.Optional(Type.String({ maxLength: 2000 })) }) } }, async (request, reply) => {
    let configuration: Oidc.Configuration;
    try {
      configuration = await provider();
    } catch (error) {
      request.log.warn({ err: error }, 'identity provider discovery failed');
      return refused(request, reply, 'oidc_unavailable', 503);
    }
    const flow: Flow = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce(), next: safeConsolePath(request.query.next) };
    // Lax, not Strict: the cookie must come back on the provider's top-level redirect.
    reply.setCookie(FLOW_COOKIE, JSON.stringify(flow), { path: FLOW_PATH, maxAge: 600, httpOnly: true, sameSite: 'lax', secure: app.secureCookies, signed: true });
    const url = oidc.buildAuthorizationUrl(configuration, {
      redirect_uri: redirectUri,
      scope: 'openid email profile',
      code_challenge: await oidc.calculatePKCECodeChallenge(flow.verifier),
      code_challenge_method: 'S256',
      state: flow.state,
      nonce: flow.nonce,
    });
    return reply.redirect(url.href, 303);
  });

  app.get('/oidc/callback', { config: { access: { public: 'the identity provider sends the person back here' } }, onRequest: signInLimit(app) }, async (request, reply) => {
    const raw = request.cookies[FLOW_COOKIE];
    const unsigned = raw ? request.unsignCookie(raw) : null;
    reply.clearCookie(FLOW_COOKIE, { path: FLOW_PATH });
    if (!unsigned?.valid || !unsigned.value) return refused(request, reply, 'oidc_flow_lost', 400);
    const flow = JSON.parse(unsigned.value) as Flow;
    let email: string | undefined;
    try {
      const configuration = await provider();
      const tokens = await oidc.authorizationCodeGrant(configuration, new URL(request.url, publicUrl), { pkceCodeVerifier: flow.verifier, expectedState: flow.state, expectedNonce: flow.nonce });
      const claims = tokens.claims();
      let verified: unknown = claims?.email_verified;
      email = typeof claims?.email === 'string' ? claims.email : undefined;
      if (!email && claims) {
        const info = await oidc.fetchUserInfo(configuration, tokens.access_token, claims.sub);
        email = info.email;
        verified = info.email_verified;
      }
      if (!email || verified !== true) return refused(request, reply, 'oidc_email_unverified', 403);
    } catch (error) {
      request.log.warn({ err: error }, 'identity provider answer refused');
      return refused(request, reply, 'oidc_failed', 400);
    }
    let signedIn;
    try {
      signedIn = await app.services.auth.loginWithVerifiedEmail(email, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
    } catch (error) {
      if ((error as { code?: string }).code === 'oidc_unknown_account') return refused(request, reply, 'oidc_unknown_account', 403);
      throw error;
    }
    setSessionCookie(reply, signedIn.sessionToken, signedIn.expiresAt);
    // The session cookie is SameSite=Strict: a navigation that started at the provider does not
    // carry it yet. This page continues from Cartable itself, which does.
    return renderPage(request, reply, 'oidc-continue', { title: tFor(request)('oidc.continueTitle') }, { next: signedIn.mustChangePassword ? `${CONSOLE_PREFIX}/password` : (flow.next ?? `${CONSOLE_PREFIX}/`) });
  });
};
