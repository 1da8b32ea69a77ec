import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { ForbiddenError } from '../../domain/errors';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from './command-intent';
import { BatchProgress, BatchQuery, BulkBody, BulkResult, CommandView, HistoryPage, HistoryQuery, IdParams, IssueBody, LocationView, WipeRefusals } from './commands.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['commands'];

/** Commands to devices (lock, wipe, locate, lost mode...), one at a time or in bulk, and their history. */
export const commandsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { commands, commandBatches } = app.services;
  const command = app.authorize('devices.command');
  const read = app.authorize('devices.read');
  // A wipe is reached through the devices.wipe grants: the scope becomes theirs, so a wipe
  // can never land on a device the caller may command but not wipe.
  const wipeScope = async (request: FastifyRequest) => {
    if ((request.body as { kind?: string }).kind !== 'wipe') return;
    const scope = await app.services.auth.scopeFor(request.principal, 'devices.wipe');
    if (!scope) throw new ForbiddenError('Wiping a device needs the devices.wipe permission', 'missing_permission');
    request.scope = scope;
  };

  app.post(
    '/devices/:id/commands',
    { onRequest: command, preHandler: wipeScope, schema: { tags, summary: 'Send a command to a device', params: IdParams, body: IssueBody, response: { 201: CommandView, ...WipeRefusals } } },
    async (request, reply) => reply.code(201).send(await commands.issue(caller(request), request.params.id, request.body)),
  );

  app.get(
    '/devices/:id/commands',
    { onRequest: read, schema: { tags, summary: "A device's command history, newest first", params: IdParams, querystring: HistoryQuery, response: { 200: HistoryPage } } },
    async (request) => commands.history(caller(request), request.params.id, request.query.limit ?? 50, request.query.cursor),
  );

  app.post(
    '/commands/bulk',
    { onRequest: command, preHandler: wipeScope, schema: { tags, summary: 'Send the same command to a school, a group or a list of devices', body: BulkBody, response: { 201: BulkResult, ...WipeRefusals } } },
    async (request, reply) => reply.code(201).send(await commandBatches.bulk(caller(request), request.body)),
  );

  app.get(
    '/commands',
    { onRequest: read, schema: { tags, summary: 'Progress of a bulk action, by status', querystring: BatchQuery, response: { 200: BatchProgress } } },
    async (request) => commandBatches.progress(caller(request), request.query.batchId),
  );

  app.get('/commands/:id', { onRequest: read, schema: { tags, params: IdParams, response: { 200: CommandView } } }, async (request) => commands.get(caller(request), request.params.id));

  app.post(
    '/commands/:id/cancel',
    { onRequest: command, schema: { tags, summary: 'Cancel a command the device has not acknowledged yet', params: IdParams, response: { 200: CommandView } } },
    async (request) => commands.cancel(caller(request), request.params.id),
  );

  app.get(
    '/devices/:id/location',
    { onRequest: app.authorize('devices.location.read'), schema: { tags, summary: 'Latest location fix of a device (audited)', params: IdParams, response: { 200: LocationView } } },
    async (request) => commands.readLocation(caller(request), request.params.id),
  );
};
