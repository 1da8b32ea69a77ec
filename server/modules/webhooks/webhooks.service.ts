import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { InvalidInputError, NotFoundError } from '../../domain/errors';
import { commitHooks, type Db, type DbOrTx } from '../../infra/db/client';
import type { SecretBox } from '../../infra/secrets';
import type { Caller } from '../commands/command-intent';
import { recordAudit } from '../audit/audit.service';
import * as repo from './webhooks.repository';
import type { DeliveryView, EndpointView, NewEndpoint } from './webhooks.schemas';
import type { WebhookEvent } from './webhook-events';

/** Attempts per delivery, spaced by BullMQ's exponential backoff (WEBHOOK_FIRST_RETRY_MS, doubling: about 40 minutes in all by default). */
export const DELIVERY_ATTEMPTS = 8;
const REQUEST_TIMEOUT_MS = 10_000;
/** A pending delivery older than this has lost its job if it has none: the sweep sends it again. */
const ORPHAN_AFTER_MS = 60_000;

export interface WebhooksDeps {
  db: Db;
  secrets: Pick<SecretBox, 'seal' | 'open'>;
  /** Queues the sending of a delivery under a job id made from the delivery's id. */
  enqueue(deliveryId: string): Promise<void>;
}

/** The value of `X-Cartable-Signature`: an HMAC-SHA256 of the exact body with the endpoint's secret. */
export function signatureOf(secret: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** The JSON every delivery carries, signed and stored as these exact bytes. */
function bodyOf(id: string, type: WebhookEvent, organisationId: string, data: Record<string, unknown>): string {
  return JSON.stringify({ id, type, organisationId, occurredAt: new Date().toISOString(), data });
}

function view(row: repo.EndpointRow): EndpointView {
  return { id: row.id, url: row.url, events: row.events, enabled: row.enabled, createdAt: row.createdAt.toISOString() };
}

function deliveryView(row: repo.DeliveryRow): DeliveryView {
  return {
    id: row.id,
    eventId: row.eventId,
    eventType: row.eventType,
    state: row.state,
    attempts: row.attempts,
    lastStatus: row.lastStatus,
    lastError: row.lastError,
    createdAt: row.createdAt.toISOString(),
    deliveredAt: row.deliveredAt?.toISOString() ?? null,
  };
}

function checkUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InvalidInputError('not a URL', 'invalid_input', { path: '/url' });
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new InvalidInputError('a webhook URL is http or https', 'invalid_input', { path: '/url' });
  if (parsed.username || parsed.password) throw new InvalidInputError('credentials do not belong in a webhook URL: the body is signed instead', 'invalid_input', { path: '/url' });
}

/**
 * Signed webhooks: an event is stored as one delivery per subscribed endpoint, in the transaction
 * that produced it, and sent by a job after commit; a job that vanished (a Redis flush) is found
 * again by the sweep. A receiver may thus see an event twice, never zero times: it deduplicates
 * on `X-Cartable-Delivery`, the event's id.
 */
