import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { ForbiddenError } from '../../domain/errors';
import { actorOf } from '../access/auth.plugin';
import { AgentPackage, AgentPackageFromCatalog, CreatedToken, CreateTokenBody, ListTokensQuery, QrBody, QrQuery, TokenParams, TokenView } from './enrollment.schemas';
import { Type } from '@sinclair/typebox';
import type { FastifyReply } from 'fastify';
import { renderQr } from '../../infra/qr';

const QR_TYPES = { png: 'image/png', svg: 'image/svg+xml; charset=utf-8', json: 'application/json; charset=utf-8' } as const;

/** Enrollment tokens, their provisioning QR codes, and the agent package the QR codes point to. */
export const enrollmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const enrollment = app.services.enrollment;
  const manage = { access: { permission: 'enrollment.manage' as const } };
  const audited = (action: string) => ({ access: { ...manage.access, audit: { action, target: 'enrollment_token' } } });

  app.post('/enrollment-tokens', { config: audited('enrollment_token.create'), schema: { tags: ['enrollment'], body: CreateTokenBody, response: { 201: CreatedToken } } }, async (request, reply) => {
    const { token, view, appleEnrollmentUrl } = await enrollment.createToken(request.scope, actorOf(request), request.body);
    const apple = { enrollmentUrl: appleEnrollmentUrl, qrCodeSvg: String(await renderQr(appleEnrollmentUrl, 'svg')) };
    return reply.code(201).header('cache-control', 'no-store').send({ token, enrollmentToken: view, apple });
  });

  app.get('/enrollment-tokens', { config: manage, schema: { tags: ['enrollment'], querystring: ListTokensQuery, response: { 200: Type.Object({ items: Type.Array(TokenView) }) } } }, async (request) => ({
    items: await enrollment.listTokens(request.scope, request.query),
  }));

  app.get('/enrollment-tokens/:id', { config: manage, schema: { tags: ['enrollment'], params: TokenParams, response: { 200: TokenView } } }, async (request) =>
    enrollment.getToken(request.scope, request.params.id),
  );

  app.post('/enrollment-tokens/:id/revoke', { config: audited('enrollment_token.revoke'), schema: { tags: ['enrollment'], params: TokenParams, response: { 200: TokenView } } }, async (request) =>
    enrollment.revokeToken(request.scope, actorOf(request), request.params.id),
  );

  // The code reveals the token: never cached.
  const sendQr = async (reply: FastifyReply, payload: Record<string, unknown>, format: keyof typeof QR_TYPES) =>
    reply
      .header('cache-control', 'no-store')
      .type(QR_TYPES[format])
      .send(format === 'json' ? payload : await renderQr(JSON.stringify(payload), format));

  app.get('/enrollment-tokens/:id/qr', { config: manage, schema: { tags: ['enrollment'], params: TokenParams, querystring: QrQuery } }, async (request, reply) => {
    const format = request.query.format ?? 'png';
    return sendQr(reply, await enrollment.provisioningPayload(request.scope, actorOf(request), request.params.id, format), format);
  });

  app.post('/enrollment-tokens/:id/qr', { config: manage, schema: { tags: ['enrollment'], params: TokenParams, body: QrBody } }, async (request, reply) => {
    const format = request.body.format ?? 'png';
    const { format: _format, ...extras } = request.body;
    return sendQr(reply, await enrollment.provisioningPayload(request.scope, actorOf(request), request.params.id, format, extras), format);
  });

  // The iPad link enrolls like the token: shown on demand, audited, never cached.
  app.get('/enrollment-tokens/:id/apple', { config: manage, schema: { tags: ['enrollment'], params: TokenParams, querystring: QrQuery } }, async (request, reply) => {
    const format = request.query.format ?? 'json';
    const url = await enrollment.appleEnrollmentLink(request.scope, actorOf(request), request.params.id, format);
    reply.header('cache-control', 'no-store');
    if (format === 'json') return { enrollmentUrl: url, qrCodeSvg: String(await renderQr(url, 'svg')) };
    return reply.type(QR_TYPES[format]).send(await renderQr(url, format));
  });

  app.patch(
    '/organisation/settings/agent-package',
    {
      config: { access: { permission: 'organisation.manage' } },
      schema: {
        tags: ['organisation'],
        summary: 'The agent package the provisioning QR codes name: an APK of the app catalog, or an address and checksum given by hand',
        description:
          'With `appVersionId`, the server reads the signing certificate from the catalog\u2019s APK for the checksum, and serves that file at a signed address valid five years (set it again to renew). Otherwise the three fields are taken as given.',
        body: Type.Union([AgentPackageFromCatalog, AgentPackage]),
        response: { 200: AgentPackage },
      },
    },
    async (request) => {
      // The package is organisation-wide: a grant limited to some schools cannot change it.
      if (!request.scope.all) throw new ForbiddenError('Only an organisation-wide administrator can change the agent package');
      const body = request.body;
      const agentPackage = 'appVersionId' in body ? await app.services.apps.agentPackage(request.scope.organisationId, body.appVersionId, body.componentName) : body;
      return enrollment.setAgentPackage(request.scope.organisationId, actorOf(request), agentPackage);
    },
  );
};
