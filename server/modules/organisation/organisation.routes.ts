import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';
import { Commune, CommunePatch, Group, GroupPatch, GroupQuery, IdParams, NewCommune, NewGroup, NewSchool, School, SchoolPatch, SchoolQuery } from './organisation.schemas';

/** Communes, schools and groups (such as a tablet cart). Reads are scoped; writes are for administrators. */
export const organisationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const org = app.services.organisation;
  const read = { config: { access: { permission: 'organisation.read' as const } } };
  const manage = { config: { access: { permission: 'organisation.manage' as const } } };

  let tags = ['communes'];
  app.get('/communes', { ...read, schema: { tags, summary: 'List the communes in your scope', response: { 200: Type.Array(Commune) } } }, (req) => org.listCommunes(req.scope));
  app.get('/communes/:id', { ...read, schema: { tags, params: IdParams, response: { 200: Commune } } }, (req) => org.getCommune(req.scope, req.params.id));
  app.post('/communes', { ...manage, schema: { tags, body: NewCommune, response: { 201: Commune } } }, async (req, reply) =>
    reply.code(201).send(await org.createCommune(req.scope, req.body, actorOf(req))),
  );
  app.patch('/communes/:id', { ...manage, schema: { tags, params: IdParams, body: CommunePatch, response: { 200: Commune } } }, (req) =>
    org.updateCommune(req.scope, req.params.id, req.body, actorOf(req)),
  );
  app.delete('/communes/:id', { ...manage, schema: { tags, params: IdParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await org.deleteCommune(req.scope, req.params.id, actorOf(req));
    return reply.code(204).send(null);
  });

  tags = ['schools'];
  app.get('/schools', { ...read, schema: { tags, summary: 'List the schools in your scope', querystring: SchoolQuery, response: { 200: Type.Array(School) } } }, (req) =>
    org.listSchools(req.scope, req.query),
  );
  app.get('/schools/:id', { ...read, schema: { tags, params: IdParams, response: { 200: School } } }, (req) => org.getSchool(req.scope, req.params.id));
  app.post('/schools', { ...manage, schema: { tags, body: NewSchool, response: { 201: School } } }, async (req, reply) =>
    reply.code(201).send(await org.createSchool(req.scope, req.body, actorOf(req))),
  );
  app.patch('/schools/:id', { ...manage, schema: { tags, params: IdParams, body: SchoolPatch, response: { 200: School } } }, (req) =>
    org.updateSchool(req.scope, req.params.id, req.body, actorOf(req)),
  );
  app.delete('/schools/:id', { ...manage, schema: { tags, summary: 'Delete a school that holds no device', params: IdParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await org.deleteSchool(req.scope, req.params.id, actorOf(req));
    return reply.code(204).send(null);
  });

  tags = ['groups'];
  app.get('/groups', { ...read, schema: { tags, summary: 'List groups (tablet carts...) in your scope', querystring: GroupQuery, response: { 200: Type.Array(Group) } } }, (req) =>
    org.listGroups(req.scope, req.query),
  );
  app.get('/groups/:id', { ...read, schema: { tags, params: IdParams, response: { 200: Group } } }, (req) => org.getGroup(req.scope, req.params.id));
  app.post('/groups', { ...manage, schema: { tags, body: NewGroup, response: { 201: Group } } }, async (req, reply) =>
    reply.code(201).send(await org.createGroup(req.scope, req.body, actorOf(req))),
  );
  app.patch('/groups/:id', { ...manage, schema: { tags, params: IdParams, body: GroupPatch, response: { 200: Group } } }, (req) =>
    org.updateGroup(req.scope, req.params.id, req.body, actorOf(req)),
  );
  app.delete('/groups/:id', { ...manage, schema: { tags, params: IdParams, response: { 204: Type.Null() } } }, async (req, reply) => {
    await org.deleteGroup(req.scope, req.params.id, actorOf(req));
    return reply.code(204).send(null);
  });
};
