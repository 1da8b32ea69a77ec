import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Scope } from '../modules/access/principal';
import { formatters, translator, type Formatters, type Locale, type MessageKey, type Translate } from './i18n';
import { navFor, permissionsOf } from './navigation';
import { errorMessage, type FormState } from './forms';

declare module 'fastify' {
  interface FastifyRequest {
    /** The console's language for this request. */
    locale: Locale;
  }
  interface FastifyInstance {
    /** URL of a console asset, with its content version. */
    consoleAsset(file: string): string;
  }
}

/** Results announced once on the next page, after a redirect (a short-lived cookie carries the key). */
const NOTICE_COOKIE = 'cartable_notice';
export const NOTICES = ['passwordChanged', 'commandSent', 'tokenRevoked', 'userCreated', 'userUpdated', 'roleAssigned', 'roleRemoved', 'settingsSaved', 'enrollmentRevoked', 'profileAssigned', 'profileUnassigned', 'appAssigned', 'appUnassigned', 'profileSaved', 'pushCertificateSaved', 'campaignUpdated', 'amapiBound', 'amapiNotificationsSaved', 'amapiUnbound'] as const;
export type Notice = (typeof NOTICES)[number];

export function setNotice(reply: FastifyReply, notice: Notice): void {
  reply.setCookie(NOTICE_COOKIE, notice, { path: '/console', maxAge: 60, httpOnly: true, sameSite: 'strict', secure: reply.server.secureCookies });
}

function takeNotice(request: FastifyRequest, reply: FastifyReply, t: Translate): string | null {
  const key = request.cookies[NOTICE_COOKIE];
  if (!key) return null;
  reply.clearCookie(NOTICE_COOKIE, { path: '/console' });
  return (NOTICES as readonly string[]).includes(key) ? t(`notices.${key}` as MessageKey) : null;
}

export interface PageOptions {
  /** The page's own title; the layout adds the product name (and "Erreur :" when a form failed). */
  title: string;
  status?: number;
  form?: FormState;
  /** A result to announce at the top of the page (a status message, not an error). */
  notice?: string;
}

/** What every template receives besides its own data. */
export interface PageBase {
  t: Translate;
  fmt: Formatters;
  locale: Locale;
  title: string;
  path: string;
  csrfToken: string;
  asset: (file: string) => string;
  me: { label: string; permissions: ReadonlySet<string> } | null;
  nav: ReturnType<typeof navFor>;
  form: FormState | null;
  notice: string | null;
}

/**
 * The scope in which a page may name schools: the caller's organisation.read scope. Every role
 * that reads devices holds it over the same schools; the route's own scope stands in otherwise.
 */
export async function schoolsScope(request: FastifyRequest): Promise<Scope> {
  return (await request.server.services.auth.scopeFor(request.principal, 'organisation.read')) ?? request.scope;
}

export function tFor(request: FastifyRequest): Translate {
  return translator(request.locale);
}

export function pageBase(request: FastifyRequest, reply: FastifyReply, options: PageOptions): PageBase {
  const principal = request.principal;
  const path = request.url;
  const t = translator(request.locale);
  return {
    t,
    fmt: formatters(request.locale),
    locale: request.locale,
    title: options.title,
    path,
    csrfToken: reply.generateCsrf({ userInfo: principal?.sessionId ?? 'anonymous' }),
    asset: request.server.consoleAsset,
    me: principal ? { label: principal.label, permissions: permissionsOf(principal) } : null,
    // Until a printed first password is replaced, the change form is the only page there is.
    nav: principal && !principal.mustChangePassword ? navFor(principal, path) : [],
    form: options.form ?? null,
    notice: options.notice ?? takeNotice(request, reply, t),
  };
}

/** Renders `views/pages/<view>.eta` inside the layout. */
export async function renderPage(request: FastifyRequest, reply: FastifyReply, view: string, options: PageOptions, data: Record<string, unknown> = {}): Promise<string> {
  reply.code(options.status ?? (options.form?.errors.length ? 400 : 200));
  return reply.viewAsync(`pages/${view}`, { ...pageBase(request, reply, options), ...data });
}

/** The error page: a missing page and a page out of the caller's reach read the same. */
export async function renderError(request: FastifyRequest, reply: FastifyReply, status: number, code: string): Promise<string> {
  const t = translator(request.locale);
  const notFound = status === 404;
  return renderPage(request, reply, 'error', { title: notFound ? t('errors.notFoundTitle') : t('errors.title'), status }, { message: notFound ? t('errors.not_found') : errorMessage(code, t), notFound });
}

/** Renders a fragment (`views/partials/<view>.eta`) for the live refresh of part of a page. */
export async function renderFragment(request: FastifyRequest, reply: FastifyReply, view: string, data: Record<string, unknown>): Promise<string> {
  return reply.viewAsync(`partials/${view}`, { t: translator(request.locale), fmt: formatters(request.locale), locale: request.locale, ...data });
}

