import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderError, renderPage, setNotice, tFor } from '../page';

const UploadForm = FormBody({ certificatePem: Type.String({ minLength: 1, maxLength: 20_000 }) });
/** Warned this long before it expires: a lapsed certificate leaves every iPad unreachable. */
const RENEW_WARNING_DAYS = 30;

/**
 * The iPads' APNs push certificate: its topic and expiry, the request to have signed, and the
 * upload of the signed certificate (a renewal must keep the topic). The service audits each change.
 */
export const applePushRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const certificates = app.services.applePushCertificate;
  const manage = (action: string) => ({ access: { permission: 'organisation.manage' as const, audit: { action, target: 'organisation' } } });

  async function page(request: FastifyRequest, reply: FastifyReply, form?: FormState) {
    if (!request.scope.all) return renderError(request, reply, 403, 'missing_permission');
    const current = await certificates.get(request.scope.organisationId);
    const daysLeft = current.notAfter ? Math.floor((Date.parse(current.notAfter) - Date.now()) / 86_400_000) : null;
    return renderPage(request, reply, 'apple-push', { title: tFor(request)('applePush.title'), form }, { current, daysLeft, renewSoon: daysLeft !== null && daysLeft <= RENEW_WARNING_DAYS });
  }

  app.get('/settings/apple-push', { config: { access: { permission: 'organisation.manage' as const } } }, async (request, reply) => page(request, reply));

  app.post('/settings/apple-push/request', { config: manage('apple.push_certificate.request'), schema: { body: FormBody({}) } }, async (request, reply) => {
    if (!request.scope.all) return renderError(request, reply, 403, 'missing_permission');
    await certificates.createRequest(request.scope.organisationId, actorOf(request));
    return reply.redirect('/console/settings/apple-push#request', 303);
  });

  app.post('/settings/apple-push/certificate', { config: manage('apple.push_certificate.upload'), attachValidation: true, schema: { body: UploadForm } }, async (request, reply) =>
    !request.scope.all
      ? renderError(request, reply, 403, 'missing_permission')
      : handleForm(request, reply, tFor(request), {
          labels: { certificatePem: 'applePush.certificate' },
          fieldOfCode: { certificate_invalid: 'certificatePem', not_a_push_certificate: 'certificatePem', certificate_expired: 'certificatePem', certificate_key_mismatch: 'certificatePem', push_topic_mismatch: 'certificatePem', no_push_certificate_request: 'certificatePem' },
          render: (form) => page(request, reply, form),
          async submit() {
            await certificates.upload(request.scope.organisationId, request.body.certificatePem, actorOf(request));
            setNotice(reply, 'pushCertificateSaved');
            return '/console/settings/apple-push';
          },
        }),
  );
};
