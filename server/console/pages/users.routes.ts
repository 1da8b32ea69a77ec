import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ROLE_NAMES, type ScopeType } from '../../infra/db/schema';
import { actorOf } from '../../modules/access/auth.plugin';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderPage, setNotice, tFor } from '../page';

const Uuid = Type.String({ format: 'uuid' });
const UserParams = Type.Object({ id: Uuid });
const RoleParams = Type.Object({ id: Uuid, assignmentId: Uuid });

const NewUserForm = FormBody({
  email: Type.String({ format: 'email', maxLength: 254 }),
  displayName: Type.String({ minLength: 1, maxLength: 200 }),
  password: Type.Optional(Type.String({ minLength: 12, maxLength: 1024 })),
});
const EditForm = FormBody({ displayName: Type.String({ minLength: 1, maxLength: 200 }), status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]) });
const PasswordForm = FormBody({ password: Type.String({ minLength: 12, maxLength: 1024 }) });
/** A scope reads `organisation`, `commune:<id>` or `school:<id>`. */
const RoleForm = FormBody({ role: Type.Union(ROLE_NAMES.map((r) => Type.Literal(r))), scope: Type.String({ pattern: '^(organisation|(commune|school):[0-9a-f-]{36})$' }) });

function parseScope(value: string): { scopeType: ScopeType; scopeId: string | null } {
  const [type, id] = value.split(':') as [ScopeType, string | undefined];
  return { scopeType: type, scopeId: id ?? null };
}

/** People and their roles, for administrators. */
export const usersRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { users, organisation } = app.services;
  const manage = { access: { permission: 'users.manage' as const } };
  // Accounts and grants are changed by a signed-in person only, and a refusal is audited.
  const change = (action: string) => ({ access: { ...manage.access, person: true as const, audit: { action, target: 'user' } } });
  const org = (request: FastifyRequest) => request.scope.organisationId;

  async function listPage(request: FastifyRequest, reply: FastifyReply, form?: FormState) {
    const list = await users.listUsers(org(request), { limit: 500 });
    return renderPage(request, reply, 'users', { title: tFor(request)('users.title'), form }, { users: list.items, more: list.next !== null });
  }

  async function userPage(request: FastifyRequest, reply: FastifyReply, id: string, forms: { edit?: FormState; password?: FormState; role?: FormState } = {}) {
    const [user, communes, schools] = await Promise.all([users.getUser(org(request), id), organisation.listCommunes(request.scope), organisation.listSchools(request.scope, {})]);
    const scopeNames = new Map<string, string>([...communes.map((c) => [c.id, c.name] as const), ...schools.map((s) => [s.id, s.name] as const)]);
    const form = forms.edit ?? forms.password ?? forms.role;
    return renderPage(request, reply, 'user', { title: tFor(request)('users.userTitle', { name: user.displayName }), form }, { user, communes, schools, scopeNames, forms, roles: ROLE_NAMES });
  }

  app.get('/users', { config: manage }, async (request, reply) => listPage(request, reply));

  app.post('/users', { config: change('user.create'), attachValidation: true, schema: { body: NewUserForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { email: 'users.email', displayName: 'users.displayName', password: 'users.password' },
      fieldOfCode: { email_taken: 'email' },
      render: (form) => listPage(request, reply, form),
      async submit() {
        const user = await users.createUser({ organisationId: org(request), ...request.body }, actorOf(request));
        setNotice(reply, 'userCreated');
        return `/console/users/${user.id}`;
      },
    }),
  );

  app.get('/users/:id', { config: manage, schema: { params: UserParams } }, async (request, reply) => userPage(request, reply, request.params.id));

  app.post('/users/:id', { config: change('user.update'), attachValidation: true, schema: { params: UserParams, body: EditForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { displayName: 'users.displayName', status: 'users.status' },
      render: (form) => userPage(request, reply, request.params.id, { edit: form }),
      async submit() {
        await users.updateUser(org(request), request.params.id, { displayName: request.body.displayName, status: request.body.status }, actorOf(request));
        setNotice(reply, 'userUpdated');
        return `/console/users/${request.params.id}`;
      },
    }),
  );

  app.post('/users/:id/password', { config: change('user.update'), attachValidation: true, schema: { params: UserParams, body: PasswordForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { password: 'users.newPassword' },
      render: (form) => userPage(request, reply, request.params.id, { password: form }),
      async submit() {
        await users.updateUser(org(request), request.params.id, { password: request.body.password }, actorOf(request));
        setNotice(reply, 'userUpdated');
        return `/console/users/${request.params.id}`;
      },
    }),
  );

  app.post('/users/:id/roles', { config: change('role.assign'), attachValidation: true, schema: { params: UserParams, body: RoleForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { role: 'users.role', scope: 'users.scope' },
      fieldOfCode: { invalid_scope: 'scope', unknown_scope: 'scope' },
      render: (form) => userPage(request, reply, request.params.id, { role: form }),
      async submit() {
        await users.assignRole({ organisationId: org(request), userId: request.params.id, role: request.body.role, ...parseScope(request.body.scope) }, actorOf(request));
        setNotice(reply, 'roleAssigned');
        return `/console/users/${request.params.id}`;
      },
    }),
  );

  app.post('/users/:id/roles/:assignmentId/remove', { config: change('role.remove'), schema: { params: RoleParams, body: FormBody({}) } }, async (request, reply) => {
    await users.removeRole(org(request), request.params.id, request.params.assignmentId, actorOf(request));
    setNotice(reply, 'roleRemoved');
    return reply.redirect(`/console/users/${request.params.id}`, 303);
  });
};
