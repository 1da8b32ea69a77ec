import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';
import { RetentionPatch, RetentionView } from './retention.policy';

const DeviceParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const Erased = Type.Object({
  deviceId: Type.String(),
  status: Type.String(),
  erased: Type.Object({ apps: Type.Integer(), events: Type.Integer(), positions: Type.Integer(), commands: Type.Integer({ description: 'Commands whose parameters and results were blanked' }) }),
});
const tags = ['privacy'];

/** Data-subject rights on a device (export, erasure) and the retention periods. */
export const privacyRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { deviceExport, retention, auth } = app.services;

  app.get(
    '/devices/:id/export',
    {
      config: { access: { permission: 'devices.read' } },
      schema: {
        tags,
        summary: 'Everything held about a device, as a ZIP of JSON and CSV (audited; positions only with the location permission)',
        params: DeviceParams,
        response: { 200: Type.Unsafe<Buffer>({ type: 'string', format: 'binary' }) },
      },
    },
    async (request, reply) => {
      const { fileName, zip } = await deviceExport.export(
        {
          scope: request.scope,
          actor: actorOf(request),
          locationScope: await auth.scopeFor(request.principal, 'devices.location.read'),
          networkScope: await auth.scopeFor(request.principal, 'devices.network.read'),
        },
        request.params.id,
      );
      reply.header('content-type', 'application/zip').header('content-disposition', `attachment; filename="${fileName}"`).header('cache-control', 'no-store');
      return reply.send(zip);
    },
  );

  app.post(
    '/devices/:id/erase',
    {
      config: { access: { permission: 'devices.wipe', audit: { action: 'device.erase', target: 'device' } } },
      schema: { tags, summary: "Erase a wiped or retired device's personal data (refused for an active device)", params: DeviceParams, response: { 200: Erased } },
    },
    async (request) => deviceExport.erase({ scope: request.scope, actor: actorOf(request) }, request.params.id),
  );

  app.get(
    '/organisation/settings/retention',
    { config: { access: { permission: 'organisation.read' } }, schema: { tags, summary: 'Retention periods in force, in days', response: { 200: RetentionView } } },
    async (request) => retention.settings(request.scope.organisationId),
  );

  app.patch(
    '/organisation/settings/retention',
    { config: { access: { permission: 'organisation.manage' } }, schema: { tags, summary: 'Change retention periods within their bounds', body: RetentionPatch, response: { 200: RetentionView } } },
    async (request) => retention.updateSettings(request.scope, actorOf(request), request.body),
  );
};
