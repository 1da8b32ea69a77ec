import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { DeviceApp, DeviceDetail, DeviceList, DeviceParams, EventsPage, EventsQuery, FleetSummary, ListDevicesQuery, SummaryQuery } from './devices.schemas';

/** The device inventory, read-only, within the caller's schools. */
export const devicesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const devices = app.services.devices;
  const read = { access: { permission: 'devices.read' as const } };

  app.get('/devices', { config: read, schema: { tags: ['devices'], querystring: ListDevicesQuery, response: { 200: DeviceList } } }, (request) =>
    devices.list(request.scope, request.query),
  );

  app.get(
    '/devices/summary',
    { config: read, schema: { tags: ['devices'], summary: 'The active fleet in figures (what the console dashboard shows)', querystring: SummaryQuery, response: { 200: FleetSummary } } },
    (request) => devices.fleetSummary(request.scope, request.query),
  );

  app.get('/devices/:id', { config: read, schema: { tags: ['devices'], params: DeviceParams, response: { 200: DeviceDetail } } }, async (request) =>
    devices.get(request.scope, request.params.id, await app.services.auth.scopeFor(request.principal, 'devices.network.read')),
  );

  app.get('/devices/:id/events', { config: read, schema: { tags: ['devices'], summary: "The device's reported events, newest first", params: DeviceParams, querystring: EventsQuery, response: { 200: EventsPage } } }, (request) =>
    devices.events(request.scope, request.params.id, request.query.limit, request.query.before),
  );

  app.get('/devices/:id/apps', { config: read, schema: { tags: ['devices'], params: DeviceParams, response: { 200: Type.Object({ items: Type.Array(DeviceApp) }) } } }, (request) =>
    devices.apps(request.scope, request.params.id),
  );
};
