import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { problemOf } from '../../infra/http/error-handler';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import type { ProfilePlatform } from '../../modules/profiles/profile.schemas';
import { FormBody } from '../form-schema';
import { bodyRefusal, handleForm, refusedForm, type FormState } from '../forms';
import { renderPage, setNotice, tFor } from '../page';

const Uuid = Type.String({ format: 'uuid' });
const ProfileParams = Type.Object({ id: Uuid });
const AssignmentParams = Type.Object({ id: Uuid, assignmentId: Uuid });
const PLATFORMS = ['android', 'ios', 'windows'] as const;
const PreviewQuery = Type.Object({ platform: Type.Optional(Type.Union(PLATFORMS.map((p) => Type.Literal(p)))) });
/** A scope reads `organisation`, `commune:<id>`, `school:<id>` or `group:<id>`. */
/** A profile as JSON text, as an administrator writes it (the REST API's body). */
const ProfileForm = FormBody({ body: Type.String({ maxLength: 60_000 }) });
const AssignForm = FormBody({ scope: Type.String({ pattern: '^(organisation|(commune|school|group):[0-9a-f-]{36})$' }) });

/** The profile catalog: what each profile holds, how each platform reads it, where it is assigned. */
export const profilesRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { profiles, desiredState, organisation, auth } = app.services;
  const read = { access: { permission: 'profiles.read' as const } };
  const write = (action: string) => ({ access: { permission: 'profiles.write' as const, audit: { action, target: 'profile' } } });
  const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
  const canWrite = async (request: FastifyRequest) => (await auth.scopeFor(request.principal, 'profiles.write')) !== null;

  app.get('/profiles', { config: read }, async (request, reply) => {
    const caller = callerOf(request);
    const list = await profiles.list(caller);
    // One count per profile: a catalog holds tens of profiles, not thousands.
    const compliance = await Promise.all(list.map((p) => desiredState.compliance(caller, p.id)));
    return renderPage(request, reply, 'profiles', { title: tFor(request)('profiles.title') }, { profiles: list.map((p, i) => ({ ...p, compliance: compliance[i]! })), writable: await canWrite(request) });
  });

  async function profilePage(request: FastifyRequest, reply: FastifyReply, id: string, platform: ProfilePlatform, form?: FormState) {
    const caller = callerOf(request);
    const profile = await profiles.get(caller, id);
    const [preview, compliance, writable, communes, schools, groups] = await Promise.all([
      profiles.preview(caller, id, platform),
      desiredState.compliance(caller, id),
      canWrite(request),
      organisation.listCommunes(request.scope),
      organisation.listSchools(request.scope, {}),
      organisation.listGroups(request.scope, {}),
    ]);
    const names = new Map<string, string>([...communes, ...schools, ...groups].map((p) => [p.id, p.name] as const));
    const output = preview.output as Record<string, unknown>;
    // The native form as an administrator would read it: the XML or SyncML itself, the agent's policy as JSON.
    const native = typeof output.xml === 'string' ? output.xml : JSON.stringify(output.format === 'agent_policy' ? output.policy : output, null, 2);
    return renderPage(
      request,
      reply,
      'profile',
      { title: tFor(request)('profiles.profileTitle', { name: profile.name }), form },
      { profile, bodyJson: JSON.stringify(profile.body, null, 2), preview: { ...preview, native }, platforms: PLATFORMS, compliance, writable, names, communes, schools, groups },
    );
  }

  app.get('/profiles/:id', { config: read, schema: { params: ProfileParams, querystring: PreviewQuery } }, async (request, reply) =>
    profilePage(request, reply, request.params.id, request.query.platform ?? 'android'),
  );

  async function editorPage(request: FastifyRequest, reply: FastifyReply, profileId: string | null, form?: FormState) {
    const t = tFor(request);
    const profile = profileId ? await profiles.get(callerOf(request), profileId) : null;
    const initial = profile ? JSON.stringify(profile.body, null, 2) : JSON.stringify({ schemaVersion: 1, id: '', name: '' }, null, 2);
    return renderPage(request, reply, 'profile-edit', { title: profile ? t('profiles.editTitle', { name: profile.name }) : t('profiles.newTitle'), form }, { profile, initial });
  }

  /**
   * The JSON typed in the form, stored through the service; a refusal lists each problem with its
   * JSON Pointer, and the text stays as it was typed.
   */
  async function saveProfile(request: FastifyRequest, reply: FastifyReply, profileId: string | null) {
    const t = tFor(request);
    const text = (request.body as { body?: string } | undefined)?.body ?? '';
    const refuse = (errors: FormState['errors']) => editorPage(request, reply, profileId, { values: { body: text }, errors });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return refuse([{ field: 'body', message: t('profiles.jsonInvalid', { reason: (error as Error).message }) }]);
    }
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) return refuse([{ field: 'body', message: t('profiles.jsonNotObject') }]);
    try {
      const body = parsed as Record<string, unknown>;
      const saved = profileId ? await profiles.update(callerOf(request), profileId, body) : await profiles.create(callerOf(request), body);
      setNotice(reply, 'profileSaved');
      return reply.redirect(`/console/profiles/${saved.profile.id}`, 303);
    } catch (error) {
      const problems = (error as { code?: string; details?: { problems?: Array<{ path: string; message: string }> } }).details?.problems;
      if ((error as { code?: string }).code === 'invalid_profile' && problems?.length) {
        return refuse([
          { field: 'body', message: t('profiles.problemsCount', { n: problems.length }) },
          ...problems.map((p) => ({ message: t('profiles.problem', { path: p.path || '/', message: p.message }) })),
        ]);
      }
      // A missing profile or a failure is an error page; any other refusal is said on the form.
      const { status } = problemOf(error as FastifyError);
      if (status >= 500 || status === 404) throw error;
      return editorPage(request, reply, profileId, refusedForm(request.body, error as Error, { body: 'profiles.bodyField' }, t, { profile_exists: 'body', profile_assigned_beyond_reach: 'body' }));
    }
  }

  const writeAccess = { access: { permission: 'profiles.write' as const } };
  app.get('/profiles/new', { config: writeAccess }, async (request, reply) => editorPage(request, reply, null));
  app.post('/profiles', { config: write('profile.create'), attachValidation: true, schema: { body: ProfileForm } }, async (request, reply) => {
    const refusal = bodyRefusal(request);
    return refusal ? editorPage(request, reply, null, refusedForm(request.body, refusal, { body: 'profiles.bodyField' }, tFor(request))) : saveProfile(request, reply, null);
  });
  app.get('/profiles/:id/edit', { config: writeAccess, schema: { params: ProfileParams } }, async (request, reply) => editorPage(request, reply, request.params.id));
  app.post('/profiles/:id', { config: write('profile.update'), attachValidation: true, schema: { params: ProfileParams, body: ProfileForm } }, async (request, reply) => {
    const refusal = bodyRefusal(request);
    return refusal ? editorPage(request, reply, request.params.id, refusedForm(request.body, refusal, { body: 'profiles.bodyField' }, tFor(request))) : saveProfile(request, reply, request.params.id);
  });

  app.post('/profiles/:id/assignments', { config: write('profile.assign'), attachValidation: true, schema: { params: ProfileParams, body: AssignForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { scope: 'profiles.assignTo' },
      fieldOfCode: { invalid_scope: 'scope', not_found: 'scope', scope_beyond_reach: 'scope' },
      render: (form) => profilePage(request, reply, request.params.id, 'android', form),
      async submit() {
        const [type, scopeId] = request.body.scope.split(':') as ['organisation' | 'commune' | 'school' | 'group', string | undefined];
        await profiles.assign(callerOf(request), request.params.id, { scopeType: type, ...(scopeId ? { scopeId } : {}) });
        setNotice(reply, 'profileAssigned');
        return `/console/profiles/${request.params.id}`;
      },
    }),
  );

  app.post('/profiles/:id/assignments/:assignmentId/remove', { config: write('profile.unassign'), schema: { params: AssignmentParams, body: FormBody({}) } }, async (request, reply) => {
    await profiles.unassign(callerOf(request), request.params.id, request.params.assignmentId);
    setNotice(reply, 'profileUnassigned');
    return reply.redirect(`/console/profiles/${request.params.id}`, 303);
  });
};
