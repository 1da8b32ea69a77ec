/**
 * `npm run bench -- agents [--agents 10000] [--clients 2] [--idle-sec 20] [--renew] [--push]`
 *
 * One Cartable server process (api + gateway) and simulated agents in separate processes:
 * N agents enroll, connect and stay idle; the server's RSS and event-loop p99 are read from its
 * /metrics. Then a bare @fastify/websocket server holds the same number of plain sockets, for the
 * ratio. The enrollment and connection phases each give the CPU time per agent of the server, its
 * PostgreSQL backends and the simulator processes, which share the machine's cores: what compares
 * between runs on a shared machine, where rates move with the other work. The server's and
 * PostgreSQL's are read when the last simulator reaches the phase's end, so a simulator finishing
 * first adds its first connections to the enrollment figure. Everything runs on 127.0.0.1, in a throw-away database and Redis prefix.
 *
 * `--renew`: every agent renews its certificate once connected (§20), and the renewal rate is
 * printed. `--push`: the server sends through its real FCM sender to a fake FCM endpoint served
 * by the first agent process, whose agents register push tokens (§23).
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { cpuMs, databaseCpuMs, flag, freePort, metric, openBenchWorld, shares, sleep, stop } from './harness';

const PUSH_PROJECT = 'cartable-bench';
const round = (ms: number) => Math.round(ms * 100) / 100;

/** A throw-away service account whose token endpoint is the fake FCM's. */
function pushSetup(dir: string, fcmPort: number): Record<string, string> {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const file = join(dir, 'service-account.json');
  writeFileSync(file, JSON.stringify({ client_email: 'bench@cartable-bench.iam.gserviceaccount.com', private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }), token_uri: `http://127.0.0.1:${fcmPort}/token` }));
  return { FCM_PROJECT_ID: PUSH_PROJECT, FCM_SERVICE_ACCOUNT_FILE: file, FCM_API_URL: `http://127.0.0.1:${fcmPort}` };
}

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'agents', 10_000);
  const clientCount = flag(args, 'clients', 2);
  const idleSec = flag(args, 'idle-sec', 20);
  const renew = args.includes('--renew');
  const push = args.includes('--push');
  const dir = mkdtempSync(join(tmpdir(), 'cartable-bench-push-'));
  const fcmPort = await freePort();
  const world = await openBenchWorld('agents', 'api,gateway', { env: push ? pushSetup(dir, fcmPort) : {} });
  const { url, port, opsUrl } = world;
  const serverPid = world.server.proc.pid!;
  const database = new URL(world.databaseUrl).pathname.slice(1);
  /** CPU time per agent (ms) of the server, its PostgreSQL backends and the simulators since `from`. */
  const cpuSince = (from: { server: number; database: number }, phase: Record<string, unknown>[], count: number) => ({
    server_cpu_ms: round((cpuMs(serverPid) - from.server) / count),
    database_cpu_ms: round((databaseCpuMs(database) - from.database) / count),
    simulators_cpu_ms: round(phase.reduce((n, e) => n + Number(e.cpuMs), 0) / count),
  });
  try {
    const beforeEnroll = { server: cpuMs(serverPid), database: databaseCpuMs(database) };
    const clients = world.spawnAgents(total, clientCount, (i) => [...(renew ? ['--renew'] : []), ...(push && i === 0 ? ['--push-port', String(fcmPort), '--push-project', PUSH_PROJECT] : [])]);
    const enrolled = await Promise.all(clients.map((c) => c.next('enrolled', 600_000)));
    const enrolledCount = enrolled.reduce((n, e) => n + Number(e.count), 0);
    const enrollPerS = enrolledCount / (Math.max(...enrolled.map((e) => Number(e.ms))) / 1000);
    const enrollCpu = cpuSince(beforeEnroll, enrolled, enrolledCount);
    console.log(JSON.stringify({ phase: 'enrolled', count: enrolledCount, failed: enrolled.reduce((n, e) => n + Number(e.failed), 0), per_s: Math.round(enrollPerS), ...enrollCpu }));
    const beforeConnect = { server: cpuMs(serverPid), database: databaseCpuMs(database) };
    const connected = await Promise.all(clients.map((c) => c.next('connected', 600_000)));
    const connectedCount = connected.reduce((n, e) => n + Number(e.count), 0);
    console.log(JSON.stringify({ phase: 'connected', count: connectedCount, errors: connected.map((c) => c.errors), ...cpuSince(beforeConnect, connected, connectedCount) }));
    let renewPerS = 0;
    if (renew) {
      const renewed = await Promise.all(clients.map((c) => c.next('renewed', 600_000)));
      renewPerS = renewed.reduce((n, e) => n + Number(e.count), 0) / (Math.max(...renewed.map((e) => Number(e.ms))) / 1000);
      console.log(JSON.stringify({ phase: 'renewed', count: renewed.reduce((n, e) => n + Number(e.count), 0), refused: renewed.reduce((n, e) => n + Number(e.refused), 0), reasons: renewed.map((e) => e.reasons), per_s: Math.round(renewPerS) }));
    }

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
    if (push) {
      const db = new Client({ connectionString: world.databaseUrl });
      await db.connect();
      const { rows } = await db.query<{ n: string }>('select count(*) as n from device_push');
      await db.end();
      console.log(JSON.stringify({ phase: 'push', registrations: Number(rows[0]!.n) }));
    }
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
    console.log(`agents=${held} rss_mb=${rssMb.toFixed(0)} bare_rss_mb=${bareMb.toFixed(0)} ratio=${(rssMb / bareMb).toFixed(2)} loop_p99_ms=${loopP99Ms.toFixed(1)} enroll_per_s=${enrollPerS.toFixed(0)} enroll_cpu_ms=${enrollCpu.server_cpu_ms}/${enrollCpu.database_cpu_ms}/${enrollCpu.simulators_cpu_ms}${renew ? ` renew_per_s=${renewPerS.toFixed(0)}` : ''}${push ? ' push=on' : ''}`);
  } finally {
    await world.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
