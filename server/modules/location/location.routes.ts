import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../access/auth.plugin';
import type { Caller } from '../commands/command-intent';
import {
  AlertsPage,
  AlertsQuery,
  EffectivePolicyView,
  GeofenceBody,
  GeofenceView,
  IdParams,
  LocationPolicyBody,
  LocationPolicyView,
  LocationSettingsBody,
  PolicyScopeParams,
  PositionsQuery,
  PositionsView,
  SchoolParams,
} from './location.schemas';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const tags = ['location'];
const Rollout = Type.Object({ id: Type.String(), state: Type.String(), changed: Type.Integer(), commands: Type.Integer() });
const read = { access: { permission: 'organisation.read' as const } };
const manage = (action: string, target: string) => ({ access: { permission: 'organisation.manage' as const, audit: { action, target } } });

/** Location policies, geofences, alerts and the map's positions (docs/privacy.md, "Location"). */
export const locationRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { locationPolicies, geofences, locationAlerts, auth } = app.services;

  app.get(
    '/location-policies/:scopeType/:scopeId',
    { config: read, schema: { tags, summary: 'The location policy set on the organisation (`-`), a commune or a school; null when none is', params: PolicyScopeParams, response: { 200: Type.Union([LocationPolicyView, Type.Null()]) } } },
    async (request) => locationPolicies.get(caller(request), request.params.scopeType, request.params.scopeId),
  );

  app.put(
    '/location-policies/:scopeType/:scopeId',
    {
      config: manage('location.policy.set', 'location_policy'),
      schema: { tags, summary: 'Set a location policy: off, on_demand or school_hours (audited; devices under it get it in their desired state)', params: PolicyScopeParams, body: LocationPolicyBody, response: { 200: Type.Object({ policy: LocationPolicyView, rollout: Rollout }) } },
    },
    async (request) => locationPolicies.set(caller(request), request.params.scopeType, request.params.scopeId, request.body),
  );

  app.delete(
    '/location-policies/:scopeType/:scopeId',
    { config: manage('location.policy.remove', 'location_policy'), schema: { tags, summary: 'Remove a scope’s own policy: it takes the one above again (audited)', params: PolicyScopeParams, response: { 200: Type.Object({ rollout: Rollout }) } } },
    async (request) => locationPolicies.remove(caller(request), request.params.scopeType, request.params.scopeId),
  );

  app.get(
    '/schools/:schoolId/location-policy',
    { config: read, schema: { tags, summary: 'The location policy in force at a school, and where it is set', params: SchoolParams, response: { 200: EffectivePolicyView } } },
    async (request) => locationPolicies.effectiveForSchool(caller(request), request.params.schoolId),
  );

  app.get(
    '/organisation/settings/location',
    { config: read, schema: { tags, summary: 'Whether directors may read positions, and who is mailed geofence alerts', response: { 200: LocationSettingsBody } } },
    async (request) => locationPolicies.settings(caller(request)),
  );

  app.put(
    '/organisation/settings/location',
    { config: manage('location.settings.update', 'organisation'), schema: { tags, summary: 'Grant or withdraw directors’ reading of positions; set alert recipients (audited)', body: LocationSettingsBody, response: { 200: LocationSettingsBody } } },
    async (request) => locationPolicies.saveSettings(caller(request), request.body),
  );

  app.get(
    '/geofences',
    { config: read, schema: { tags, summary: 'School perimeters within reach', querystring: Type.Object({ schoolId: Type.Optional(Type.String({ format: 'uuid' })) }, { additionalProperties: false }), response: { 200: Type.Object({ items: Type.Array(GeofenceView) }) } } },
    async (request) => ({ items: await geofences.list(caller(request), request.query.schoolId) }),
  );

  app.post(
    '/schools/:schoolId/geofences',
    {
      config: { access: { permission: 'devices.command' as const, audit: { action: 'location.geofence.create', target: 'school' } } },
      schema: { tags, summary: 'Draw a perimeter around a school: a circle, or a polygon of at least 3 points that does not cross itself', params: SchoolParams, body: GeofenceBody, response: { 201: GeofenceView } },
    },
    async (request, reply) => reply.code(201).send(await geofences.create(caller(request), request.params.schoolId, request.body)),
  );

  app.put(
    '/geofences/:id',
    { config: { access: { permission: 'devices.command' as const, audit: { action: 'location.geofence.update', target: 'geofence' } } }, schema: { tags, summary: 'Redraw a perimeter', params: IdParams, body: GeofenceBody, response: { 200: GeofenceView } } },
    async (request) => geofences.update(caller(request), request.params.id, request.body),
  );

  app.delete(
    '/geofences/:id',
    { config: { access: { permission: 'devices.command' as const, audit: { action: 'location.geofence.delete', target: 'geofence' } } }, schema: { tags, summary: 'Remove a perimeter', params: IdParams, response: { 204: Type.Null() } } },
    async (request, reply) => {
      await geofences.remove(caller(request), request.params.id);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/location/alerts',
    { config: { access: { permission: 'devices.read' as const } }, schema: { tags, summary: 'Geofence alerts; positions only for a reader allowed to see them (each read audited)', querystring: AlertsQuery, response: { 200: AlertsPage } } },
    async (request) => locationAlerts.list(caller(request), await auth.scopeFor(request.principal, 'devices.location.read'), { limit: request.query.limit ?? 100, ...(request.query.schoolId ? { schoolId: request.query.schoolId } : {}) }),
  );

  app.get(
    '/location/positions',
    { config: { access: { permission: 'devices.location.read' as const } }, schema: { tags, summary: 'The latest position of each tablet within reach, for the map (each device shown is an audited read)', querystring: PositionsQuery, response: { 200: PositionsView } } },
    async (request) => locationAlerts.positions(caller(request), request.query.schoolId),
  );
};
