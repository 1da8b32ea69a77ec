import formbody from '@fastify/formbody';
import fastifyStatic from '@fastify/static';
import view from '@fastify/view';
import { Eta } from 'eta';
import type { FastifyError, FastifyInstance, FastifyPluginAsync } from 'fastify';
import { problemOf } from '../infra/http/error-handler';
import { withAccess } from '../modules/access/auth.plugin';
import { clearSessionCookie } from '../modules/access/session-cookie';
import { ASSETS_DIR, LEAFLET_DIR, VIEWS_DIR, assetUrls } from './console-paths';
import { LANGUAGE_COOKIE, negotiateLocale } from './i18n';
import { CONSOLE_PREFIX } from './navigation';
import { renderError, renderPage, tFor } from './page';
import { appsRoutes } from './pages/apps.routes';
import { campaignsRoutes } from './pages/campaigns.routes';
import { auditRoutes } from './pages/audit.routes';
import { dashboardRoutes } from './pages/dashboard.routes';
import { deviceRoutes } from './pages/device.routes';
import { enrollmentRoutes } from './pages/enrollment.routes';
import { inventoryRoutes } from './pages/inventory.routes';
import { oidcRoutes } from './pages/oidc.routes';
import { profilesRoutes } from './pages/profiles.routes';
import { settingsRoutes } from './pages/settings.routes';
import { applePushRoutes } from './pages/apple-push.routes';
import { androidManagementRoutes } from './pages/android-management.routes';
import { signInRoutes } from './pages/sign-in.routes';
import { tokensRoutes } from './pages/tokens.routes';
import { usersRoutes } from './pages/users.routes';
import { locationConsoleRoutes } from './pages/location.routes';
import { privacyConsoleRoutes } from './pages/privacy.routes';

/** Each area of the console is one plugin in server/console/pages; a new page adds its plugin here. */
const PAGES = [signInRoutes, oidcRoutes, dashboardRoutes, inventoryRoutes, deviceRoutes, enrollmentRoutes, profilesRoutes, appsRoutes, campaignsRoutes, usersRoutes, tokensRoutes, auditRoutes, settingsRoutes, applePushRoutes, androidManagementRoutes, locationConsoleRoutes, privacyConsoleRoutes];

/**
 * The web console: server-rendered pages over the same services and scopes as the REST API,
 * mounted under /console. Its errors are pages in the reader's language, never JSON.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  await app.register(formbody, { bodyLimit: 64 * 1024 });
  await app.register(withAccess(fastifyStatic, { root: ASSETS_DIR, prefix: '/assets/', maxAge: '365d', immutable: true, index: false, list: false }, { public: "the console's styles and scripts" }));
  // Leaflet, served by Cartable itself: the map needs nothing from outside but its tiles.
  await app.register(withAccess(fastifyStatic, { root: LEAFLET_DIR, prefix: '/vendor/leaflet/', decorateReply: false, maxAge: '1d', index: false, list: false, allowedPath: (path) => /^\/(leaflet\.(js|css)|images\/[a-z-]+\.png)$/.test(path) }, { public: 'the map library of the location page' }));
  // Templates are compiled once and kept: they change only with a new release.
  await app.register(view, { engine: { eta: new Eta({ views: VIEWS_DIR, cache: true }) }, root: VIEWS_DIR, production: true });
  app.decorate('consoleAsset', assetUrls(CONSOLE_PREFIX));
  app.decorateRequest('locale', 'fr');

  app.addHook('onRequest', async (request) => {
    request.locale = negotiateLocale(request.cookies[LANGUAGE_COOKIE], request.headers['accept-language']);
  });
  // An empty field of an HTML form (or of a filter in the address) means "not given", as an absent one would.
  app.addHook('preValidation', async (request) => {
    for (const fields of [request.body, request.query] as unknown[]) {
      if (fields && typeof fields === 'object') for (const [key, value] of Object.entries(fields)) if (value === '') delete (fields as Record<string, unknown>)[key];
    }
  });

  app.setErrorHandler(async (error: FastifyError, request, reply) => {
    const problem = problemOf(error);
    if (problem.status >= 500) request.log.error({ err: error }, 'console page failed');
    else request.log.info({ code: problem.code, status: problem.status }, 'console request refused');
    if (problem.code === 'unauthorized') {
      const next = request.method === 'GET' ? `?next=${encodeURIComponent(request.url)}` : '';
      return reply.redirect(`${CONSOLE_PREFIX}/login${next}`, 303);
    }
    if (problem.code === 'password_change_required') return reply.redirect(`${CONSOLE_PREFIX}/password`, 303);
    if (problem.code === 'session_expired') {
      clearSessionCookie(reply);
      return renderPage(request, reply, 'session-expired', { title: tFor(request)('session.expiredTitle'), status: 401 });
    }
    // A malformed id in the address is a page that does not exist.
    if ((error as FastifyError).validationContext === 'params') return renderError(request, reply, 404, 'not_found');
    if (problem.status === 429) reply.header('retry-after', String((error as { retryAfterSec?: number }).retryAfterSec ?? 60));
    return renderError(request, reply, problem.status, problem.code);
  });
  app.setNotFoundHandler((request, reply) => renderError(request, reply, 404, 'not_found'));

  for (const page of PAGES) await app.register(page);
};

/** `/` leads to the console, which sends visitors to the sign-in page or to their first page. */
export async function registerConsole(app: FastifyInstance): Promise<void> {
  app.get('/', { config: { access: { public: 'leads to the console' } }, schema: { hide: true } }, (_request, reply) => reply.redirect(`${CONSOLE_PREFIX}/`, 302));
  await app.register(consoleRoutes, { prefix: CONSOLE_PREFIX });
}
