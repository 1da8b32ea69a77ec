import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../access/auth.plugin';
import { WIPE } from '../access/route-access';
import type { Caller } from './command-intent';
import { BatchProgress, BatchQuery, BulkBody, BulkResult, CommandView, HistoryPage, HistoryQuery, IdParams, IssueBody, IssueConflict, LocationView, WipeRefusals } from './commands.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['commands'];

/** Commands to devices (lock, wipe, locate, lost mode...), one at a time or in bulk, and their history. */
export const commandsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { commands, commandBatches } = app.services;
  const read = { access: { permission: 'devices.read' as const } };
  // A wipe is reached through the devices.wipe grants: the scope becomes theirs, so a wipe
  // can never land on a device the caller may command but not wipe.
  const command = (action: string, target: string) => ({ access: { permission: 'devices.command' as const, byKind: WIPE, audit: { action, target } } });

  app.post(
    '/devices/:id/commands',
    { config: command('command.create', 'device'), schema: { tags, summary: 'Send a command to a device', params: IdParams, body: IssueBody, response: { 201: CommandView, ...WipeRefusals, ...IssueConflict } } },
    async (request, reply) => reply.code(201).send(await commands.issue(caller(request), request.params.id, request.body)),
  );

  app.get(
    '/devices/:id/commands',
    { config: read, schema: { tags, summary: "A device's command history, newest first", params: IdParams, querystring: HistoryQuery, response: { 200: HistoryPage } } },
    async (request) => commands.history(caller(request), request.params.id, request.query.limit ?? 50, request.query.cursor),
  );

  app.post(
    '/commands/bulk',
    { config: command('command.bulk', 'command_batch'), schema: { tags, summary: 'Send the same command to a school, a group or a list of devices', body: BulkBody, response: { 201: BulkResult, ...WipeRefusals } } },
    async (request, reply) => reply.code(201).send(await commandBatches.bulk(caller(request), request.body)),
  );

  app.get(
    '/commands',
    { config: read, schema: { tags, summary: 'Progress of a bulk action, by status', querystring: BatchQuery, response: { 200: BatchProgress } } },
    async (request) => commandBatches.progress(caller(request), request.query.batchId),
  );

  app.get('/commands/:id', { config: read, schema: { tags, params: IdParams, response: { 200: CommandView } } }, async (request) => commands.get(caller(request), request.params.id));

  app.post(
    '/commands/:id/cancel',
    { config: command('command.cancel', 'command'), schema: { tags, summary: 'Cancel a command the device has not acknowledged yet', params: IdParams, response: { 200: CommandView } } },
    async (request) => commands.cancel(caller(request), request.params.id),
  );

  app.get(
    '/devices/:id/location',
    { config: { access: { permission: 'devices.location.read' } }, schema: { tags, summary: 'Latest location fix of a device (audited)', params: IdParams, response: { 200: LocationView } } },
    async (request) => commands.readLocation(caller(request), request.params.id),
  );
};
