/**
 * `npm run bench -- gateway-restart [--agents 10000] [--clients 2] [--fault-at 0.5]`
 *
 * The fault drill (scripts/fault-drill) against a deployment of this machine: one node with the
 * api and worker roles, two gateway nodes of the built server (`npm run build`, as `npm start`
 * runs it), each with its own public address (as behind a load balancer that keeps a tablet on
 * its node); the simulated tablets enroll and connect through the gateways in turn, in processes
 * of a lower priority (nice 10) than the server's, since real tablets would not share its cores.
 * One bulk `lock` goes to every tablet; each tablet holds a command 3 s before acknowledging it,
 * so when the given share of the frames is on the wire and the first gateway is killed with
 * SIGKILL, it dies with commands sent and not acknowledged. It is started again a second later,
 * and its tablets reconnect to it. The event loop's p99 of both gateways is read from their
 * /metrics every second from the fault until every lock is final (prom-client resets it at each
 * reading, so each covers the second before it; its 20 ms sampling resolution makes it err on
 * the high side). Sampling ends once every lock is final: the 10,000 sockets closed at the end of
 * the run are not part of the recovery.
 * Last line: `devices=N not_succeeded=L executed_twice=T delivered_after_done=D final_after_recovery_s=S loop_p99_ms=P`.
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { drillLine, drillPassed, runDrill } from '../scripts/fault-drill/drill-run';
import { type BenchWorld, type Child, flag, freePort, metric, openBenchWorld, stop, waitReady } from './harness';

const ROOT = join(__dirname, '..');

interface Gateway {
  url: string;
  opsUrl: string;
  child: Child;
}

const BUILT_SERVER = 'dist/server/main.js';

/** The gateways run the built server, as `npm start` does: a restart takes what it takes in production. */
function assertBuildCurrent(): void {
  const built = statSync(join(ROOT, BUILT_SERVER), { throwIfNoEntry: false })?.mtimeMs ?? 0;
  const newer = readdirSync(join(ROOT, 'server'), { recursive: true, encoding: 'utf8' }).find((f) => f.endsWith('.ts') && statSync(join(ROOT, 'server', f)).mtimeMs > built);
  if (newer) throw new Error(`${BUILT_SERVER} is older than server/${newer}: run npm run build first`);
}

async function startGateway(world: BenchWorld, port: number, opsPort: number): Promise<Gateway> {
  const url = `http://127.0.0.1:${port}`;
  const child = world.spawn(BUILT_SERVER, [], { ...world.env, PORT: String(port), OPS_PORT: String(opsPort), CARTABLE_ROLES: 'gateway', CARTABLE_PUBLIC_URL: url });
  await waitReady(url, 60_000);
  console.log(JSON.stringify({ phase: 'gateway started', url, pid: child.proc.pid }));
  return { url, opsUrl: `http://127.0.0.1:${opsPort}`, child };
}

export async function main(args: string[]): Promise<void> {
  const agents = flag(args, 'agents', 10_000);
  const clients = flag(args, 'clients', 2);
  const faultAt = flag(args, 'fault-at', 0.5);
  assertBuildCurrent();
  // A heartbeat short enough for the surviving sockets to be told apart from the dead ones soon.
  const world = await openBenchWorld('gwrestart', 'api,worker', { adminToken: true, env: { AGENT_HEARTBEAT_SEC: '10' } });
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const gateways = [await startGateway(world, ports[0]!, ports[1]!), await startGateway(world, ports[2]!, ports[3]!)];
  let sampling = false;
  const samples: number[][] = [[], []];
  const sampler = setInterval(() => {
    if (!sampling) return;
    gateways.forEach((g, i) => {
      void metric(g.opsUrl, 'nodejs_eventloop_lag_p99_seconds')
        .then((p99) => {
          if (!sampling || !Number.isFinite(p99)) return;
          samples[i]!.push(Math.round(p99 * 1000));
        })
        .catch(() => undefined); // the killed gateway, until it is back
    });
  }, 1000);
  try {
    const result = await runDrill({
      server: world.url,
      apiToken: world.bearer!,
      school: world.schoolId,
      gateways: gateways.map((g) => g.url),
      agents,
      clients,
      kind: 'lock',
      faultAt,
      // Commands are still unacknowledged on both gateways when the first one dies.
      holdMs: 3000,
      // The simulated tablets would be elsewhere: they run at a lower priority than the server's processes.
      clientPriority: 10,
      recoverAfterSec: 1,
      deadlineSec: 120,
      fault: async () => {
        gateways[0]!.child.proc.kill('SIGKILL');
        await stop(gateways[0]!.child);
        // Readings before the fault do not count; the survivor's from now on do.
        for (const g of gateways.slice(1)) await metric(g.opsUrl, 'nodejs_eventloop_lag_p99_seconds').catch(() => undefined);
        sampling = true;
      },
      recover: async () => {
        const t0 = Date.now();
        gateways[0] = await startGateway(world, ports[0]!, ports[1]!);
        console.log(JSON.stringify({ phase: 'gateway ready', startS: (Date.now() - t0) / 1000 }));
        await metric(gateways[0].opsUrl, 'nodejs_eventloop_lag_p99_seconds'); // its start-up is not the reconnection
      },
      settled: () => (sampling = false),
      log: (line) => console.log(JSON.stringify(line)),
    });
    console.log(JSON.stringify({ phase: 'event loop p99 (ms), a reading a second', restarted: samples[0], survivor: samples[1] }));
    console.log(`${drillLine(result)} loop_p99_ms=${Math.max(0, ...samples.flat())}`);
    if (!drillPassed(result)) process.exitCode = 1;
  } finally {
    clearInterval(sampler);
    await world.close();
  }
}
