import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { renderError, renderPage, tFor } from '../page';

/** For the auditor and the DPO: what is held and when it goes, and the processing-register entry. */
export const privacyConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { retention, processingRegister } = app.services;
  const read = { access: { permission: 'audit.read' as const } };

  app.get('/privacy', { config: read }, async (request, reply) => {
    const report = await retention.report();
    const mine = report.organisations.find((o) => o.organisationId === request.scope.organisationId);
    return renderPage(request, reply, 'privacy', { title: tFor(request)('privacy.title') }, { at: report.at, lines: mine?.lines ?? [] });
  });

  // A standalone document that prints to PDF as it is (French: the register is kept in French).
  app.get('/privacy/register.html', { config: read }, async (request, reply) => {
    const html = await processingRegister.html(request.scope.organisationId);
    if (html === null) return renderError(request, reply, 404, 'not_found');
    // Its own policy: the document carries its print styles inline and loads nothing at all.
    return reply.type('text/html; charset=utf-8').header('content-security-policy', "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'").send(html);
  });

  app.get('/privacy/register.md', { config: read }, async (request, reply) => {
    const md = await processingRegister.markdown(request.scope.organisationId);
    if (md === null) return renderError(request, reply, 404, 'not_found');
    return reply.type('text/markdown; charset=utf-8').header('content-disposition', 'attachment; filename="registre-cartable.md"').send(md);
  });
};
