import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';

const Nullable = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Union([t, Type.Null()]);
const PushCertificateView = Type.Object({
  topic: Nullable(Type.String({ description: 'The APNs topic (the certificate subject UID, com.apple.mgmt.…).' })),
  notAfter: Nullable(Type.String({ format: 'date-time', description: 'When the certificate expires: renew it before, with the same Apple ID.' })),
  requestPending: Type.Boolean({ description: 'A key and request wait for the signed certificate.' }),
  pendingCsrPem: Nullable(Type.String({ description: 'The certificate request to have signed (docs/apple.md).' })),
});
const UploadBody = Type.Object({ certificatePem: Type.String({ minLength: 1, maxLength: 20_000, description: 'The MDM push certificate Apple signed, PEM.' }) }, { additionalProperties: false });
const tags = ['apple'];

/** The organisation's APNs certificate for iPad MDM: key and request generated here, certificate uploaded, expiry shown. */
export const applePushCertificateRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const service = app.services.applePushCertificate;
  const manage = (action: string) => ({ access: { permission: 'organisation.manage' as const, audit: { action, target: 'organisation' } } });

  app.get('/apple/push-certificate', { config: { access: { permission: 'organisation.manage' as const } }, schema: { tags, summary: 'The MDM push certificate: topic and expiry', response: { 200: PushCertificateView } } }, (request) =>
    service.get(request.principal.organisationId),
  );

  app.post(
    '/apple/push-certificate/request',
    { config: manage('apple.push_certificate.request'), schema: { tags, summary: 'Generate a key and the certificate request to have signed', response: { 201: Type.Object({ csrPem: Type.String() }) } } },
    async (request, reply) => reply.code(201).send(await service.createRequest(request.principal.organisationId, actorOf(request))),
  );

  app.put(
    '/apple/push-certificate',
    {
      config: manage('apple.push_certificate.upload'),
      schema: { tags, summary: 'Upload the signed MDM push certificate (a renewal must keep the topic: 409 otherwise)', body: UploadBody, response: { 200: PushCertificateView } },
    },
    (request) => service.upload(request.principal.organisationId, request.body.certificatePem, actorOf(request)),
  );
};
