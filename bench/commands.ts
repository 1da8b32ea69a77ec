/**
 * `npm run bench -- commands [--devices 10000] [--clients 2] [--path inline|fanout]`
 *
 * One Cartable server process (api + gateway + worker) and simulated agents in separate
 * processes: N agents connect and idle, one bulk `lock` goes to all of them through the API, and
 * the time until every command is acknowledged is measured from the database, with the CPU time
 * each side (server, database, simulated agents) spent per command meanwhile. `--path fanout`
 * makes the bulk action take the background path (stored by a worker from its outbox row)
 * instead of being stored inside the call. Then, in the same
 * run, a bare @fastify/websocket server sends one frame to the same number of plain sockets and
 * waits for one answer from each: the floor that the command path is compared with.
 * Everything runs on 127.0.0.1, in a throw-away database and Redis prefix.
 */
import { Client } from 'pg';
import { cpuMs, databaseCpuMs, flag, openBenchWorld, shares, sleep, stop } from './harness';

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'devices', 10_000);
  const clientCount = flag(args, 'clients', 2);
  const fanout = args[args.indexOf('--path') + 1] === 'fanout' && args.includes('--path');
  const world = await openBenchWorld('commands', 'api,gateway,worker', { technicianToken: true, env: fanout ? { BULK_INLINE_MAX_DEVICES: '1000' } : {} });
  const { url, port } = world;
  try {
    const clients = world.spawnAgents(total, clientCount);
    const connected = (await Promise.all(clients.map((c) => c.next('connected', 900_000)))).reduce((n, e) => n + Number(e.count), 0);
    console.log(JSON.stringify({ phase: 'connected', count: connected }));
    await sleep(2000); // presence is written just after each welcome

    // CPU per command of each side, over the same span: on a machine of two cores, the simulated
    // tablets' own work competes with the server's, and this shows which side a change moved.
    const database = new URL(world.databaseUrl).pathname.slice(1);
    const cpu = () => ({ server: cpuMs(world.server.proc.pid!), agents: clients.reduce((n, c) => n + cpuMs(c.proc.pid!), 0), database: databaseCpuMs(database) });
    const cpu0 = cpu();
    const t0 = Date.now();
    const res = await fetch(`${url}/api/v1/commands/bulk`, {
      method: 'POST',
      headers: { authorization: `Bearer ${world.bearer}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'lock', params: { message: 'Fin de séance' }, target: { schoolId: world.schoolId } }),
    });
    const bulk = (await res.json()) as { batchId: string; created: number; mode: string };
    if (res.status !== 201) throw new Error(`bulk refused: ${res.status} ${JSON.stringify(bulk)}`);
    const createdMs = Date.now() - t0;
    const db = new Client({ connectionString: world.databaseUrl });
    await db.connect();
    let acked = 0;
    const deadline = t0 + 120_000;
    while (Date.now() < deadline) {
      const { rows } = await db.query<{ n: number }>(
        `select count(*)::int as n from commands where batch_id = $1 and status in ('acknowledged', 'succeeded', 'failed', 'not_now')`,
        [bulk.batchId],
      );
      acked = rows[0]!.n;
      if (acked >= bulk.created) break;
      // Each count reads the whole batch (a few ms of the database's time): often enough to see
      // the end within 50 ms, seldom enough not to weigh on what it measures.
      await sleep(50);
    }
    const ackedS = (Date.now() - t0) / 1000;
    const cpu1 = cpu();
    const perCommandUs = (side: keyof typeof cpu0) => Math.round(((cpu1[side] - cpu0[side]) * 1000) / bulk.created);
    // Where the time went, on the database's clock: from the batch row to the last command stored,
    // handed out, and acknowledged (the median and the last of each).
    const { rows: phases } = await db.query<Record<string, number>>(
      `select max(c.attempts)::int as max_attempts,
              extract(epoch from max(c.created_at) - b.created_at)::float as stored_s,
              extract(epoch from percentile_disc(0.5) within group (order by c.sent_at) - b.created_at)::float as sent_p50_s,
              extract(epoch from max(c.sent_at) - b.created_at)::float as sent_s,
              extract(epoch from percentile_disc(0.5) within group (order by c.acknowledged_at) - b.created_at)::float as acked_p50_s,
              extract(epoch from max(c.acknowledged_at) - b.created_at)::float as acked_db_s
       from commands c join command_batches b on b.id = c.batch_id where c.batch_id = $1 group by b.created_at`,
      [bulk.batchId],
    );
    await db.end();
    console.log(
      JSON.stringify({
        phase: 'commands',
        created: bulk.created,
        mode: bulk.mode,
        created_ms: createdMs,
        acked,
        acked_s: ackedS,
        ...phases[0],
        cpu_us_per_command: { server: perCommandUs('server'), database: perCommandUs('database'), agents: perCommandUs('agents') },
      }),
    );
    for (const c of [...clients, world.server]) await stop(c);

    const bare = world.spawn('bench/commands-bare.ts', ['server'], { PORT: String(port) });
    await bare.next('listening', 30_000);
    const bareClients = shares(total, clientCount).map((s) => world.spawn('bench/commands-bare.ts', ['clients', `ws://127.0.0.1:${port}/ws`, s.count, s.address]));
    await Promise.all(bareClients.map((c) => c.next('connected', 300_000)));
    const baseline = (await (await fetch(`${url}/send`)).json()) as { sockets: number; ms: number };
    const bareS = baseline.ms / 1000;
    console.log(`devices=${acked} path=${bulk.mode} acked_s=${ackedS.toFixed(2)} bare_send_s=${bareS.toFixed(3)} ratio=${(ackedS / bareS).toFixed(1)}`);
  } finally {
    await world.close();
  }
}
