import { eq } from 'drizzle-orm';
import { commands } from '../../server/infra/db/schema';
import { createUsersService } from '../../server/modules/access/users.service';
import { deliveryReport, openFaultWorld, statusCounts, waitUntil, type FaultWorld } from './fault-world';

/**
 * Redis and PostgreSQL go away while the server works: nothing the server acknowledged is lost,
 * nothing runs twice, and the server answers people quickly instead of hanging.
 */
let world: FaultWorld;
afterEach(async () => world?.close());

describe('outages of the services Cartable depends on', () => {
  it('with Redis stopped, a lock is stored and answered within a second, sign-in works, and the tablet runs it once Redis is back', async () => {
    world = await openFaultWorld({ env: { AGENT_HEARTBEAT_SEC: '5' } });
    const node = await world.node('api,gateway,worker');
    const [agent] = await world.enroll(node.url, node.url, 1);
    await agent!.connect();
    const password = 'correct horse battery staple';
    await createUsersService({ db: world.db.db }).createUser({ organisationId: world.organisationId, email: 'tech@example.org', displayName: 'Tech', password });

    await world.redis.kill();
    const lock = await world.api(node.url, 'POST', `/devices/${agent!.deviceId}/commands`, { kind: 'lock', params: { message: 'Redis est en panne' } });
    expect(lock.status).toBe(201);
    expect(lock.ms).toBeLessThan(1000);
    const list = await world.api(node.url, 'GET', '/devices');
    expect(list.status).toBe(200);
    expect(list.ms).toBeLessThan(1000);
    const login = await fetch(`${node.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'tech@example.org', password }) });
    expect(login.status).toBe(200);
    expect(((await (await fetch(`${node.url}/readyz`)).json()) as { status: string }).status).toBe('degraded');

    const back = Date.now();
    await world.redis.resume();
    const status = async () => (await world.db.db.select({ status: commands.status }).from(commands).where(eq(commands.id, String(lock.body.id))))[0]?.status;
    await waitUntil(async () => (await status()) === 'succeeded', 30_000, 'lock succeeded');
    expect(deliveryReport([agent!])).toMatchObject({ executed: 1, executedTwice: 0, framesAfterDone: 0 });
    console.log(`lock delivered ${Date.now() - back} ms after Redis came back`);
  }, 60_000);

  it('with PostgreSQL restarted mid-delivery, every command ends final, executed once, and /readyz follows the outage', async () => {
    world = await openFaultWorld({ privatePostgres: true, env: { AGENT_HEARTBEAT_SEC: '5', COMMAND_ACK_TIMEOUT_SEC: '5' } });
    const node = await world.node('api,gateway,worker');
    const fleet = await world.enroll(node.url, node.url, 60);
    await Promise.all(fleet.map((a) => a.connect()));
    for (const a of fleet) a.holdMs = 50 + Math.floor(Math.random() * 400);
    const bulk = await world.api(node.url, 'POST', '/commands/bulk', { kind: 'lock', params: { message: 'Fin de séance' }, target: { schoolId: world.schoolId } });
    expect(bulk.status).toBe(201);
    const batchId = bulk.body.batchId as string;
    await waitUntil(() => fleet.reduce((n, a) => n + a.executions.size, 0) >= 15, 10_000, 'first executions');

    await world.postgres!.halt();
    await waitUntil(async () => (await fetch(`${node.url}/readyz`)).status === 503, 5_000, '/readyz 503');
    await new Promise((r) => setTimeout(r, 1500));
    await world.postgres!.resume();
    const readyMs = await waitUntil(async () => (await fetch(`${node.url}/readyz`)).status === 200, 10_000, '/readyz 200');

    const finalMs = await waitUntil(async () => (await statusCounts(world, [batchId])).succeeded === fleet.length, 60_000, 'every lock succeeded');
    expect(deliveryReport(fleet)).toMatchObject({ executed: fleet.length, executedTwice: 0, framesAfterDone: 0 });
    console.log(`PostgreSQL back: ready again after ${readyMs} ms, every command final after ${finalMs} ms`);
  }, 120_000);
});
