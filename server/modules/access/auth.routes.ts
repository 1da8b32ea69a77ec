import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { ForbiddenError } from '../../domain/errors';
import { LoginBody, LoginReply, MeReply, NewTokenBody, NewTokenReply, PasswordChangeBody, TokenListQuery, TokenView, IdParams } from './access.schemas';
import { actorOf } from './auth.plugin';
import { clearSessionCookie, setSessionCookie } from './session-cookie';
import { signInLimit } from '../../infra/http/web-plumbing';

const tags = ['auth'];

/** Sign-in for people (session cookie + CSRF token) and API tokens for scripts. */
export const authRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auth, apiTokens } = app.services;

  app.post(
    '/auth/login',
    { onRequest: signInLimit(app), config: { access: { public: 'signing in' } }, schema: { tags, summary: 'Sign in with email and password', body: LoginBody, response: { 200: LoginReply } } },
    async (request, reply) => {
      const signedIn = await auth.login(request.body.email, request.body.password, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
      setSessionCookie(reply, signedIn.sessionToken, signedIn.expiresAt);
      const csrfToken = reply.generateCsrf({ userInfo: signedIn.sessionId });
      return { user: signedIn.user, csrfToken, expiresAt: signedIn.expiresAt.toISOString(), mustChangePassword: signedIn.mustChangePassword };
    },
  );

  app.post(
    '/auth/logout',
    { config: { access: { signedIn: true }, beforePasswordChange: true }, schema: { tags, summary: 'End the current session', response: { 204: Type.Null() } } },
    async (request, reply) => {
      await auth.logout(request.principal, actorOf(request));
      clearSessionCookie(reply);
      return reply.code(204).send(null);
    },
  );

  app.post(
    '/auth/password',
    {
      config: { access: { signedIn: true, person: true }, beforePasswordChange: true },
      schema: { tags, summary: 'Replace your own password (required first for a printed first password)', body: PasswordChangeBody, response: { 204: Type.Null() } },
    },
    async (request, reply) => {
      await auth.changePassword(request.principal, request.body.currentPassword, request.body.newPassword, actorOf(request));
      return reply.code(204).send(null);
    },
  );

  app.get('/auth/me', { config: { access: { signedIn: true }, beforePasswordChange: true }, schema: { tags, summary: 'Who am I', response: { 200: MeReply } } }, async (request) => {
    const p = request.principal;
    return { kind: p.kind, userId: p.userId, organisationId: p.organisationId, label: p.label, grants: p.grants };
  });

  app.post(
    '/auth/tokens',
    {
      config: { access: { signedIn: true, person: true, audit: { action: 'api_token.create', target: 'api_token' } } },
      schema: { tags, summary: 'Create an API token (the secret is shown once); only a signed-in person, never a token', body: NewTokenBody, response: { 201: NewTokenReply } },
    },
    async (request, reply) => {
      const { name, role, scopeType, scopeId, expiresAt } = request.body;
      const created = await apiTokens.issueForCaller(request.principal, { name, role, scopeType, scopeId: scopeId ?? null, expiresAt: new Date(expiresAt) }, actorOf(request));
      return reply.code(201).send({ ...created.view, token: created.token });
    },
  );

  app.get(
    '/auth/tokens',
    { config: { access: { signedIn: true } }, schema: { tags, summary: 'List API tokens (never their secret)', querystring: TokenListQuery, response: { 200: Type.Array(TokenView) } } },
    async (request) => {
      const everyone = request.query.all === true && (await auth.scopeFor(request.principal, 'users.manage')) !== null;
      if (request.query.all && !everyone) throw new ForbiddenError('Listing every token needs the users.manage permission', 'missing_permission');
      return apiTokens.list(request.principal, everyone);
    },
  );

  app.delete(
    '/auth/tokens/:id',
    { config: { access: { signedIn: true, audit: { action: 'api_token.revoke', target: 'api_token' } } }, schema: { tags, summary: 'Revoke an API token, effective immediately', params: IdParams, response: { 200: TokenView } } },
    async (request) => {
      const mayRevokeOthers = (await auth.scopeFor(request.principal, 'users.manage')) !== null;
      return apiTokens.revoke(request.principal, request.params.id, mayRevokeOthers, actorOf(request));
    },
  );
};
