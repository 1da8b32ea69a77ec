import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type } from '@sinclair/typebox';
import { renderPage, schoolsScope, tFor } from '../page';

const SILENT_DAY_CHOICES = [7, 30, 90];
const DashboardQuery = Type.Object({ silentDays: Type.Optional(Type.Union(SILENT_DAY_CHOICES.map((d) => Type.Literal(d)))) });

/** The fleet at a glance; every figure links to the devices it counts. */
export const dashboardRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { devices, organisation } = app.services;

  app.get('/dashboard', { config: { access: { permission: 'devices.read' } }, schema: { querystring: DashboardQuery } }, async (request, reply) => {
    const silentDays = request.query.silentDays ?? SILENT_DAY_CHOICES[0]!;
    const [summary, schools] = await Promise.all([devices.fleetSummary(request.scope, { silentDays }), organisation.listSchools(await schoolsScope(request), {})]);
    const names = new Map(schools.map((s) => [s.id, s.name]));
    const bySchool = summary.bySchool.map((s) => ({ ...s, name: names.get(s.schoolId) ?? s.schoolId }));
    return renderPage(request, reply, 'dashboard', { title: tFor(request)('dashboard.title') }, { summary, bySchool, silentDays, silentChoices: SILENT_DAY_CHOICES });
  });
};
