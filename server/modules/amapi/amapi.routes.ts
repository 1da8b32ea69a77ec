import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import { TokenParams } from '../enrollment/enrollment.schemas';
import { AmapiTokenView, BindingView, CallbackQuery, SignupView, NotificationsBody, StartBindingBody, UnbindBody } from './amapi.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['android-management'];

/** The organisation's Android Management enterprise: binding, notifications, quota; AMAPI enrollment tokens. */
export const amapiRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { amapi } = app.services;
  const manage = (action: string) => ({ access: { permission: 'organisation.manage' as const, audit: { action, target: 'organisation' } } });

  app.get('/amapi/binding', { config: { access: { permission: 'organisation.manage' as const } }, schema: { tags, summary: 'The Android Management enterprise binding: state, last error, device quota', response: { 200: BindingView } } }, (request) =>
    amapi.binding.view(caller(request)),
  );
  app.post(
    '/amapi/binding',
    { config: manage('amapi.binding.start'), schema: { tags, summary: 'Start binding: stores the service account key (encrypted) and returns Google’s signup URL', body: StartBindingBody, response: { 200: SignupView } } },
    (request) => amapi.binding.start(caller(request), request.body, '/api/v1/amapi/binding/callback'),
  );
  app.get(
    '/amapi/binding/callback',
    { config: manage('amapi.binding.complete'), schema: { tags, summary: 'Where Google sends the administrator back after signup: creates the enterprise', querystring: CallbackQuery, response: { 200: BindingView } } },
    (request) => amapi.binding.complete(caller(request), request.query.enterpriseToken),
  );
  app.put(
    '/amapi/binding/notifications',
    { config: manage('amapi.notifications.configure'), schema: { tags, summary: 'Pub/Sub notifications: pull from a subscription, or push to this server', body: NotificationsBody, response: { 200: BindingView } } },
    (request) => amapi.binding.configureNotifications(caller(request), request.body),
  );
  app.post('/amapi/binding/unbind', { config: manage('amapi.binding.unbind'), schema: { tags, summary: 'End the binding (the enterprise stays at Google)', body: UnbindBody, response: { 200: BindingView } } }, (request) =>
    amapi.binding.unbind(caller(request), request.body.confirm),
  );

  const enroll = { access: { permission: 'enrollment.manage' as const, audit: { action: 'enrollment_token.amapi', target: 'enrollment_token' } } };
  app.post('/enrollment-tokens/:id/amapi', { config: enroll, schema: { tags: ['enrollment'], summary: 'The Google enrollment token (and its QR code) of an enrollment token', params: TokenParams, response: { 201: AmapiTokenView } } }, async (request, reply) =>
    reply.code(201).send(await amapi.devices.createEnrollmentToken(caller(request), request.params.id)),
  );
  app.get('/enrollment-tokens/:id/amapi', { config: { access: { permission: 'enrollment.manage' as const } }, schema: { tags: ['enrollment'], params: TokenParams, response: { 200: AmapiTokenView } } }, (request) =>
    amapi.devices.enrollmentToken(caller(request), request.params.id),
  );
};
