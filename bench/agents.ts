/**
 * `npm run bench -- agents [--agents 10000] [--clients 2] [--idle-sec 20]`
 *
 * One Cartable server process (api + gateway) and simulated agents in separate processes:
 * N agents enroll, connect and stay idle; the server's RSS and event-loop p99 are read from its
 * /metrics. Then a bare @fastify/websocket server holds the same number of plain sockets, for the
 * ratio. Everything runs on 127.0.0.1, in a throw-away database and Redis prefix.
 */
import { flag, metric, openBenchWorld, shares, sleep, stop } from './harness';

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'agents', 10_000);
  const clientCount = flag(args, 'clients', 2);
  const idleSec = flag(args, 'idle-sec', 20);
  const world = await openBenchWorld('agents', 'api,gateway');
  const { url, port, opsUrl } = world;
  try {
    const clients = world.spawnAgents(total, clientCount);
    const enrolled = await Promise.all(clients.map((c) => c.next('enrolled', 600_000)));
    const enrolledCount = enrolled.reduce((n, e) => n + Number(e.count), 0);
    const enrollPerS = enrolledCount / (Math.max(...enrolled.map((e) => Number(e.ms))) / 1000);
    console.log(JSON.stringify({ phase: 'enrolled', count: enrolledCount, failed: enrolled.reduce((n, e) => n + Number(e.failed), 0), per_s: Math.round(enrollPerS) }));
    const connected = await Promise.all(clients.map((c) => c.next('connected', 600_000)));
    const connectedCount = connected.reduce((n, e) => n + Number(e.count), 0);
    console.log(JSON.stringify({ phase: 'connected', count: connectedCount, errors: connected.map((c) => c.errors) }));

    // prom-client resets its event-loop histogram at each scrape: each reading covers the 5 s
    // before it. Its value includes the 20 ms sampling resolution, so it errs on the high side.
    await metric(opsUrl, 'nodejs_eventloop_lag_p99_seconds');
    let rss = 0;
    let loopP99Ms = 0;
    for (let s = 0; s < idleSec; s += 5) {
      await sleep(5000);
      loopP99Ms = Math.max(loopP99Ms, (await metric(opsUrl, 'nodejs_eventloop_lag_p99_seconds')) * 1000);
      rss = Math.max(rss, await metric(opsUrl, 'process_resident_memory_bytes'));
    }
    const held = await metric(opsUrl, 'cartable_connected_devices');
    console.log(JSON.stringify({ phase: 'idle', held, rss_mb: Math.round(rss / 2 ** 20), loop_p99_ms: Number(loopP99Ms.toFixed(1)) }));
    for (const c of [...clients, world.server]) await stop(c);

    const bare = world.spawn('bench/bare-server.ts', [], { PORT: String(port) });
    await bare.next('listening', 30_000);
    const bareClients = shares(total, clientCount).map((s) => world.spawn('bench/bare-clients.ts', [`ws://127.0.0.1:${port}/ws`, s.count, s.address]));
    await Promise.all(bareClients.map((c) => c.next('connected', 300_000)));
    await sleep(5000);
    const bareStats = (await (await fetch(`${url}/rss`)).json()) as { rss: number; sockets: number };
    const rssMb = rss / 2 ** 20;
    const bareMb = bareStats.rss / 2 ** 20;
    console.log(`agents=${held} rss_mb=${rssMb.toFixed(0)} bare_rss_mb=${bareMb.toFixed(0)} ratio=${(rssMb / bareMb).toFixed(2)} loop_p99_ms=${loopP99Ms.toFixed(1)} enroll_per_s=${enrollPerS.toFixed(0)}`);
  } finally {
    await world.close();
  }
}
