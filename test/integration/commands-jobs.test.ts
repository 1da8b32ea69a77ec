import { randomUUID } from 'node:crypto';
import { eq, sql } from 'drizzle-orm';
import { commands, communes, devices, organisations, schools } from '../../server/infra/db/schema';
import { startWorkers, type WorkerSet } from '../../server/infra/queues/registry';
import { jobHandlers } from '../../server/jobs';
import { createPrincipalToken } from '../helpers/auth';
import { createTestEnv, deleteRedisPrefix, startTestApp, TEST_REDIS_URL, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let workers: WorkerSet;
let org: { id: string };
let school: { id: string };
let token: string;

const db = () => t.infra.database.db;

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15000): Promise<void> {
  const start = Date.now();
  while (!(await check())) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(async () => {
  env = await createTestEnv({ BULK_INLINE_MAX_DEVICES: '5000' });
  t = await startTestApp(env);
  workers = startWorkers(jobHandlers(t.services), { connection: t.infra.queueConnection, prefix: env.config.REDIS_PREFIX, log: t.infra.log });
  const tag = randomUUID().slice(0, 8);
  org = (await db().insert(organisations).values({ slug: `org-${tag}`, name: 'Agglo' }).returning())[0]!;
  const [commune] = await db().insert(communes).values({ organisationId: org.id, code: tag.slice(0, 5), name: 'Commune' }).returning();
  school = (await db().insert(schools).values({ organisationId: org.id, communeId: commune!.id, code: `${tag}A`, name: 'École' }).returning())[0]!;
  token = await createPrincipalToken(t.services, { role: 'admin', scopeType: 'organisation', organisationId: org.id });
});
afterAll(async () => {
  await workers.close();
  await t.close();
  await env.cleanup();
});

describe('bulk batches stored in the background', () => {
  it('creates every command of a large selection once, even when the batch job runs again', async () => {
    const count = 6200;
    await db().execute(sql`
      insert into devices (organisation_id, school_id, platform, name)
      select ${org.id}::uuid, ${school.id}::uuid, 'android', 'T' || g from generate_series(1, ${count}) g`);
    const res = await t.app.inject({ method: 'POST', url: '/api/v1/commands/bulk', headers: { authorization: `Bearer ${token}` }, payload: { kind: 'lock', target: { schoolId: school.id } } });
    expect(res.statusCode).toBe(201);
    const { batchId, created, mode } = res.json();
    expect({ created, mode }).toEqual({ created: count, mode: 'fanout' });

    const progress = async () => (await t.app.inject({ url: `/api/v1/commands?batchId=${batchId}`, headers: { authorization: `Bearer ${token}` } })).json();
    await waitFor(async () => (await progress()).state === 'done');
    expect(await progress()).toMatchObject({ eligible: count, stored: count, total: count });

    // The job run again (a retry after a crash) stores nothing more.
    const replay = await t.infra.queues.add('commands.batch', { batchId }, { jobId: `${batchId}.replay` });
    await waitFor(async () => (await replay.getState()) === 'completed');
    expect((await t.infra.queues.queue('commands').getJob(replay.id!))!.returnvalue).toEqual({ stored: 0 });
    expect((await progress()).total).toBe(count);
    expect((await progress()).counts).toEqual({ queued: count });
  }, 60_000);
});

describe('reconciler', () => {
  it('expires what passed its expiry and nudges again what stays undelivered', async () => {
    const [device] = await db().insert(devices).values({ organisationId: org.id, schoolId: school.id, platform: 'android', name: 'R1' }).returning();
    const issue = (kind: string) =>
      t.app.inject({ method: 'POST', url: `/api/v1/devices/${device!.id}/commands`, headers: { authorization: `Bearer ${token}` }, payload: { kind } }).then((r) => r.json());
    const stale = await issue('locate');
    const late = await issue('refresh_inventory');
    await t.services.commandQueue.report(device!.id, { commandId: late.id, status: 'acknowledged', raw: null });
    await db().update(commands).set({ createdAt: sql`now() - interval '1 minute'` }).where(eq(commands.id, stale.id));
    await db().update(commands).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(commands.id, late.id));

    const outcome = await t.services.reconciler.reconcile();
    expect(outcome.expired).toBeGreaterThanOrEqual(1);
    expect(outcome.woken).toBeGreaterThanOrEqual(1);
    const rows = await db().select({ id: commands.id, status: commands.status }).from(commands).where(eq(commands.deviceId, device!.id));
    expect(Object.fromEntries(rows.map((r) => [r.id, r.status]))).toEqual({ [stale.id]: 'queued', [late.id]: 'expired' });
  });

  it('gets its schedule back after the deployment’s Redis keys are flushed', async () => {
    const schedulers = () => t.infra.queues.queue('maintenance').getJobSchedulers();
    await t.infra.queues.ensureSchedules();
    expect((await schedulers()).map((s) => s.key)).toContain('commands.reconcile');
    await deleteRedisPrefix(TEST_REDIS_URL, env.config.REDIS_PREFIX);
    expect(await schedulers()).toEqual([]);
    await t.infra.queues.ensureSchedules();
    expect((await schedulers()).map((s) => s.key)).toContain('commands.reconcile');
    // The worker, still connected, runs the re-declared repeatable job.
    await waitFor(async () => (await t.infra.queues.queue('maintenance').getJobs(['completed'], 0, 10)).some((j) => j.name === 'commands.reconcile'), 15000);
  }, 30_000);
});
