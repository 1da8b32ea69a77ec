import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import { localTime } from '../../modules/campaigns/campaign-calendar';
import type { CreateCampaignBody } from '../../modules/campaigns/campaigns.schemas';
import { Checkbox, FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderFragment, renderPage, setNotice, tFor } from '../page';

const Params = Type.Object({ id: Type.String({ format: 'uuid' }) });
const WaveParams = Type.Object({ id: Type.String({ format: 'uuid' }), position: Type.Integer({ minimum: 1, maximum: 20 }) });

/** Windows a person picks from; the API takes any weekly ranges. */
export const WINDOW_PRESETS = {
  evenings: [
    { days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '17:30', end: '07:30', nextDay: true },
    { days: ['sat', 'sun'], start: '00:00', end: '24:00' },
  ],
  wednesday: [{ days: ['wed'], start: '12:00', end: '24:00' }],
  always: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' }],
} as const;

const CampaignForm = FormBody({
  name: Type.String({ minLength: 1, maxLength: 200 }),
  what: Type.String({ pattern: '^(install_app|remove_app|install_profile|remove_profile):[0-9a-f-]{36}$' }),
  schoolId: Type.Optional(Type.String({ format: 'uuid' })),
  windows: Type.Union(Object.keys(WINDOW_PRESETS).map((k) => Type.Literal(k))),
  perSchoolCap: Type.Integer({ minimum: 1, maximum: 100_000 }),
  startOn: Type.Optional(Type.String({ format: 'date' })),
  pilotFirst: Checkbox,
});

/** Midnight of a local date in Paris, the default zone of the schools. */
function parisMidnight(date: string): Date {
  const utc = new Date(`${date}T00:00:00Z`);
  return new Date(utc.getTime() - localTime(utc, 'Europe/Paris').minutes * 60_000);
}

/**
 * Campaigns in the console: a short form for the usual plan (the API takes every option), the
 * dry run shown before the start, a live progress per wave and school, the controls and the
 * failure list.
 */
export const campaignsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { campaigns, campaignProgress, apps, profiles, organisation, auth } = app.services;
  const read = { access: { permission: 'campaigns.read' as const } };
  const manage = (action: string) => ({ access: { permission: 'campaigns.manage' as const, audit: { action, target: 'campaign' } } });
  const callerOf = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
  const canManage = async (request: FastifyRequest) => (await auth.scopeFor(request.principal, 'campaigns.manage')) !== null;

  async function choices(request: FastifyRequest) {
    const caller = callerOf(request);
    const catalog = (await auth.scopeFor(request.principal, 'apps.read')) !== null ? await apps.list(caller) : [];
    const details = await Promise.all(catalog.map((a) => apps.get(caller, a.id)));
    const what = [
      ...details.filter((a) => a.kind === 'apk').flatMap((a) => a.versions.map((v) => ({ value: `install_app:${v.id}`, label: `install_app|${a.name} ${String(v.metadata.versionName ?? v.version)}` }))),
      ...details.map((a) => ({ value: `remove_app:${a.id}`, label: `remove_app|${a.name}` })),
    ];
    const profileScope = await auth.scopeFor(request.principal, 'profiles.read');
    if (profileScope) for (const p of await profiles.list({ ...caller, scope: profileScope })) what.push({ value: `install_profile:${p.id}`, label: `install_profile|${p.name}` }, { value: `remove_profile:${p.id}`, label: `remove_profile|${p.name}` });
    const schoolScope = await auth.scopeFor(request.principal, 'organisation.read');
    const schools = schoolScope ? await organisation.listSchools(schoolScope, {}) : [];
    return { what, schools };
  }

  async function listPage(request: FastifyRequest, reply: FastifyReply, form?: FormState) {
    const t = tFor(request);
    const [list, manageable] = await Promise.all([campaignProgress.list(callerOf(request)), canManage(request)]);
    return renderPage(request, reply, 'campaigns', { title: t('campaigns.title'), form }, { campaigns: list, canManage: manageable, ...(manageable ? await choices(request) : { what: [], schools: [] }) });
  }

  async function live(request: FastifyRequest, id: string) {
    const caller = callerOf(request);
    const [campaign, progress, failed] = await Promise.all([campaignProgress.get(caller, id), campaignProgress.progress(caller, id), campaignProgress.devices(caller, id, 'failed', 50)]);
    return { campaign, progress, failed };
  }

  app.get('/campaigns', { config: read }, async (request, reply) => listPage(request, reply));

  app.post('/campaigns', { config: manage('campaign.create'), attachValidation: true, schema: { body: CampaignForm } }, async (request, reply) =>
    handleForm(request, reply, tFor(request), {
      labels: { name: 'campaigns.name', what: 'campaigns.what', schoolId: 'campaigns.school', windows: 'campaigns.windows', perSchoolCap: 'campaigns.cap', startOn: 'campaigns.startOn' },
      fieldOfCode: { invalid_campaign: 'what' },
      render: (form) => listPage(request, reply, form),
      async submit() {
        const body = request.body;
        const [action, subjectId] = body.what.split(':') as [CreateCampaignBody['action'], string];
        const subject = action === 'install_app' ? { appVersionId: subjectId } : action === 'remove_app' ? { appId: subjectId } : { profileId: subjectId };
        const created = await campaigns.create(callerOf(request), {
          name: body.name,
          action,
          ...subject,
          target: body.schoolId ? { schoolIds: [body.schoolId] } : {},
          startAt: (body.startOn ? parisMidnight(body.startOn) : new Date()).toISOString(),
          windows: WINDOW_PRESETS[body.windows as keyof typeof WINDOW_PRESETS].map((w) => ({ ...w, days: [...w.days] })),
          perSchoolCap: body.perSchoolCap,
          ...(body.pilotFirst ? {} : { waves: [{ minSuccessPct: 90, maxFailurePct: 5 }] }),
        });
        return `/console/campaigns/${created.id}`;
      },
    }),
  );

  app.get('/campaigns/:id', { config: read, schema: { params: Params } }, async (request, reply) => {
    const state = await live(request, request.params.id);
    const preview = state.campaign.status === 'draft' ? await campaignProgress.preview(callerOf(request), request.params.id) : null;
    return renderPage(request, reply, 'campaign', { title: tFor(request)('campaigns.pageTitle', { name: state.campaign.name }) }, { ...state, preview, canManage: await canManage(request) });
  });

  app.get('/campaigns/:id/live', { config: read, schema: { params: Params } }, async (request, reply) => renderFragment(request, reply, 'campaign-live', await live(request, request.params.id)));

  for (const verb of ['start', 'pause', 'resume', 'cancel'] as const) {
    app.post(`/campaigns/:id/${verb}`, { config: manage(`campaign.${verb}`), schema: { params: Params, body: FormBody({}) } }, async (request, reply) => {
      await campaigns[verb](callerOf(request), request.params.id);
      setNotice(reply, 'campaignUpdated');
      return reply.redirect(`/console/campaigns/${request.params.id}`, 303);
    });
  }

  app.post('/campaigns/:id/waves/:position/approve', { config: manage('campaign.promote'), schema: { params: WaveParams, body: FormBody({}) } }, async (request, reply) => {
    await campaigns.approve(callerOf(request), request.params.id, request.params.position);
    setNotice(reply, 'campaignUpdated');
    return reply.redirect(`/console/campaigns/${request.params.id}`, 303);
  });
};
