import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyRequest } from 'fastify';
import { InvalidInputError } from '../../domain/errors';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import {
  AppAssignmentBody,
  AppAssignmentChange,
  AppAssignmentList,
  AppAssignmentParams,
  AppComplianceView,
  AppDetail,
  AppIdParams,
  AppList,
  AppUnassignResult,
  CreateAppBody,
  FileParams,
  SignedQuery,
  UploadResult,
  VersionParams,
} from './apps.schemas';
import { DOWNLOAD_PATH } from './download-urls';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['apps'];
/** Package bodies are streamed to disk by the service, never buffered by a parser. */
const PACKAGE_TYPES = ['application/octet-stream', 'application/vnd.android.package-archive', 'application/x-msi', 'application/x-ole-storage', 'application/msix', 'application/vnd.ms-appx'];

/** The app catalog: Android, Windows and iPad apps, and the files devices download. */
export const appsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { apps, appAssignments } = app.services;
  const read = { access: { permission: 'apps.read' as const } };
  const write = (action: string) => ({ access: { permission: 'apps.write' as const, audit: { action, target: 'app' } } });
  app.addContentTypeParser(PACKAGE_TYPES, (_request, _payload, done) => done(null, undefined));

  app.get('/apps', { config: read, schema: { tags, summary: "The organisation's app catalog", response: { 200: AppList } } }, async (request) => apps.list(caller(request)));

  app.get('/apps/:id', { config: read, schema: { tags, summary: 'An app and its versions, newest first', params: AppIdParams, response: { 200: AppDetail } } }, async (request) =>
    apps.get(caller(request), request.params.id),
  );

  app.post(
    '/apps/packages',
    {
      config: write('app.version.create'),
      schema: {
        tags,
        summary: 'Upload an APK, MSI or MSIX as the request body: the app and version are read from the package itself',
        description: 'Send the file as the raw body (`Content-Type: application/octet-stream` or the package type). Answers 201 with the new version, or 200 when this exact file already is that version.',
        response: { 200: UploadResult, 201: UploadResult },
      },
    },
    async (request, reply) => {
      // A refused upload may still be arriving: the connection is not reused after the answer.
      reply.header('connection', 'close');
      // Another content type (JSON, a form) was parsed already: there is no file left to stream.
      if (request.body !== undefined || request.raw.readableEnded) throw new InvalidInputError('Send the package file as the raw request body, with Content-Type application/octet-stream or its own type', 'upload_not_raw');
      const length = Number(request.headers['content-length']);
      const result = await apps.upload(caller(request), request.raw, Number.isFinite(length) ? length : null);
      return reply.code(result.created ? 201 : 200).send(result);
    },
  );

  app.post('/apps', { config: write('app.create'), schema: { tags, summary: 'Enter an iPad app: from the App Store (store id) or in-house (manifest URL)', body: CreateAppBody, response: { 200: UploadResult, 201: UploadResult } } }, async (request, reply) => {
    const result = await apps.create(caller(request), request.body);
    return reply.code(result.created ? 201 : 200).send(result);
  });

  app.delete('/apps/:id', { config: write('app.delete'), schema: { tags, summary: 'Remove an app and all its versions from the catalog', params: AppIdParams } }, async (request, reply) => {
    await apps.remove(caller(request), request.params.id);
    return reply.code(204).send();
  });

  app.delete('/apps/:id/versions/:versionId', { config: write('app.version.delete'), schema: { tags, summary: 'Remove one version from the catalog', params: VersionParams } }, async (request, reply) => {
    await apps.removeVersion(caller(request), request.params.id, request.params.versionId);
    return reply.code(204).send();
  });

  app.get('/apps/:id/assignments', { config: read, schema: { tags, summary: 'Where the app is assigned, and at which version', params: AppIdParams, response: { 200: AppAssignmentList } } }, async (request) =>
    appAssignments.list(caller(request), request.params.id),
  );

  app.post(
    '/apps/:id/assignments',
    {
      config: write('app.assign'),
      schema: {
        tags,
        summary: 'Assign the app to a scope: its tablets of the app\u2019s platform get it installed, and keep it up to that version',
        description: 'Answers 201 for a new assignment, 200 when the scope moved to another version or already held this one (`change`). The install commands are queued in chunks through the command pipeline; `rollout` counts them.',
        params: AppIdParams,
        body: AppAssignmentBody,
        response: { 200: AppAssignmentChange, 201: AppAssignmentChange },
      },
    },
    async (request, reply) => {
      const result = await appAssignments.assign(caller(request), request.params.id, request.body);
      return reply.code(result.change === 'created' ? 201 : 200).send(result);
    },
  );

  app.delete(
    '/apps/:id/assignments/:assignmentId',
    { config: write('app.unassign'), schema: { tags, summary: 'Remove an assignment: tablets no other assignment gives the app to are told to remove it', params: AppAssignmentParams, response: { 200: AppUnassignResult } } },
    async (request) => appAssignments.unassign(caller(request), request.params.id, request.params.assignmentId),
  );

  app.get('/apps/:id/compliance', { config: read, schema: { tags, summary: 'Tablets within your reach the app is assigned to: installed, pending, failed', params: AppIdParams, response: { 200: AppComplianceView } } }, async (request) =>
    appAssignments.compliance(caller(request), request.params.id),
  );

  app.get('/apps/:id/versions/:versionId/file', { config: read, schema: { tags, summary: "Download a version's file (audited)", params: VersionParams } }, async (request, reply) => {
    const file = await apps.download(caller(request), request.params.id, request.params.versionId);
    return reply.header('content-length', file.sizeBytes).header('content-disposition', `attachment; filename="${file.fileName}"`).type(file.contentType).send(file.stream);
  });

  app.get(
    `${DOWNLOAD_PATH.replace('/api/v1', '')}/:sha256`,
    {
      config: { access: { public: 'a device downloading a package: the signed URL (file and expiry under the server key) is the credential' } },
      schema: { tags, summary: 'A package for a device, through the signed URL an install command carries', params: FileParams, querystring: SignedQuery },
    },
    async (request, reply) => {
      const file = await apps.deviceDownload(request.params.sha256, request.query.expires, request.query.sig);
      return reply.header('content-length', file.sizeBytes).header('cache-control', 'private, no-store').type('application/octet-stream').send(file.stream);
    },
  );
};
