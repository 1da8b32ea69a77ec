import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { apps } from '../../server/infra/db/schema';
import { deliveryReport, openFaultWorld, waitUntil, type FaultWorld } from './fault-world';

/**
 * A campaign whose server and worker are killed with SIGKILL in the middle of a wave, and one
 * whose Redis is flushed in the middle of a wave: each resumes where it was, and every tablet
 * carries out the campaign's command exactly once.
 */
let world: FaultWorld;
afterEach(async () => world?.close());

const ALWAYS = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'], start: '00:00', end: '24:00' }];

async function startCampaign(apiUrl: string): Promise<string> {
  const [app] = await world.db.db.insert(apps).values({ organisationId: world.organisationId, platform: 'android', kind: 'apk', identifier: 'org.example.lecture', name: 'Lecture' }).returning();
  const created = await world.api(apiUrl, 'POST', '/campaigns', {
    name: 'Retrait de Lecture',
    action: 'remove_app',
    appId: app!.id,
    target: { schoolIds: [world.schoolId] },
    startAt: new Date(Date.now() - 60_000).toISOString(),
    windows: ALWAYS,
    perSchoolCap: 8,
    waves: [{ minSuccessPct: 100, maxFailurePct: 0 }],
  });
  expect(created.status).toBe(201);
  const id = created.body.id as string;
  expect((await world.api(apiUrl, 'POST', `/campaigns/${id}/start`)).status).toBe(200);
  return id;
}

async function progress(id: string): Promise<{ status: string; sent: number; succeeded: number; commands: number; devices: number }> {
  const { rows } = await world.db.db.execute<{ status: string; sent: number; succeeded: number; commands: number; devices: number }>(sql`
    select c.status,
           (select count(*)::int from campaign_targets where campaign_id = c.id and status = 'sent') as sent,
           (select count(*)::int from campaign_targets where campaign_id = c.id and status = 'succeeded') as succeeded,
           (select count(*)::int from commands where campaign_id = c.id) as commands,
           (select count(distinct device_id)::int from commands where campaign_id = c.id) as devices
    from campaigns c where c.id = ${id}`);
  return rows[0]!;
}

describe('campaigns through crashes and a Redis flush', () => {
  it('resumes after the server and the worker are killed mid-wave: one execution per tablet', async () => {
    world = await openFaultWorld({ env: { AGENT_HEARTBEAT_SEC: '5', COMMAND_ACK_TIMEOUT_SEC: '5' } });
    let server = await world.node('api,gateway');
    let worker = await world.node('worker');
    const fleet = await world.enroll(server.url, server.url, 40);
    await Promise.all(fleet.map((a) => a.connect()));
    for (const a of fleet) a.holdMs = 1500;
    const id = await startCampaign(server.url);
    await waitUntil(async () => (await progress(id)).commands >= 8, 20_000, 'a first chunk sent');
    await Promise.all([server.stop('SIGKILL'), worker.stop('SIGKILL')]);
    for (const a of fleet) a.holdMs = 0;
    const killedAt = await progress(id);
    expect(killedAt.succeeded).toBeLessThan(fleet.length);

    const back = Date.now();
    [server, worker] = await Promise.all([server.restart(), worker.restart()]);
    // The tablet whose command was handed out as the processes died comes back on its own reconnection backoff.
    await waitUntil(async () => (await progress(id)).status === 'completed', 240_000, 'campaign completed');
    console.log(`campaign killed with ${killedAt.succeeded}/${fleet.length} done: completed ${Date.now() - back} ms after the restart`);
    const done = await progress(id);
    expect(done).toMatchObject({ succeeded: fleet.length, commands: fleet.length, devices: fleet.length });
    expect(deliveryReport(fleet)).toMatchObject({ executed: fleet.length, executedTwice: 0 });
  }, 360_000);

  it('resumes after a FLUSHALL mid-wave: the tick comes back, one execution per tablet', async () => {
    world = await openFaultWorld({ env: { AGENT_HEARTBEAT_SEC: '5' } });
    const server = await world.node('api,gateway');
    await world.node('worker');
    const fleet = await world.enroll(server.url, server.url, 40);
    await Promise.all(fleet.map((a) => a.connect()));
    for (const a of fleet) a.holdMs = 500;
    const id = await startCampaign(server.url);
    await waitUntil(async () => (await progress(id)).commands >= 8, 20_000, 'a first chunk sent');
    const redis = new Redis(world.redis.url);
    await redis.flushall();
    redis.disconnect();

    const flushed = Date.now();
    // The schedule watchdog declares the tick again within its period; nothing else was lost.
    await waitUntil(async () => (await progress(id)).status === 'completed', 120_000, 'campaign completed');
    console.log(`campaign flushed mid-wave: completed ${Date.now() - flushed} ms after the FLUSHALL`);
    expect(await progress(id)).toMatchObject({ succeeded: fleet.length, commands: fleet.length, devices: fleet.length });
    expect(deliveryReport(fleet)).toMatchObject({ executed: fleet.length, executedTwice: 0 });
  }, 240_000);
});