export function createWebhooksService(deps: WebhooksDeps) {
  const { db, secrets } = deps;

  async function audit(tx: DbOrTx, caller: Caller, action: string, id: string, details: Record<string, unknown>) {
    await recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action, target: { type: 'webhook', id }, outcome: 'success', details });
  }

  async function emit(tx: DbOrTx, organisationId: string, event: { type: WebhookEvent; id?: string; data: Record<string, unknown> }): Promise<number> {
    const endpoints = await repo.subscribers(tx, organisationId, event.type);
    if (!endpoints.length) return 0;
    const eventId = event.id ?? randomUUID();
    const body = bodyOf(eventId, event.type, organisationId, event.data);
    const ids = await repo.insertDeliveries(
      tx,
      endpoints.map((e) => ({ endpointId: e.id, organisationId, eventId, eventType: event.type, body })),
    );
    const send = () => Promise.all(ids.map((id) => deps.enqueue(id))).then(() => undefined);
    // Queued once the rows are visible to the worker; if queueing fails, the sweep queues them later.
    const hooks = commitHooks(tx);
    if (hooks) hooks.afterCommit(() => void send().catch(() => undefined));
    else await send().catch(() => undefined);
    return ids.length;
  }

  return {
    /**
     * Records an event for every endpoint that takes it, inside `tx` when given so that the event
     * exists exactly when what it reports does. A stable `id` makes a repeated emit a no-op.
     */
    emit,

    async create(caller: Caller, body: NewEndpoint): Promise<EndpointView & { secret: string }> {
      checkUrl(body.url);
      const secret = `whsec_${randomBytes(24).toString('base64url')}`;
      return db.transaction(async (tx) => {
        const row = await repo.insertEndpoint(tx, {
          organisationId: caller.scope.organisationId,
          url: body.url,
          events: [...new Set(body.events ?? [])],
          secretSealed: secrets.seal(secret),
          createdBy: caller.principal.userId,
        });
        await audit(tx, caller, 'webhook.create', row.id, { url: row.url, events: row.events });
        return { ...view(row), secret };
      });
    },

    async list(caller: Caller): Promise<EndpointView[]> {
      return (await repo.endpointsOf(db, caller.scope.organisationId)).map(view);
    },

    async remove(caller: Caller, id: string): Promise<void> {
      await db.transaction(async (tx) => {
        const row = await repo.endpoint(tx, caller.scope.organisationId, id);
        if (!row || !(await repo.deleteEndpoint(tx, caller.scope.organisationId, id))) throw new NotFoundError('Webhook');
        await audit(tx, caller, 'webhook.delete', id, { url: row.url });
      });
    },

    async deliveries(caller: Caller, id: string, limit: number): Promise<DeliveryView[]> {
      if (!(await repo.endpoint(db, caller.scope.organisationId, id))) throw new NotFoundError('Webhook');
      return (await repo.deliveriesOf(db, caller.scope.organisationId, id, limit)).map(deliveryView);
    },

    /** Posts a `webhook.ping` to one endpoint, to check the receiver and its signature check. */
    async ping(caller: Caller, id: string): Promise<{ eventId: string }> {
      const row = await repo.endpoint(db, caller.scope.organisationId, id);
      if (!row) throw new NotFoundError('Webhook');
      const eventId = randomUUID();
      const body = bodyOf(eventId, 'webhook.ping', row.organisationId, {});
      const ids = await repo.insertDeliveries(db, [{ endpointId: row.id, organisationId: row.organisationId, eventId, eventType: 'webhook.ping', body }]);
      await Promise.all(ids.map((d) => deps.enqueue(d)));
      return { eventId };
    },

    /**
     * One attempt at a delivery. Throws when the receiver did not take it, so that the queue retries
     * with backoff; `lastAttempt` marks it failed for good instead.
     */
    async deliver(deliveryId: string, lastAttempt: boolean): Promise<void> {
      const found = await repo.deliveryToSend(db, deliveryId);
      if (!found || found.delivery.state !== 'pending') return;
      const { delivery, endpoint } = found;
      let status: number | null = null;
      let error: string | null = null;
      try {
        const res = await fetch(endpoint.url, {
          method: 'POST',
          redirect: 'manual',
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
          headers: {
            'content-type': 'application/json',
            'user-agent': 'Cartable-Webhooks/1',
            'x-cartable-event': delivery.eventType,
            'x-cartable-delivery': delivery.eventId,
            'x-cartable-signature': signatureOf(secrets.open(endpoint.secretSealed), delivery.body),
          },
          body: delivery.body,
        });
        status = res.status;
        await res.body?.cancel();
        if (status < 200 || status >= 300) error = `HTTP ${status}`;
      } catch (e) {
        error = e instanceof Error ? (e.cause instanceof Error ? e.cause.message : e.message) : String(e);
      }
      const at = new Date();
      if (!error) return repo.recordAttempt(db, delivery.id, { state: 'delivered', status, error: null, at });
      await repo.recordAttempt(db, delivery.id, { state: lastAttempt ? 'failed' : 'pending', status, error, at });
      if (!lastAttempt) throw new Error(`webhook delivery ${delivery.id} not taken: ${error}`);
    },

    /** Queues again the pending deliveries whose job may have vanished; a job still there is not duplicated. */
    async sweep(): Promise<number> {
      const ids = await repo.pendingBefore(db, new Date(Date.now() - ORPHAN_AFTER_MS), 1000);
      await Promise.all(ids.map((id) => deps.enqueue(id)));
      return ids.length;
    },
  };
}
export type WebhooksService = ReturnType<typeof createWebhooksService>;
