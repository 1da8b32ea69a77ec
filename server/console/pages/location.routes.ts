import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { InvalidInputError } from '../../domain/errors';
import { actorOf } from '../../modules/access/auth.plugin';
import type { Caller } from '../../modules/commands/command-intent';
import type { LocationPolicyBody } from '../../modules/location/location.schemas';
import { FormBody } from '../form-schema';
import { handleForm, type FormState } from '../forms';
import { renderPage, schoolsScope, setNotice, tFor } from '../page';

const caller = (request: FastifyRequest): Caller => ({ principal: request.principal, scope: request.scope, actor: actorOf(request) });
const SchoolParams = Type.Object({ schoolId: Type.String({ format: 'uuid' }) });
const PolicyForm = FormBody({
  mode: Type.Union([Type.Literal('inherit'), Type.Literal('off'), Type.Literal('on_demand'), Type.Literal('school_hours')]),
  intervalMinutes: Type.Optional(Type.Integer({ minimum: 5, maximum: 240 })),
  hours: Type.Optional(Type.String({ maxLength: 2000 })),
  excludedDates: Type.Optional(Type.String({ maxLength: 20_000 })),
});

/** `1,2,4,5 08:30-16:30`, one range a line: ISO weekdays, then local times. */
function parseHours(text: string | undefined): LocationPolicyBody['hours'] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const m = /^([1-7](?:\s*,\s*[1-7])*)\s+(\d{2}:\d{2})\s*-\s*(\d{2}:\d{2})$/.exec(line);
      if (!m) throw new InvalidInputError(`Unreadable hours line: ${line}`, 'invalid_location_policy');
      return { days: [...new Set(m[1]!.split(',').map((d) => Number(d.trim())))], start: m[2]!, end: m[3]! };
    });
}

/** `2026-12-19 2027-01-03` (a range) or `2026-11-11` (one day), one a line. */
function parseDates(text: string | undefined): LocationPolicyBody['excludedDates'] {
  return (text ?? '')
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean)
    .map((line) => {
      const m = /^(\d{4}-\d{2}-\d{2})(?:\s+(\d{4}-\d{2}-\d{2}))?$/.exec(line);
      if (!m) throw new InvalidInputError(`Unreadable date line: ${line}`, 'invalid_location_policy');
      return { from: m[1]!, to: m[2] ?? m[1]! };
    });
}

/** Location for people: alerts, the map of located tablets and perimeters, each school's policy. */
export const locationConsoleRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { locationPolicies, geofences, locationAlerts, organisation, auth } = app.services;

  app.get('/location', { config: { access: { permission: 'devices.read' } } }, async (request, reply) => {
    const positionScope = await auth.scopeFor(request.principal, 'devices.location.read');
    const page = await locationAlerts.list(caller(request), positionScope, { limit: 200 });
    const schools = await organisation.listSchools(await schoolsScope(request), {});
    return renderPage(request, reply, 'location-alerts', { title: tFor(request)('location.alertsTitle') }, { alerts: page.items, positionsShown: page.positionsShown, canMap: positionScope !== null, schools });
  });

  app.get('/location/map', { config: { access: { permission: 'devices.location.read' } } }, async (request, reply) => {
    const [positions, fences] = await Promise.all([locationAlerts.positions(caller(request)), geofences.list(caller(request))]);
    const { MAP_TILE_URL, MAP_TILE_ATTRIBUTION } = app.infra.config;
    const data = { tiles: MAP_TILE_URL, attribution: MAP_TILE_ATTRIBUTION, positions: positions.items, geofences: fences };
    return renderPage(request, reply, 'location-map', { title: tFor(request)('location.mapTitle') }, { data, positions: positions.items, geofences: fences });
  });

  async function policyPage(request: FastifyRequest, reply: FastifyReply, schoolId: string, form?: FormState) {
    const effective = await locationPolicies.effectiveForSchool(caller(request), schoolId);
    const [school] = (await organisation.listSchools(await schoolsScope(request), {})).filter((s) => s.id === schoolId);
    const own = effective.own;
    const values = {
      mode: own ? own.mode : 'inherit',
      intervalMinutes: own?.intervalMinutes ?? '',
      hours: (own?.hours ?? []).map((h) => `${h.days.join(',')} ${h.start}-${h.end}`).join('\n'),
      excludedDates: (own?.excludedDates ?? []).map((d) => (d.from === d.to ? d.from : `${d.from} ${d.to}`)).join('\n'),
    };
    const canEdit = (await auth.scopeFor(request.principal, 'organisation.manage')) !== null;
    return renderPage(request, reply, 'location-policy', { title: tFor(request)('location.policyTitle', { school: school?.name ?? '' }), form }, { school, effective, values, canEdit });
  }

  app.get('/location/schools/:schoolId', { config: { access: { permission: 'organisation.read' } }, schema: { params: SchoolParams } }, async (request, reply) => policyPage(request, reply, request.params.schoolId));

  app.post(
    '/location/schools/:schoolId',
    { config: { access: { permission: 'organisation.manage', audit: { action: 'location.policy.set', target: 'school' } } }, attachValidation: true, schema: { params: SchoolParams, body: PolicyForm } },
    async (request, reply) =>
      handleForm(request, reply, tFor(request), {
        labels: { mode: 'location.mode', intervalMinutes: 'location.interval', hours: 'location.hours', excludedDates: 'location.excludedDates' },
        fieldOfCode: { invalid_location_policy: 'hours' },
        render: (form) => policyPage(request, reply, request.params.schoolId, form),
        async submit() {
          const { mode, intervalMinutes, hours, excludedDates } = request.body;
          const schoolId = request.params.schoolId;
          if (mode === 'inherit') {
            if ((await locationPolicies.get(caller(request), 'school', schoolId)) !== null) await locationPolicies.remove(caller(request), 'school', schoolId);
          } else {
            await locationPolicies.set(caller(request), 'school', schoolId, {
              mode,
              ...(mode === 'school_hours' && intervalMinutes !== undefined ? { intervalMinutes } : {}),
              hours: parseHours(hours),
              excludedDates: parseDates(excludedDates),
            });
          }
          setNotice(reply, 'settingsSaved');
          return `/console/location/schools/${schoolId}`;
        },
      }),
  );
};
