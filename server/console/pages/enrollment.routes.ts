import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { QR_EXTRAS, type ProvisioningQr } from '../../../agent-protocol/src';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import { renderQr } from '../../infra/qr';
import { endOfDay } from '../dates';
import { FormBody } from '../form-schema';
import { errorMessage, handleForm, type FormState } from '../forms';
import { permissionsOf } from '../navigation';
import { renderPage, setNotice, tFor } from '../page';

const Uuid = Type.String({ format: 'uuid' });
const TokenParams = Type.Object({ id: Uuid });
const DEFAULT_DAYS = 7;
/** The sheet of the tablets Google manages rather than the sheet of Cartable's agent. */
const SheetQuery = Type.Object({ channel: Type.Optional(Type.Literal('google')) });

const svgQr = async (text: string) => `data:image/svg+xml;base64,${Buffer.from(await renderQr(text, 'svg')).toString('base64')}`;
const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });

const CreateForm = FormBody({
  schoolId: Uuid,
  groupId: Type.Optional(Uuid),
  label: Type.String({ minLength: 1, maxLength: 200 }),
  expiresOn: Type.String({ format: 'date' }),
  maxUses: Type.Optional(Type.Integer({ minimum: 1, maximum: 100_000 })),
});

/** Enrollment tokens: create, show the QR code to scan, print the sheet for a tablet cart, revoke. */
export const enrollmentRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { enrollment, organisation, amapi } = app.services;
  const manage = { access: { permission: 'enrollment.manage' as const } };
  const audited = (action: string) => ({ access: { ...manage.access, audit: { action, target: 'enrollment_token' } } });

  async function listPage(request: FastifyRequest, reply: FastifyReply, form?: FormState) {
    const t = tFor(request);
    const [tokens, schools, groups] = await Promise.all([enrollment.listTokens(request.scope, { limit: 200, offset: 0 }), organisation.listSchools(request.scope, {}), organisation.listGroups(request.scope, {})]);
    const schoolNames = new Map(schools.map((s) => [s.id, s.name]));
    const defaultExpiry = new Date(Date.now() + DEFAULT_DAYS * 86400_000);
    return renderPage(request, reply, 'enrollment', { title: t('enrollment.title'), form }, { tokens: [...tokens].reverse(), schools, groups, schoolNames, defaultExpiry });
  }

  app.get('/enrollment', { config: manage }, async (request, reply) => listPage(request, reply));

  app.post('/enrollment', { config: audited('enrollment_token.create'), attachValidation: true, schema: { body: CreateForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { schoolId: 'enrollment.school', groupId: 'enrollment.group', label: 'enrollment.label', expiresOn: 'enrollment.expiresOn', maxUses: 'enrollment.maxUses' },
      fieldOfCode: { invalid_expiry: 'expiresOn', not_found: 'schoolId' },
      render: (form) => listPage(request, reply, form),
      async submit() {
        const { schoolId, groupId, label, expiresOn, maxUses } = request.body;
        const school = await organisation.getSchool(request.scope, schoolId);
        const created = await enrollment.createToken(request.scope, actorOf(request), { schoolId, groupId: groupId ?? null, label, maxUses: maxUses ?? null, expiresAt: endOfDay(expiresOn, school.timezone).toISOString() });
        return `/console/enrollment/${created.view.id}`;
      },
    }),
  );

  /** The token, its school and its group, in the caller's scope. */
  async function tokenContext(request: FastifyRequest, id: string) {
    const token = await enrollment.getToken(request.scope, id);
    const [school, groups] = await Promise.all([organisation.getSchool(request.scope, token.schoolId), organisation.listGroups(request.scope, { schoolId: token.schoolId })]);
    return { token, school, group: groups.find((g) => g.id === token.groupId) ?? null };
  }

  /**
   * The token with its QR code and, as the code's text alternative, the enrollment code itself;
   * reading them reveals the token, so the service audits it.
   */
  async function tokenWithQr(request: FastifyRequest, id: string, withIpad = true) {
    const context = await tokenContext(request, id);
    const { token } = context;
    let qr: string | null = null;
    let code: string | null = null;
    let qrProblem: string | null = null;
    if (token.state === 'active') {
      try {
        const payload = (await enrollment.provisioningPayload(request.scope, actorOf(request), id, 'svg')) as ProvisioningQr;
        qr = await svgQr(JSON.stringify(payload));
        code = payload['android.app.extra.PROVISIONING_ADMIN_EXTRAS_BUNDLE'][QR_EXTRAS.ENROLLMENT_TOKEN];
      } catch (error) {
        const problem = (error as { code?: string }).code;
        if (problem !== 'agent_package_missing' && problem !== 'token_not_active') throw error;
        qrProblem = problem;
      }
    }
    // The iPad link enrolls like the token itself: its read is audited by the service too.
    let ipad: { url: string; qr: string } | null = null;
    if (withIpad && token.state === 'active') {
      const url = await enrollment.appleEnrollmentLink(request.scope, actorOf(request), id, 'svg');
      ipad = { url, qr: await svgQr(url) };
    }
    return { ...context, qr, code, qrProblem, ipad };
  }

  /**
   * The token's side at Google: null while the organisation is bound to no Google enterprise;
   * otherwise the QR code Google returned for the token, once it was asked for (a POST: making
   * it is a creation at Google, never a side effect of reading a page).
   */
  async function googleEnrollment(request: FastifyRequest, tokenId: string): Promise<{ qr: string | null } | null> {
    if ((await amapi.binding.view(callerOf(request))).state !== 'bound') return null;
    try {
      return { qr: await svgQr((await amapi.devices.enrollmentToken(callerOf(request), tokenId)).qrCode) };
    } catch (error) {
      if ((error as { code?: string }).code !== 'not_found') throw error;
      return { qr: null };
    }
  }

  async function tokenPage(request: FastifyRequest, reply: FastifyReply, id: string, form?: FormState) {
    const t = tFor(request);
    const data = await tokenWithQr(request, id);
    const google = data.token.state === 'active' ? await googleEnrollment(request, id) : undefined;
    const canSetPackage = permissionsOf(request.principal).has('organisation.manage');
    return renderPage(request, reply, 'enrollment-token', { title: t('enrollment.tokenTitle', { label: data.token.label }), form }, { ...data, google, qrMessage: data.qrProblem ? errorMessage(data.qrProblem, t) : null, canSetPackage, timeZone: data.school.timezone });
  }

  app.get('/enrollment/:id', { config: manage, schema: { params: TokenParams } }, async (request, reply) => tokenPage(request, reply, request.params.id));

  app.post('/enrollment/:id/google', { config: audited('enrollment_token.amapi'), attachValidation: true, schema: { params: TokenParams, body: FormBody({}) } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: {},
      render: (form) => tokenPage(request, reply, request.params.id, form),
      async submit() {
        await amapi.devices.createEnrollmentToken(callerOf(request), request.params.id);
        return `/console/enrollment/${request.params.id}#google`;
      },
    }),
  );

  // The sheet goes on a tablet cart in a French school: it is always in French.
  app.get('/enrollment/:id/sheet', { config: manage, schema: { params: TokenParams, querystring: SheetQuery } }, async (request, reply) => {
    request.locale = 'fr';
    const t = tFor(request);
    if (request.query.channel === 'google') {
      const context = await tokenContext(request, request.params.id);
      const google = context.token.state === 'active' ? await googleEnrollment(request, context.token.id) : undefined;
      return renderPage(request, reply, 'enrollment-sheet-google', { title: t('sheet.googleTitle', { school: context.school.name }) }, { ...context, google, timeZone: context.school.timezone });
    }
    const data = await tokenWithQr(request, request.params.id, false);
    return renderPage(request, reply, 'enrollment-sheet', { title: t('sheet.title', { school: data.school.name }) }, { ...data, qrMessage: data.qrProblem ? errorMessage(data.qrProblem, t) : null, timeZone: data.school.timezone });
  });

  app.post('/enrollment/:id/revoke', { config: audited('enrollment_token.revoke'), schema: { params: TokenParams, body: FormBody({}) } }, async (request, reply) => {
    await enrollment.revokeToken(request.scope, actorOf(request), request.params.id);
    setNotice(reply, 'enrollmentRevoked');
    return reply.redirect(`/console/enrollment/${request.params.id}`, 303);
  });
};
