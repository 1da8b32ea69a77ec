import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { actorOf } from '../access/auth.plugin';
import type { AuditFilter } from './audit-trail.service';

const tags = ['audit'];
const Uuid = Type.String({ format: 'uuid' });
const Outcome = Type.Union([Type.Literal('success'), Type.Literal('denied'), Type.Literal('failure')]);

const Filters = {
  from: Type.Optional(Type.String({ format: 'date-time', description: 'Inclusive' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'Exclusive' })),
  action: Type.Optional(Type.String({ maxLength: 100, description: 'Exact action, or a prefix ending in * (e.g. auth.*)' })),
  actorId: Type.Optional(Type.String({ maxLength: 100 })),
  targetType: Type.Optional(Type.String({ maxLength: 50 })),
  targetId: Type.Optional(Type.String({ maxLength: 100 })),
  schoolId: Type.Optional(Uuid),
  outcome: Type.Optional(Outcome),
};
const ListQuery = Type.Object(
  { ...Filters, after: Type.Integer({ minimum: 0, maximum: Number.MAX_SAFE_INTEGER, default: 0, description: 'Cursor: the id of the last event already read' }), limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }) },
  { additionalProperties: false },
);
const ExportQuery = Type.Object(Filters, { additionalProperties: false });

const AuditEvent = Type.Object({
  id: Type.Integer(),
  occurredAt: Type.String({ format: 'date-time' }),
  actorType: Type.Union([Type.Literal('user'), Type.Literal('api_token'), Type.Literal('device'), Type.Literal('system')]),
  actorId: Type.Union([Type.String(), Type.Null()]),
  actorLabel: Type.Union([Type.String(), Type.Null()]),
  role: Type.Union([Type.String(), Type.Null()]),
  action: Type.String(),
  targetType: Type.Union([Type.String(), Type.Null()]),
  targetId: Type.Union([Type.String(), Type.Null()]),
  schoolId: Type.Union([Type.String(), Type.Null()]),
  communeId: Type.Union([Type.String(), Type.Null()]),
  sourceIp: Type.Union([Type.String(), Type.Null()]),
  outcome: Outcome,
  details: Type.Record(Type.String(), Type.Unknown()),
  seq: Type.Union([Type.Integer(), Type.Null()], { description: "Position in its organisation's chain (null until an event written before chains were keyed is linked)" }),
  erased: Type.Boolean({ description: 'The personal fields (actor label, source IP, details) were erased' }),
  hash: Type.String({ description: "The event's keyed MAC (HMAC-SHA256): it can only be recomputed with the server's secret" }),
});

const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const ChainReport = Type.Object({
  chainId: Type.String({ format: 'uuid' }),
  organisationId: Nullable(Type.String({ format: 'uuid' })),
  events: Type.Integer({ description: 'Events verified (up to the first broken one)' }),
  firstSeq: Nullable(Type.Integer()),
  lastSeq: Nullable(Type.Integer()),
  erasedEvents: Type.Integer(),
  checkpoints: Type.Object({
    stored: Type.Integer(),
    exported: Type.Integer(),
    newest: Nullable(Type.Object({ seq: Type.Integer(), signedAt: Type.String({ format: 'date-time' }) })),
  }),
  intact: Type.Boolean(),
  problem: Nullable(Type.Object({ eventId: Nullable(Type.Integer()), seq: Nullable(Type.Integer()), reason: Type.String() })),
});
const Verification = Type.Object({
  verifiedAt: Type.String({ format: 'date-time' }),
  intact: Type.Boolean(),
  unlinkedEvents: Type.Integer(),
  chains: Type.Array(ChainReport),
});

function toFilter(organisationId: string, q: Static<typeof ExportQuery>): AuditFilter {
  return { ...q, organisationId, from: q.from ? new Date(q.from) : undefined, to: q.to ? new Date(q.to) : undefined };
}

/** Read-only access to the audit trail: there is no route to change or delete an event. */
export const auditRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const trail = app.services.auditTrail;
  const chains = app.services.auditChain;
  const read = { access: { permission: 'audit.read' as const } };

  app.get(
    '/audit/events',
    { config: read, schema: { tags, summary: 'Search the audit trail', querystring: ListQuery, response: { 200: Type.Object({ items: Type.Array(AuditEvent), next: Type.Union([Type.Integer(), Type.Null()]) }) } } },
    (req) => {
      const { after, limit, ...filters } = req.query;
      return trail.list(toFilter(req.scope.organisationId, filters), { after, limit });
    },
  );

  app.get(
    '/audit/events.csv',
    { config: read, schema: { tags, summary: 'Export the audit trail as CSV (the export is itself audited)', produces: ['text/csv'], querystring: ExportQuery, response: { 200: Type.String() } } },
    async (req, reply) => {
      const { csv, truncated } = await trail.exportCsv(toFilter(req.scope.organisationId, req.query), actorOf(req));
      reply.header('content-disposition', `attachment; filename="cartable-audit-${new Date().toISOString().slice(0, 10)}.csv"`);
      if (truncated) reply.header('x-cartable-truncated', 'true');
      return reply.type('text/csv; charset=utf-8').send(csv);
    },
  );

  app.get(
    '/audit/verification',
    {
      config: read,
      schema: {
        tags,
        summary: "Verify the organisation's audit chain now (and the chain of events without organisation)",
        description: 'Checks every event with the keyed MAC and the chain links, the CA signatures of the checkpoints, and that no checkpointed event is missing; names the first broken event.',
        response: { 200: Verification },
      },
    },
    (req) => chains.verify({ organisationIds: [req.scope.organisationId, null] }),
  );
};
