import { startWorkers, type WorkerSet } from '../../server/infra/queues/registry';
import { jobHandlers } from '../../server/jobs';
import { asDatabaseOwner, newOrganisation, writeEvents } from '../helpers/audit-chain';
import { settled } from '../helpers/jobs';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;
let workers: WorkerSet;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  workers = startWorkers(jobHandlers(t.services), { connection: t.infra.queueConnection, prefix: env.config.REDIS_PREFIX, log: t.infra.log });
});
afterAll(async () => {
  await workers.close();
  await t.close();
  await env.cleanup();
});

describe('the audit.checkpoint job', () => {
  it('is declared as a repeatable job of the worker', async () => {
    await t.infra.queues.ensureSchedules();
    const schedulers = await t.infra.queues.queue('maintenance').getJobSchedulers();
    expect(schedulers.find((s) => s.key === 'audit.checkpoint')).toMatchObject({ every: 15 * 60_000 });
    // The schedule's own runs would race the jobs the next test adds.
    const maintenance = t.infra.queues.queue('maintenance');
    await maintenance.removeJobScheduler('audit.checkpoint');
    await maintenance.drain(true);
  });

  it('signs the chains whose head moved, then only those', async () => {
    const [a, b] = [await newOrganisation(t.infra.database.db), await newOrganisation(t.infra.database.db)];
    await writeEvents(t.infra.database.db, a, 3);
    await writeEvents(t.infra.database.db, b, 2);
    const first = await settled(t, await t.infra.queues.add('audit.checkpoint', {}), 15_000);
    expect(first.failedReason).toBeFalsy();
    expect(first.returnvalue.written).toBeGreaterThanOrEqual(2);

    await writeEvents(t.infra.database.db, a, 1);
    const second = await settled(t, await t.infra.queues.add('audit.checkpoint', {}), 15_000);
    expect(second.returnvalue).toEqual({ written: 1, skipped: expect.any(Number) });
    const report = await t.services.auditChain.verify({ organisationIds: [a, b] });
    expect(report.chains.map((c) => [c.organisationId, c.checkpoints.newest?.seq])).toEqual(
      expect.arrayContaining([
        [a, 4],
        [b, 2],
      ]),
    );
  });

  it('fails, naming the chain and the event, instead of signing a chain that does not verify', async () => {
    const org = await newOrganisation(t.infra.database.db);
    await writeEvents(t.infra.database.db, org, 2);
    const id = await asDatabaseOwner(env.config.DATABASE_URL, async (c) => {
      const { rows } = await c.query<{ id: string }>(`update audit_events set target_id = 'x' where chain_id = $1 and seq = 2 returning id`, [org]);
      return rows[0]!.id;
    });
    const job = await settled(t, await t.infra.queues.add('audit.checkpoint', {}), 15_000);
    expect(job.failedReason).toContain(`audit chain ${org} does not verify, no checkpoint signed: content does not match its keyed MAC`);
    expect(job.failedReason).toContain(`(event ${id})`);
    const [chain] = (await t.services.auditChain.verify({ organisationIds: [org] })).chains;
    expect(chain!.checkpoints.stored).toBe(0);
  });
});
