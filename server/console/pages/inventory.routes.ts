import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { csvDocument } from '../../infra/csv';
import { renderFragment, renderPage, schoolsScope, tFor } from '../page';
import { InventoryQuery, PER_PAGE, deviceQueryOf, listQueryOf, liveUrlOf, withParams } from './inventory-query';

const SchoolParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** Schools with their tablet counts, a school's inventory, the inventory across schools, and its CSV export. */
export const inventoryRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, organisation } = app.services;
  const read = { access: { permission: 'devices.read' as const } };

  /** The inventory page (or only its results, for the live refresh) for one school or all of them. */
  async function inventory(request: FastifyRequest, reply: FastifyReply, query: InventoryQuery, path: string, school: { id: string; name: string; code: string; timezone: string } | null) {
    const t = tFor(request);
    const list = await devices.list(request.scope, listQueryOf(query));
    const pages = Math.max(1, Math.ceil(list.total / list.limit));
    const page = Math.floor(list.offset / list.limit) + 1;
    const scope = await schoolsScope(request);
    const schools = school ? [] : await organisation.listSchools(scope, {});
    const schoolNames = new Map(schools.map((s) => [s.id, s.name]));
    const results = { list, page, pages, query, path, school, schoolNames, timeZone: school?.timezone, withParams };
    if (query.fragment === 'results') return renderFragment(request, reply, 'inventory-results', results);
    const [facets, groups] = await Promise.all([
      devices.facets(request.scope, school?.id),
      school ? organisation.listGroups(scope, { schoolId: school.id }) : Promise.resolve([]),
    ]);
    const title = school ? t('inventory.schoolTitle', { school: school.name }) : t('inventory.title');
    return renderPage(request, reply, 'inventory', { title }, { ...results, facets, schools, groups, perPageChoices: PER_PAGE, liveUrl: liveUrlOf(path, query) });
  }

  app.get('/schools', { config: read }, async (request, reply) => {
    const scope = await schoolsScope(request);
    const [schools, communes, summary] = await Promise.all([organisation.listSchools(scope, {}), organisation.listCommunes(scope), devices.fleetSummary(request.scope, { silentDays: 7 })]);
    const communeNames = new Map(communes.map((c) => [c.id, c.name]));
    const counts = new Map(summary.bySchool.map((s) => [s.schoolId, s.count]));
    const rows = schools.map((s) => ({ ...s, commune: communeNames.get(s.communeId) ?? null, devices: counts.get(s.id) ?? 0 })).sort((a, b) => a.name.localeCompare(b.name, request.locale));
    return renderPage(request, reply, 'schools', { title: tFor(request)('schools.title') }, { rows });
  });

  app.get('/schools/:id', { config: read, schema: { params: SchoolParams, querystring: InventoryQuery } }, async (request, reply) => {
    const school = await organisation.getSchool(await schoolsScope(request), request.params.id);
    return inventory(request, reply, { ...request.query, schoolId: school.id }, `/console/schools/${school.id}`, school);
  });

  app.get('/devices', { config: read, schema: { querystring: InventoryQuery } }, async (request, reply) => inventory(request, reply, request.query, '/console/devices', null));

  app.get('/devices.csv', { config: read, schema: { querystring: InventoryQuery } }, async (request, reply) => {
    const t = tFor(request);
    const { rows, truncated } = await devices.exportRows(request.scope, deviceQueryOf(request.query));
    const header = ['csv.name', 'csv.schoolCode', 'csv.school', 'csv.group', 'csv.platform', 'csv.manufacturer', 'csv.model', 'csv.osVersion', 'csv.serial', 'csv.battery', 'csv.lostMode', 'csv.status', 'csv.lastSeen', 'csv.enrolled'] as const;
    const lines = rows.map((d) => [
      d.name,
      d.schoolCode,
      d.schoolName,
      d.groupName,
      d.platform,
      d.manufacturer,
      d.model,
      d.osVersion,
      d.serial,
      d.batteryLevel,
      d.lostMode ? t('csv.yes') : t('csv.no'),
      d.status,
      d.lastSeenAt?.toISOString() ?? null,
      d.enrolledAt.toISOString(),
    ]);
    reply.header('content-disposition', `attachment; filename="cartable-${t('csv.fileName')}-${new Date().toISOString().slice(0, 10)}.csv"`);
    if (truncated) reply.header('x-cartable-truncated', 'true');
    // The byte order mark lets spreadsheet programs read the accents of French names.
    return reply.type('text/csv; charset=utf-8').send(`\ufeff${csvDocument([header.map((key) => t(key)), ...lines])}`);
  });
};
