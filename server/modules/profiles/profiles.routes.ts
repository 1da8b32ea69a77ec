import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import {
  AssignmentBody,
  AssignmentChange,
  AssignmentParams,
  ComplianceView,
  DeletionResult,
  DesiredStateView,
  IdParams,
  PreviewQuery,
  PreviewView,
  ProfileBody,
  ProfileChange,
  ProfileList,
  ProfileView,
  ValidationResult,
} from './profiles-api.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['profiles'];

/** The profile catalog, its assignments, and the desired state it gives each device. */
export const profilesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { profiles, desiredState } = app.services;
  const read = { access: { permission: 'profiles.read' as const } };
  const write = (action: string, target: string) => ({ access: { permission: 'profiles.write' as const, audit: { action, target } } });

  app.get('/profiles', { config: read, schema: { tags, summary: 'The organisation\u2019s profile catalog', response: { 200: ProfileList } } }, async (request) => profiles.list(caller(request)));

  app.post(
    '/profiles',
    {
      config: write('profile.create', 'profile'),
      schema: { tags, summary: 'Add a profile to the catalog (400 lists each problem with its JSON Pointer)', body: ProfileBody, response: { 201: ProfileChange } },
    },
    async (request, reply) => reply.code(201).send(await profiles.create(caller(request), request.body)),
  );

  app.post(
    '/profiles/validate',
    { config: read, schema: { tags, summary: 'Check a profile without storing it', body: ProfileBody, response: { 200: ValidationResult } } },
    async (request) => profiles.validate(request.body),
  );

  app.get('/profiles/:id', { config: read, schema: { tags, params: IdParams, response: { 200: ProfileView } } }, async (request) => profiles.get(caller(request), request.params.id));

  app.put(
    '/profiles/:id',
    {
      config: write('profile.update', 'profile'),
      schema: { tags, summary: 'Replace a profile with a new version; devices holding it get their new desired state', params: IdParams, body: ProfileBody, response: { 200: ProfileChange } },
    },
    async (request) => profiles.update(caller(request), request.params.id, request.body),
  );

  app.delete(
    '/profiles/:id',
    { config: write('profile.delete', 'profile'), schema: { tags, summary: 'Delete a profile; devices holding it get a desired state without it', params: IdParams, response: { 200: DeletionResult } } },
    async (request) => profiles.remove(caller(request), request.params.id),
  );

  app.get(
    '/profiles/:id/preview',
    { config: read, schema: { tags, summary: 'The profile compiled for one platform, with what that platform cannot express', params: IdParams, querystring: PreviewQuery, response: { 200: PreviewView } } },
    async (request) => profiles.preview(caller(request), request.params.id, request.query.platform),
  );

  app.post(
    '/profiles/:id/assignments',
    {
      config: write('profile.assign', 'profile'),
      schema: { tags, summary: 'Assign the profile to a scope (again: nothing changes)', params: IdParams, body: AssignmentBody, response: { 200: AssignmentChange, 201: AssignmentChange } },
    },
    async (request, reply) => {
      const result = await profiles.assign(caller(request), request.params.id, request.body);
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  app.delete(
    '/profiles/:id/assignments/:assignmentId',
    { config: write('profile.unassign', 'profile'), schema: { tags, summary: 'Remove an assignment', params: AssignmentParams, response: { 200: DeletionResult } } },
    async (request) => profiles.unassign(caller(request), request.params.id, request.params.assignmentId),
  );

  app.get(
    '/profiles/:id/compliance',
    { config: read, schema: { tags, summary: 'Devices within your reach holding the profile: compliant, pending, failed', params: IdParams, response: { 200: ComplianceView } } },
    async (request) => desiredState.compliance(caller(request), request.params.id),
  );

  app.get(
    '/devices/:id/desired-state',
    {
      config: { access: { permission: 'devices.read' } },
      schema: { tags, summary: 'What the device must hold against what it applied, with the reason for each difference', params: IdParams, response: { 200: DesiredStateView } },
    },
    async (request) => desiredState.view(caller(request), request.params.id),
  );
};
