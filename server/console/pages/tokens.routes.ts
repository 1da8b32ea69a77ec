import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { endOfDay } from '../dates';
import { Checkbox, FormBody } from '../form-schema';
import { handleForm, submitted, type FormState } from '../forms';
import { DEFAULT_TIME_ZONE } from '../i18n';
import { permissionsOf } from '../navigation';
import { renderPage, setNotice, tFor } from '../page';

const DEFAULT_DAYS = 90;
const TokenParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
const NewTokenForm = FormBody({
  name: Type.String({ minLength: 1, maxLength: 100 }),
  /** The index of one of the caller's own grants: a token never carries more than its creator holds. */
  grant: Type.Integer({ minimum: 0, maximum: 1000 }),
  expiresOn: Type.String({ format: 'date' }),
});
const LABELS = { name: 'tokens.name', grant: 'tokens.grant', expiresOn: 'tokens.expiresOn' } as const;

/** API tokens for scripts: each person makes their own; the secret is shown once, then only its prefix. */
export const tokensRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { apiTokens, organisation, auth } = app.services;
  const everyoneAllowed = (request: FastifyRequest) => permissionsOf(request.principal).has('users.manage');

  async function listPage(request: FastifyRequest, reply: FastifyReply, everyone: boolean, form?: FormState) {
    const t = tFor(request);
    const [tokens, scope] = await Promise.all([apiTokens.list(request.principal, everyone && everyoneAllowed(request)), auth.scopeFor(request.principal, 'organisation.read')]);
    const [communes, schools] = scope ? await Promise.all([organisation.listCommunes(scope), organisation.listSchools(scope, {})]) : [[], []];
    const scopeNames = new Map<string, string>([...communes.map((c) => [c.id, c.name] as const), ...schools.map((s) => [s.id, s.name] as const)]);
    const defaultExpiry = new Date(Date.now() + DEFAULT_DAYS * 86400_000);
    return renderPage(request, reply, 'tokens', { title: t('tokens.title'), form }, { tokens, grants: request.principal.grants, scopeNames, everyone, canSeeEveryone: everyoneAllowed(request), defaultExpiry, canCreate: request.principal.kind === 'user' });
  }

  app.get('/tokens', { config: { access: { signedIn: true } }, schema: { querystring: Type.Object({ all: Checkbox }) } }, async (request, reply) => listPage(request, reply, request.query.all === 'on'));

  app.post('/tokens', { config: { access: { signedIn: true, person: true, audit: { action: 'api_token.create', target: 'api_token' } } }, attachValidation: true, schema: { body: NewTokenForm } }, async (request, reply) => {
    const t = tFor(request);
    const grant = request.validationError ? undefined : request.principal.grants[request.body.grant];
    if (!request.validationError && !grant) return listPage(request, reply, false, { values: submitted(request.body), errors: [{ field: 'grant', message: t('form.required', { field: t('tokens.grant') }) }] });
    return handleForm(request, reply, t, {
      labels: LABELS,
      fieldOfCode: { grant_not_held: 'grant', invalid_expiry: 'expiresOn' },
      render: (form) => listPage(request, reply, false, form),
      async submit() {
        const input = { name: request.body.name, role: grant!.role, scopeType: grant!.scopeType, scopeId: grant!.scopeId, expiresAt: endOfDay(request.body.expiresOn, DEFAULT_TIME_ZONE) };
        const created = await apiTokens.issueForCaller(request.principal, input, actorOf(request));
        // Shown here once and never stored: like every answer that does not say otherwise, it is not cached.
        return { page: await renderPage(request, reply, 'token-created', { title: t('tokens.createdTitle') }, { token: created.token, view: created.view }) };
      },
    });
  });

  app.post('/tokens/:id/revoke', { config: { access: { signedIn: true, audit: { action: 'api_token.revoke', target: 'api_token' } } }, schema: { params: TokenParams, body: FormBody({}) } }, async (request, reply) => {
    await apiTokens.revoke(request.principal, request.params.id, everyoneAllowed(request), actorOf(request));
    setNotice(reply, 'tokenRevoked');
    return reply.redirect('/console/tokens', 303);
  });
};
