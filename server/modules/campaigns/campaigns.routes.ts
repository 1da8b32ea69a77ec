import { Type } from '@sinclair/typebox';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import { CampaignView, CreateCampaignBody, DeviceRows, DevicesQuery, IdParams, PreviewView, ProgressView, ReviseTargetBody, TemplateBody, WaveParams } from './campaigns.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['campaigns'];

/** Scheduled deployments of an app or a profile: plan, preview, start, steer, watch (docs/campaigns.md). */
export const campaignsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { campaigns, campaignProgress } = app.services;
  const read = { access: { permission: 'campaigns.read' as const } };
  const manage = (action: string) => ({ access: { permission: 'campaigns.manage' as const, audit: { action, target: 'campaign' } } });
  const reload = (request: FastifyRequest, id: string) => campaignProgress.get(caller(request), id);

  app.post(
    '/campaigns',
    { config: manage('campaign.create'), schema: { tags, summary: 'Create a campaign (a draft: preview it, then start it)', body: CreateCampaignBody, response: { 201: CampaignView } } },
    async (request, reply) => {
      const c = await campaigns.create(caller(request), request.body);
      return reply.code(201).send(await reload(request, c.id));
    },
  );

  app.get('/campaigns', { config: read, schema: { tags, summary: 'Campaigns, newest first' } }, async (request) => campaignProgress.list(caller(request)));
  app.get('/campaigns/:id', { config: read, schema: { tags, params: IdParams, response: { 200: CampaignView } } }, async (request) => reload(request, request.params.id));
  app.get(
    '/campaigns/:id/progress',
    { config: read, schema: { tags, summary: 'Counts per wave and school, failure reasons, estimated end', params: IdParams, response: { 200: ProgressView } } },
    async (request) => campaignProgress.progress(caller(request), request.params.id),
  );
  app.get(
    '/campaigns/:id/preview',
    { config: read, schema: { tags, summary: 'Dry run: devices per school, wave and platform, who cannot receive it and why, expected schedule', params: IdParams, response: { 200: PreviewView } } },
    async (request) => campaignProgress.preview(caller(request), request.params.id),
  );
  app.get(
    '/campaigns/:id/devices',
    { config: read, schema: { tags, summary: 'The devices of a campaign, by status (the failure list with status=failed)', params: IdParams, querystring: DevicesQuery, response: { 200: DeviceRows } } },
    async (request) => campaignProgress.devices(caller(request), request.params.id, request.query.status, request.query.limit ?? 100),
  );

  for (const [verb, action] of [
    ['start', 'campaign.start'],
    ['pause', 'campaign.pause'],
    ['resume', 'campaign.resume'],
    ['cancel', 'campaign.cancel'],
  ] as const) {
    app.post(`/campaigns/:id/${verb}`, { config: manage(action), schema: { tags, params: IdParams, response: { 200: CampaignView } } }, async (request) => {
      await campaigns[verb](caller(request), request.params.id);
      return reload(request, request.params.id);
    });
  }

  app.post(
    '/campaigns/:id/waves/:position/approve',
    { config: manage('campaign.promote'), schema: { tags, summary: 'Approve a wave waiting for approval: the next one starts', params: WaveParams, response: { 200: CampaignView } } },
    async (request) => {
      await campaigns.approve(caller(request), request.params.id, request.params.position);
      return reload(request, request.params.id);
    },
  );

  app.put(
    '/campaigns/:id/target',
    { config: manage('campaign.revise'), schema: { tags, summary: 'Change the target: a new revision, audited with its reason', params: IdParams, body: ReviseTargetBody, response: { 200: Type.Object({ revision: Type.Integer(), added: Type.Integer(), dropped: Type.Integer() }) } } },
    async (request) => campaigns.reviseTarget(caller(request), request.params.id, request.body),
  );

  app.get('/campaign-template', { config: read, schema: { tags, summary: 'The organisation’s default plan and its automatic-update apps' } }, async (request) => (await campaigns.getTemplate(caller(request))) ?? {});
  app.put(
    '/campaign-template',
    {
      config: { access: { permission: 'organisation.manage', audit: { action: 'campaign.template.update', target: 'organisation' } } },
      schema: { tags, summary: 'Set the organisation’s default plan, and the apps whose new versions start a campaign from it', body: TemplateBody },
    },
    async (request) => campaigns.setTemplate(caller(request), request.body),
  );
};
