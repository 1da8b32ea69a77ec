import { sql } from 'drizzle-orm';
import { Redis } from 'ioredis';
import { apps } from '../../server/infra/db/schema';
import type { CountingAgent } from '../../agent-protocol/simulator/counting-agent';
import { deliveryReport, openFaultWorld, waitUntil, type FaultWorld } from './fault-world';

/**
 * A campaign whose server and worker are killed with SIGKILL in the middle of a wave, and one
 * whose Redis is flushed in the middle of a wave: each resumes where it was, and every tablet
 * carries out the campaign's command exactly once. And pause, resume and cancel, asked of one
 * process, taking effect on every gateway within 5 s, counted at the tablets' wire.
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

  it('pauses, resumes and cancels on every gateway within 5 s of the call to one process', async () => {
    world = await openFaultWorld({ env: { AGENT_HEARTBEAT_SEC: '5' } });
    const api = await world.node('api,gateway');
    const gateway = await world.node('gateway');
    await world.node('worker');
    const fleet = await world.enroll(api.url, [api.url, gateway.url], 40);
    // Tablets of the other gateway left offline: their commands wait queued when the pause comes.
    const late = fleet.filter((_, i) => i % 4 === 1);
    const online = fleet.filter((a) => !late.includes(a));
    await Promise.all(online.map((a) => a.connect()));
    for (const a of fleet) a.holdMs = 700;
    const frames = (agents: CountingAgent[]) => deliveryReport(agents).frames;
    const queuedFor = async (agents: CountingAgent[]) =>
      (await world.db.db.execute<{ n: number }>(sql`select count(*)::int as n from commands where status = 'queued' and device_id::text = any(${`{${agents.map((a) => a.deviceId).join(',')}}`}::text[])`)).rows[0]!.n;
    const id = await startCampaign(api.url);
    await waitUntil(async () => (await queuedFor(late)) >= 1, 30_000, 'a command queued for an offline tablet');

    // Paused: after 5 s, no tablet on either process is handed anything more (those coming online
    // included), and nothing more is queued.
    expect((await world.api(api.url, 'POST', `/campaigns/${id}/pause`)).status).toBe(200);
    await Promise.all(late.map((a) => a.connect()));
    await new Promise((r) => setTimeout(r, 5000));
    const held = { frames: frames(fleet), commands: (await progress(id)).commands };
    await new Promise((r) => setTimeout(r, 6000));
    expect({ frames: frames(fleet), commands: (await progress(id)).commands }).toEqual(held);
    expect(frames(late)).toBe(0);

    // Resumed: the tablets of the other process get their commands within 5 s.
    expect((await world.api(api.url, 'POST', `/campaigns/${id}/resume`)).status).toBe(200);
    await waitUntil(() => frames(late) > 0, 5000, 'a command handed out by the other gateway after the resume');

    // Cancelled: within 5 s nothing more is handed out, and what was queued is cancelled.
    expect((await world.api(api.url, 'POST', `/campaigns/${id}/cancel`)).status).toBe(200);
    await new Promise((r) => setTimeout(r, 5000));
    const stopped = frames(fleet);
    await new Promise((r) => setTimeout(r, 5000));
    expect(frames(fleet)).toBe(stopped);
    const { rows } = await world.db.db.execute<{ n: number }>(sql`select count(*)::int as n from commands where campaign_id = ${id} and status = 'queued'`);
    expect(rows[0]!.n).toBe(0);
    expect(stopped).toBeLessThan(fleet.length);
    expect(deliveryReport(fleet)).toMatchObject({ executedTwice: 0, framesAfterDone: 0 });
  }, 240_000);
});
