import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderPage, setNotice, tFor } from '../page';

const Uuid = Type.String({ format: 'uuid' });
const AppParams = Type.Object({ id: Uuid });
const AssignmentParams = Type.Object({ id: Uuid, assignmentId: Uuid });
/** A scope reads `organisation`, `commune:<id>`, `school:<id>` or `group:<id>`; the version is a catalog version of the app. */
const AssignForm = FormBody({ scope: Type.String({ pattern: '^(organisation|(commune|school|group):[0-9a-f-]{36})$' }), versionId: Type.String({ format: 'uuid' }) });

/**
 * The app catalog. Packages go up through the REST upload (POST /api/v1/apps/packages), which
 * streams the raw file to disk: the page's script sends the chosen file there with the session's
 * CSRF token, so the console holds no second upload path. An app's page says where it is
 * assigned, at which version, and how many tablets hold it.
 */
export const appsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { apps, appAssignments, organisation, auth } = app.services;
  const read = { access: { permission: 'apps.read' as const } };
  const write = (action: string) => ({ access: { permission: 'apps.write' as const, audit: { action, target: 'app' } } });
  const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
  const canWrite = async (request: FastifyRequest) => (await auth.scopeFor(request.principal, 'apps.write')) !== null;

  app.get('/apps', { config: read }, async (request, reply) => {
    const caller = callerOf(request);
    // Every version of every app on one page: a school catalog holds tens of apps.
    const list = await Promise.all((await apps.list(caller)).map((a) => apps.get(caller, a.id)));
    return renderPage(request, reply, 'apps', { title: tFor(request)('apps.title') }, { apps: list, canUpload: await canWrite(request) });
  });

  async function appPage(request: FastifyRequest, reply: FastifyReply, id: string, form?: FormState) {
    const caller = callerOf(request);
    const [detail, assignments, compliance, writable, communes, schools, groups] = await Promise.all([
      apps.get(caller, id),
      appAssignments.list(caller, id),
      appAssignments.compliance(caller, id),
      canWrite(request),
      organisation.listCommunes(request.scope),
      organisation.listSchools(request.scope, {}),
      organisation.listGroups(request.scope, {}),
    ]);
    const names = new Map<string, string>([...communes, ...schools, ...groups].map((p) => [p.id, p.name] as const));
    return renderPage(request, reply, 'app', { title: detail.name, form }, { app: detail, assignments, compliance, writable, names, communes, schools, groups });
  }

  app.get('/apps/:id', { config: read, schema: { params: AppParams } }, async (request, reply) => appPage(request, reply, request.params.id));

  app.post('/apps/:id/assignments', { config: write('app.assign'), attachValidation: true, schema: { params: AppParams, body: AssignForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { scope: 'profiles.assignTo', versionId: 'apps.assignVersion' },
      fieldOfCode: { invalid_scope: 'scope', not_found: 'scope', scope_beyond_reach: 'scope', app_not_installable: 'versionId' },
      render: (form) => appPage(request, reply, request.params.id, form),
      async submit() {
        const [type, scopeId] = request.body.scope.split(':') as ['organisation' | 'commune' | 'school' | 'group', string | undefined];
        await appAssignments.assign(callerOf(request), request.params.id, { appVersionId: request.body.versionId, scopeType: type, ...(scopeId ? { scopeId } : {}) });
        setNotice(reply, 'appAssigned');
        return `/console/apps/${request.params.id}`;
      },
    }),
  );

  app.post('/apps/:id/assignments/:assignmentId/remove', { config: write('app.unassign'), schema: { params: AssignmentParams, body: FormBody({}) } }, async (request, reply) => {
    await appAssignments.unassign(callerOf(request), request.params.id, request.params.assignmentId);
    setNotice(reply, 'appUnassigned');
    return reply.redirect(`/console/apps/${request.params.id}`, 303);
  });
};
