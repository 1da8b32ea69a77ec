import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { IdParams, NewRoleBody, NewUserBody, RoleAssignmentView, RoleParams, UserList, UserListQuery, UserPatchBody, UserView } from './access.schemas';
import { actorOf } from './auth.plugin';

const tags = ['users'];

/** People and their role assignments; administrators only. */
export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const users = app.services.users;
  // Accounts and grants are managed by a signed-in person: a token that could create an account or
  // grant a role would let whoever holds it stay after it is revoked.
  const read = { config: { access: { permission: 'users.manage' as const } } };
  const change = (action: string) => ({ config: { access: { permission: 'users.manage' as const, person: true as const, audit: { action, target: 'user' } } } });
  const org = (req: { scope: { organisationId: string } }) => req.scope.organisationId;

  app.get('/users', { ...read, schema: { tags, summary: 'List users, by email', querystring: UserListQuery, response: { 200: UserList } } }, (req) =>
    users.listUsers(org(req), req.query),
  );
  app.get('/users/:id', { ...read, schema: { tags, params: IdParams, response: { 200: UserView } } }, (req) => users.getUser(org(req), req.params.id));
  app.post('/users', { ...change('user.create'), schema: { tags, summary: 'Create a local account', body: NewUserBody, response: { 201: UserView } } }, async (req, reply) =>
    reply.code(201).send(await users.createUser({ organisationId: org(req), ...req.body }, actorOf(req))),
  );
  app.patch(
    '/users/:id',
    { ...change('user.update'), schema: { tags, summary: 'Rename, disable or set a password (which also lifts a lockout)', params: IdParams, body: UserPatchBody, response: { 200: UserView } } },
    (req) => users.updateUser(org(req), req.params.id, req.body, actorOf(req)),
  );
  app.delete('/users/:id', { ...change('user.delete'), schema: { tags, params: IdParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await users.deleteUser(org(req), req.params.id, actorOf(req));
    return reply.code(204).send(null);
  });
  app.post(
    '/users/:id/roles',
    { ...change('role.assign'), schema: { tags, summary: 'Grant a role over a scope', params: IdParams, body: NewRoleBody, response: { 201: RoleAssignmentView } } },
    async (req, reply) =>
      reply.code(201).send(await users.assignRole({ organisationId: org(req), userId: req.params.id, role: req.body.role, scopeType: req.body.scopeType, scopeId: req.body.scopeId ?? null }, actorOf(req))),
  );
  app.delete('/users/:id/roles/:assignmentId', { ...change('role.remove'), schema: { tags, params: RoleParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await users.removeRole(org(req), req.params.id, req.params.assignmentId, actorOf(req));
    return reply.code(204).send(null);
  });
};
