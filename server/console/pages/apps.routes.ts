import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import { renderPage, tFor } from '../page';

/**
 * The app catalog. Packages go up through the REST upload (POST /api/v1/apps/packages), which
 * streams the raw file to disk: the page's script sends the chosen file there with the session's
 * CSRF token, so the console holds no second upload path.
 */
export const appsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { apps, auth } = app.services;
  const read = { access: { permission: 'apps.read' as const } };
  const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });

  app.get('/apps', { config: read }, async (request, reply) => {
    const caller = callerOf(request);
    // Every version of every app on one page: a school catalog holds tens of apps.
    const list = await Promise.all((await apps.list(caller)).map((a) => apps.get(caller, a.id)));
    const canUpload = (await auth.scopeFor(request.principal, 'apps.write')) !== null;
    return renderPage(request, reply, 'apps', { title: tFor(request)('apps.title') }, { apps: list, canUpload });
  });
};
