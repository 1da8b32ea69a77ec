import { Type, type Static } from '@sinclair/typebox';
import { WEBHOOK_DELIVERY_STATES } from '../../infra/db/schema';
import { WEBHOOK_EVENTS } from './webhook-events';

export const NewEndpoint = Type.Object(
  {
    url: Type.String({ minLength: 1, maxLength: 2000, description: 'Where events are posted (http or https)' }),
    events: Type.Optional(Type.Array(Type.Union(WEBHOOK_EVENTS.map((e) => Type.Literal(e))), { maxItems: WEBHOOK_EVENTS.length, description: 'Event types to post; none means all' })),
  },
  { additionalProperties: false },
);
export type NewEndpoint = Static<typeof NewEndpoint>;

export const EndpointView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  url: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
});
export type EndpointView = Static<typeof EndpointView>;

export const CreatedEndpoint = Type.Intersect([EndpointView, Type.Object({ secret: Type.String({ description: 'Shown once: verify X-Cartable-Signature with it' }) })]);

export const DeliveryView = Type.Object({
  id: Type.String({ format: 'uuid' }),
  eventId: Type.String(),
  eventType: Type.String(),
  state: Type.Union(WEBHOOK_DELIVERY_STATES.map((s) => Type.Literal(s))),
  attempts: Type.Integer(),
  lastStatus: Type.Union([Type.Integer(), Type.Null()]),
  lastError: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  deliveredAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type DeliveryView = Static<typeof DeliveryView>;

export const EndpointParams = Type.Object({ id: Type.String({ format: 'uuid' }) });
export const DeliveriesQuery = Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })) });
