import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { clearSessionCookie, setSessionCookie } from '../../modules/access/session-cookie';
import { signInLimit } from '../../infra/http/web-plumbing';
import { FormBody, safeConsolePath } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { LANGUAGE_COOKIE, isLocale } from '../i18n';
import { CONSOLE_PREFIX, homeOf } from '../navigation';
import { renderPage, setNotice, tFor } from '../page';

const LoginForm = FormBody({
  email: Type.String({ minLength: 1, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
  next: Type.Optional(Type.String({ maxLength: 2000 })),
});
const PasswordForm = FormBody({
  currentPassword: Type.String({ minLength: 1, maxLength: 1024 }),
  newPassword: Type.String({ minLength: 12, maxLength: 1024 }),
  confirmPassword: Type.String({ minLength: 1, maxLength: 1024 }),
});
const LoginQuery = Type.Object({ next: Type.Optional(Type.String({ maxLength: 2000 })), signedOut: Type.Optional(Type.Literal('1')) });
const LanguageQuery = Type.Object({ to: Type.String({ maxLength: 5 }), back: Type.Optional(Type.String({ maxLength: 2000 })) });

/** Signing in and out, replacing one's password, the language switch. */
export const signInRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auth } = app.services;
  const oidc = app.infra.config.OIDC_ISSUER_URL ? app.infra.config.OIDC_PROVIDER_NAME : null;

  const loginPage = (request: FastifyRequest, reply: FastifyReply, form: FormState | undefined, next: string | null, notice?: string) =>
    renderPage(request, reply, 'login', { title: tFor(request)('login.title'), form, notice }, { next, oidc });

  app.get('/', { config: { access: { signedIn: true } } }, async (request, reply) => reply.redirect(homeOf(request.principal), 303));

  app.get('/login', { config: { access: { public: 'the sign-in form' } }, schema: { querystring: LoginQuery } }, async (request, reply) =>
    loginPage(request, reply, undefined, safeConsolePath(request.query.next), request.query.signedOut ? tFor(request)('login.signedOut') : undefined),
  );

  app.post('/login', { config: { access: { public: 'signing in' } }, onRequest: signInLimit(app), preHandler: app.csrfProtection, attachValidation: true, schema: { body: LoginForm } }, async (request, reply) => {
    const t = tFor(request);
    const next = safeConsolePath(request.body?.next);
    return handleForm(request, reply, t, {
      labels: { email: 'login.email', password: 'login.password' },
      render: (form) => loginPage(request, reply, form, next),
      async submit() {
        const signedIn = await auth.login(request.body.email, request.body.password, { ip: request.ip, userAgent: request.headers['user-agent'] ?? null });
        setSessionCookie(reply, signedIn.sessionToken, signedIn.expiresAt);
        if (signedIn.mustChangePassword) return `${CONSOLE_PREFIX}/password`;
        return next ?? `${CONSOLE_PREFIX}/`;
      },
    });
  });

  app.post('/logout', { config: { access: { signedIn: true }, beforePasswordChange: true } }, async (request, reply) => {
    await auth.logout(request.principal, actorOf(request));
    clearSessionCookie(reply);
    return reply.redirect(`${CONSOLE_PREFIX}/login?signedOut=1`, 303);
  });

  const passwordPage = (request: FastifyRequest, reply: FastifyReply, form?: FormState) =>
    renderPage(request, reply, 'password', { title: tFor(request)('password.title'), form }, { required: request.principal.mustChangePassword === true });

  app.get('/password', { config: { access: { signedIn: true, person: true }, beforePasswordChange: true } }, async (request, reply) => passwordPage(request, reply));

  app.post('/password', { config: { access: { signedIn: true, person: true }, beforePasswordChange: true }, attachValidation: true, schema: { body: PasswordForm } }, async (request, reply) => {
    const t = tFor(request);
    if (!request.validationError && request.body.newPassword !== request.body.confirmPassword) {
      return passwordPage(request, reply, { values: {}, errors: [{ field: 'confirmPassword', message: t('errors.passwords_differ') }] });
    }
    return handleForm(request, reply, t, {
      labels: { currentPassword: 'password.current', newPassword: 'password.new', confirmPassword: 'password.confirm' },
      fieldOfCode: { wrong_password: 'currentPassword', weak_password: 'newPassword', password_unchanged: 'newPassword' },
      render: (form) => passwordPage(request, reply, form),
      async submit() {
        await auth.changePassword(request.principal, request.body.currentPassword, request.body.newPassword, actorOf(request));
        setNotice(reply, 'passwordChanged');
        return homeOf(request.principal);
      },
    });
  });

  // A link, not a form: choosing a language changes nothing on the server.
  app.get('/language', { config: { access: { public: 'choosing the language, before signing in too' } }, schema: { querystring: LanguageQuery } }, async (request, reply) => {
    const back = safeConsolePath(request.query.back) ?? `${CONSOLE_PREFIX}/`;
    if (isLocale(request.query.to)) reply.setCookie(LANGUAGE_COOKIE, request.query.to, { path: '/', maxAge: 365 * 24 * 3600, sameSite: 'lax', httpOnly: true, secure: app.secureCookies });
    return reply.redirect(back, 303);
  });
};
