import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyRequest } from 'fastify';
import { actorOf } from '../../modules/access/auth.plugin';
import type { AuditFilter } from '../../modules/audit/audit-trail.service';
import { endOfDay, startOfDay } from '../dates';
import { DEFAULT_TIME_ZONE } from '../i18n';
import { renderPage, tFor } from '../page';
import { withParams } from './inventory-query';

const PAGE_SIZE = 100;
const DEFAULT_DAYS = 7;
const Day = Type.String({ format: 'date' });
const AuditFilters = {
  from: Type.Optional(Day),
  to: Type.Optional(Day),
  action: Type.Optional(Type.String({ maxLength: 100 })),
  outcome: Type.Optional(Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('failure')])),
  schoolId: Type.Optional(Type.String({ format: 'uuid' })),
};
const AuditQuery = Type.Object({ ...AuditFilters, after: Type.Optional(Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER })), verify: Type.Optional(Type.Literal('1')) });
type AuditQuery = Static<typeof AuditQuery>;

/** The audit trail for auditors: filters, pages, CSV export (itself audited). */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const { auditTrail, auditChain, organisation, auth } = app.services;
  const read = { access: { permission: 'audit.read' as const } };

  function filterOf(request: FastifyRequest, q: AuditQuery): AuditFilter {
    return {
      organisationId: request.scope.organisationId,
      from: q.from ? startOfDay(q.from, DEFAULT_TIME_ZONE) : undefined,
      to: q.to ? endOfDay(q.to, DEFAULT_TIME_ZONE) : undefined,
      action: q.action,
      outcome: q.outcome,
      schoolId: q.schoolId,
    };
  }

  app.get('/audit', { config: read, schema: { querystring: AuditQuery } }, async (request, reply) => {
    const t = tFor(request);
    // A first visit shows the last week; the form can widen it.
    const first = Object.keys(request.query).length === 0;
    const query: AuditQuery = first ? { from: new Date(Date.now() - DEFAULT_DAYS * 86400_000).toISOString().slice(0, 10) } : request.query;
    const schoolScope = await auth.scopeFor(request.principal, 'organisation.read');
    // Verifying walks the whole chain: only on the auditor's request, never on every visit.
    const [page, schools, chain] = await Promise.all([
      auditTrail.list(filterOf(request, query), { after: query.after ?? 0, limit: PAGE_SIZE }),
      schoolScope ? organisation.listSchools(schoolScope, {}) : Promise.resolve([]),
      query.verify ? auditChain.verify({ organisationIds: [request.scope.organisationId, null] }) : Promise.resolve(null),
    ]);
    const { after: _after, verify: _verify, ...filters } = query;
    return renderPage(request, reply, 'audit', { title: t('audit.title') }, {
      events: page.items,
      next: page.next === null ? null : withParams('/console/audit', filters, { after: page.next }),
      exportUrl: withParams('/console/audit/export.csv', filters, {}),
      query,
      schools,
      schoolNames: new Map(schools.map((s) => [s.id, s.name])),
      chain,
      verifyUrl: withParams('/console/audit', filters, { verify: '1' }),
    });
  });

  app.get('/audit/export.csv', { config: read, schema: { querystring: Type.Object(AuditFilters) } }, async (request, reply) => {
    const { csv, truncated } = await auditTrail.exportCsv(filterOf(request, request.query), actorOf(request));
    reply.header('content-disposition', `attachment; filename="cartable-audit-${new Date().toISOString().slice(0, 10)}.csv"`);
    if (truncated) reply.header('x-cartable-truncated', 'true');
    return reply.type('text/csv; charset=utf-8').send(`\ufeff${csv}`);
  });
};
