import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { and, eq, sql } from 'drizzle-orm';
import { auditEvents, webhookDeliveries } from '../../server/infra/db/schema';
import { startWorkers, type WorkerSet } from '../../server/infra/queues/registry';
import { jobHandlers } from '../../server/jobs';
import { openApiWorld, type ApiWorld } from '../helpers/api-world';
import { deleteRedisPrefix } from '../helpers/test-env';

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A receiver that records every request at the wire and answers with the next status of its script (then 200). */
async function receiver(script: number[] = []): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      res.statusCode = script.shift() ?? 200;
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, got, server };
}

async function until<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000): Promise<T> {
  const start = Date.now();
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

let w: ApiWorld;
let workers: WorkerSet | undefined;
const servers: Server[] = [];
const db = () => w.t.infra.database.db;
const auth = () => ({ authorization: `Bearer ${w.admin}` });
const start = () => (workers = startWorkers(jobHandlers(w.t.services), { connection: w.t.infra.queueConnection, prefix: w.env.config.REDIS_PREFIX, log: w.t.infra.log }));

async function addEndpoint(url: string, events?: string[]) {
  const res = await w.t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: auth(), payload: { url, ...(events ? { events } : {}) } });
  expect(res.statusCode).toBe(201);
  return res.json<{ id: string; secret: string }>();
}
const emit = (type: 'campaign.finished' | 'location.geofence_exit', id: string) => w.t.services.webhooks.emit(db(), w.tree.org.id, { type, id, data: { n: 1 } });

beforeAll(async () => {
  w = await openApiWorld({}, { WEBHOOK_FIRST_RETRY_MS: '100' });
});
afterEach(async () => {
  await workers?.close();
  workers = undefined;
  for (const s of servers.splice(0)) s.close();
  await db().execute(sql`delete from webhook_endpoints`);
});
afterAll(async () => w.close());

describe('webhook endpoints', () => {
  it('refuses what is not an http(s) URL, or an unknown event type, with the field path', async () => {
    for (const [payload, path] of [
      [{ url: 'ftp://example.org/x' }, '/url'],
      [{ url: 'not a url' }, '/url'],
      [{ url: 'https://user:pw@example.org/' }, '/url'],
      [{ url: 'https://example.org/', events: ['device.exploded'] }, '/events/0'],
    ] as const) {
      const res = await w.t.app.inject({ method: 'POST', url: '/api/v1/webhooks', headers: auth(), payload });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(JSON.stringify(res.json())).toContain(path);
    }
    expect((await w.t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: auth() })).json()).toEqual([]);
  });

  it('shows the secret once, never in the list, and audits creation and removal', async () => {
    const created = await addEndpoint('https://hooks.example.org/cartable', ['campaign.finished']);
    expect(created.secret).toMatch(/^whsec_/);
    const list = await w.t.app.inject({ method: 'GET', url: '/api/v1/webhooks', headers: auth() });
    expect(list.body).not.toContain(created.secret);
    expect(list.json()).toEqual([expect.objectContaining({ id: created.id, events: ['campaign.finished'] })]);
    expect((await w.t.app.inject({ method: 'DELETE', url: `/api/v1/webhooks/${created.id}`, headers: auth() })).statusCode).toBe(204);
    const actions = await db()
      .select({ action: auditEvents.action })
      .from(auditEvents)
      .where(and(eq(auditEvents.targetType, 'webhook'), eq(auditEvents.targetId, created.id)));
    expect(actions.map((a) => a.action).sort()).toEqual(['webhook.create', 'webhook.delete']);
  });
});

describe('webhook deliveries', () => {
  it('posts a signed body once per event to the endpoints that take it', async () => {
    const all = await receiver();
    const onlyLocation = await receiver();
    servers.push(all.server, onlyLocation.server);
    const a = await addEndpoint(all.url);
    await addEndpoint(onlyLocation.url, ['location.geofence_exit']);
    start();
    expect(await emit('campaign.finished', 'evt-1')).toBe(1);
    expect(await emit('campaign.finished', 'evt-1')).toBe(0);
    await until(() => all.got.length >= 1);
    // Long enough for a duplicate job to have been run, if there were one.
    await new Promise((r) => setTimeout(r, 500));
    expect(all.got).toHaveLength(1);
    expect(onlyLocation.got).toHaveLength(0);
    const [hit] = all.got;
    expect(hit!.headers['x-cartable-event']).toBe('campaign.finished');
    expect(hit!.headers['x-cartable-delivery']).toBe('evt-1');
    expect(hit!.headers['x-cartable-signature']).toBe(`sha256=${createHmac('sha256', a.secret).update(hit!.body).digest('hex')}`);
    expect(JSON.parse(hit!.body)).toMatchObject({ id: 'evt-1', type: 'campaign.finished', organisationId: w.tree.org.id, data: { n: 1 } });
  });

  it('retries a refused delivery with backoff and records every attempt', async () => {
    const flaky = await receiver([500, 503]);
    servers.push(flaky.server);
    const e = await addEndpoint(flaky.url);
    start();
    await emit('campaign.finished', 'evt-retry');
    const delivered = await until(async () => {
      const res = await w.t.app.inject({ method: 'GET', url: `/api/v1/webhooks/${e.id}/deliveries`, headers: auth() });
      const [d] = res.json<{ state: string; attempts: number; lastStatus: number }[]>();
      return d?.state === 'delivered' ? d : undefined;
    });
    expect(delivered).toMatchObject({ attempts: 3, lastStatus: 200 });
    expect(flaky.got).toHaveLength(3);
    expect(new Set(flaky.got.map((g) => g.body)).size).toBe(1);
  });

  it('marks a delivery failed after its last attempt, without throwing for a retry', async () => {
    const down = await receiver([500]);
    servers.push(down.server);
    await addEndpoint(down.url);
    await emit('campaign.finished', 'evt-fail');
    const [row] = await db().select().from(webhookDeliveries).where(eq(webhookDeliveries.eventId, 'evt-fail'));
    await expect(w.t.services.webhooks.deliver(row!.id, true)).resolves.toBeUndefined();
    const [after] = await db().select().from(webhookDeliveries).where(eq(webhookDeliveries.id, row!.id));
    expect(after).toMatchObject({ state: 'failed', attempts: 1, lastStatus: 500, lastError: 'HTTP 500' });
  });

  it('sends again a delivery whose job a Redis flush took away, once', async () => {
    const later = await receiver();
    servers.push(later.server);
    await addEndpoint(later.url);
    await emit('campaign.finished', 'evt-flushed');
    await deleteRedisPrefix(w.env.config.REDIS_URL, w.env.config.REDIS_PREFIX);
    start();
    await new Promise((r) => setTimeout(r, 500));
    expect(later.got).toHaveLength(0);
    // Old enough for the sweep to take it as orphaned.
    await db().execute(sql`update webhook_deliveries set created_at = now() - interval '5 minutes' where event_id = 'evt-flushed'`);
    expect(await w.t.services.webhooks.sweep()).toBe(1);
    await until(() => later.got.length >= 1);
    await w.t.services.webhooks.sweep();
    await new Promise((r) => setTimeout(r, 500));
    expect(later.got).toHaveLength(1);
  });
});
