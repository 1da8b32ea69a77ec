import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { capLevel } from '../../modules/amapi/amapi-binding.service';
import { CallbackQuery, NotificationsBody, StartBindingBody } from '../../modules/amapi/amapi.schemas';
import type { Caller } from '../../modules/commands/command-intent';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderError, renderPage, setNotice, tFor } from '../page';

const PAGE = '/console/settings/android-management';
const CALLBACK = `${PAGE}/callback`;

const StartForm = FormBody({
  serviceAccountKey: StartBindingBody.properties.serviceAccountKey,
  projectId: StartBindingBody.properties.projectId,
  adminEmail: StartBindingBody.properties.adminEmail,
  deviceCap: StartBindingBody.properties.deviceCap,
});
const NotificationsForm = FormBody(NotificationsBody.properties);
const UnbindForm = FormBody({ confirm: Type.String({ minLength: 1, maxLength: 300 }) });

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
/** Google refused a step: the service kept the error on the binding, and the page shows it. */
const googleRefused = (error: unknown) => (error as { code?: string }).code === 'amapi_google_error';

/**
 * The organisation's Android Management enterprise, for the DSI: Google's signup, the return
 * from it, notifications, the device quota and the unbinding. Every step goes through the
 * binding service, which seals the key and audits each change.
 */
export const androidManagementRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { binding } = app.services.amapi;
  const manage = (action: string) => ({ access: { permission: 'organisation.manage' as const, person: true as const, audit: { action, target: 'organisation' } } });

  /** `signupUrl`: Google's signup page, to open next (a link: the page's CSP keeps forms to Cartable itself). */
  async function page(request: FastifyRequest, reply: FastifyReply, forms: { start?: FormState; notifications?: FormState; unbind?: FormState } = {}, signupUrl: string | null = null) {
    if (!request.scope.all) return renderError(request, reply, 403, 'missing_permission');
    const current = await binding.view(caller(request));
    const form = forms.start ?? forms.notifications ?? forms.unbind;
    return renderPage(request, reply, 'android-management', { title: tFor(request)('amapi.title'), form }, { current, forms, signupUrl, level: capLevel(current.deviceCount, current.deviceCap) });
  }

  app.get('/settings/android-management', { config: { access: { permission: 'organisation.manage' as const } } }, async (request, reply) => page(request, reply));

  // Google's signup page comes next: the DSI opens it, and Google sends the browser back to the callback below.
  app.post('/settings/android-management/binding', { config: manage('amapi.binding.start'), attachValidation: true, schema: { body: StartForm } }, async (request, reply) =>
    !request.scope.all
      ? renderError(request, reply, 403, 'missing_permission')
      : handleForm(request, reply, tFor(request), {
          labels: { serviceAccountKey: 'amapi.serviceAccountKey', projectId: 'amapi.projectId', adminEmail: 'amapi.adminEmail', deviceCap: 'amapi.deviceCap' },
          fieldOfCode: { amapi_key_invalid: 'serviceAccountKey', amapi_project_missing: 'projectId' },
          render: (form) => page(request, reply, { start: form }),
          async submit() {
            const { _csrf: _token, ...body } = request.body;
            try {
              const { signupUrl } = await binding.start(caller(request), body, CALLBACK);
              return { page: await page(request, reply, {}, signupUrl) };
            } catch (error) {
              if (googleRefused(error)) return PAGE;
              throw error;
            }
          },
        }),
  );

  app.get('/settings/android-management/callback', { config: manage('amapi.binding.complete'), schema: { querystring: CallbackQuery } }, async (request, reply) => {
    if (!request.scope.all) return renderError(request, reply, 403, 'missing_permission');
    try {
      await binding.complete(caller(request), request.query.enterpriseToken);
      setNotice(reply, 'amapiBound');
    } catch (error) {
      if (!googleRefused(error)) throw error;
    }
    return reply.redirect(PAGE, 303);
  });

  app.post('/settings/android-management/notifications', { config: manage('amapi.notifications.configure'), attachValidation: true, schema: { body: NotificationsForm } }, async (request, reply) =>
    !request.scope.all
      ? renderError(request, reply, 403, 'missing_permission')
      : handleForm(request, reply, tFor(request), {
          labels: { mode: 'amapi.mode', topic: 'amapi.topic', subscription: 'amapi.subscription', pushAudience: 'amapi.pushAudience', pushServiceAccount: 'amapi.pushServiceAccount' },
          fieldOfCode: { amapi_subscription_missing: 'subscription', amapi_push_incomplete: 'pushAudience' },
          render: (form) => page(request, reply, { notifications: form }),
          async submit() {
            const { _csrf: _token, ...body } = request.body;
            try {
              await binding.configureNotifications(caller(request), body);
              setNotice(reply, 'amapiNotificationsSaved');
            } catch (error) {
              if (!googleRefused(error)) throw error;
            }
            return PAGE;
          },
        }),
  );

  app.post('/settings/android-management/unbind', { config: manage('amapi.binding.unbind'), attachValidation: true, schema: { body: UnbindForm } }, async (request, reply) =>
    !request.scope.all
      ? renderError(request, reply, 403, 'missing_permission')
      : handleForm(request, reply, tFor(request), {
          labels: { confirm: 'amapi.confirm' },
          fieldOfCode: { confirmation_mismatch: 'confirm' },
          messageOfCode: { confirmation_mismatch: 'amapi.confirmMismatch' },
          render: (form) => page(request, reply, { unbind: form }),
          async submit() {
            await binding.unbind(caller(request), request.body.confirm);
            setNotice(reply, 'amapiUnbound');
            return PAGE;
          },
        }),
  );
};
