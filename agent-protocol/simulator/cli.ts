/**
 * Runs N simulated agents against a Cartable server, for demos, tests and benchmarks.
 *
 *   npx tsx agent-protocol/simulator/cli.ts --server http://127.0.0.1:3000 --token <token> --count 100
 *
 * Options: --count N, --server URL, --token T, --concurrency C (parallel enrollments and connects),
 * --state-dir DIR (one state file per agent: reruns reuse identities), --idle (connect and hold,
 * no reports), --transport ws|https, --index-offset K, --local-addresses a,b (source addresses),
 * --duration S (stop after S seconds), --push-port P (serve a fake FCM HTTP v1 endpoint on P that
 * wakes these agents; point the server's FCM sender at it), --push-project ID (its project id,
 * default cartable-test), --renew (each agent renews its certificate once connected, §20). Prints
 * one JSON line per second, and one per milestone.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FakeFcmServer } from './fake-fcm';
import { FakePushService } from './push';
import { SimulatedAgent } from './simulated-agent';
import { FileStateStore, MemoryStateStore } from './state';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1' },
    server: { type: 'string', default: 'http://127.0.0.1:3000' },
    token: { type: 'string' },
    concurrency: { type: 'string', default: '20' },
    'state-dir': { type: 'string' },
    idle: { type: 'boolean', default: false },
    transport: { type: 'string', default: 'ws' },
    'index-offset': { type: 'string', default: '0' },
    'local-addresses': { type: 'string' },
    duration: { type: 'string' },
    'push-port': { type: 'string' },
    'push-project': { type: 'string', default: 'cartable-test' },
    renew: { type: 'boolean', default: false },
  },
});

const count = Number(values.count);
const concurrency = Number(values.concurrency);
const offset = Number(values['index-offset']);
const addresses = values['local-addresses']?.split(',').filter(Boolean) ?? [];
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), ...line })}\n`);

const push = values['push-port'] ? new FakePushService(values['push-project']) : undefined;
const fcm = push && new FakeFcmServer(push);

const agents = Array.from({ length: count }, (_, i) => {
  const index = offset + i;
  return new SimulatedAgent({
    serverUrl: values.server!,
    token: values.token,
    index,
    transport: values.transport === 'https' ? 'https' : 'ws',
    state: values['state-dir'] ? new FileStateStore(join(values['state-dir'], `agent-${index}.json`)) : new MemoryStateStore(),
    localAddress: addresses.length ? addresses[index % addresses.length] : undefined,
    reportOnConnect: !values.idle,
    push,
  });
});

const stats = { enrolled: 0, connected: 0, failed: 0, renewed: 0, renewalsRefused: 0, errors: {} as Record<string, number>, refusals: {} as Record<string, number> };
for (const a of agents) {
  a.on('connected', () => stats.connected++);
  a.on('disconnected', () => stats.connected--);
  a.on('renewed', () => stats.renewed++);
  a.on('renewal-refused', (reason: string) => {
    stats.renewalsRefused++;
    stats.refusals[reason] = (stats.refusals[reason] ?? 0) + 1;
  });
}

/** This process's CPU time (user + system, all threads) since `start`, in ms. */
const cpuMsSince = (start: NodeJS.CpuUsage) => {
  const { user, system } = process.cpuUsage(start);
  return Math.round((user + system) / 1000);
};

async function pool(fn: (agent: SimulatedAgent) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < agents.length) {
      const agent = agents[next++]!;
      try {
        await fn(agent);
      } catch (error) {
        stats.failed++;
        const code = String((error as { code?: unknown }).code ?? (error as Error).message).slice(0, 60);
        stats.errors[code] = (stats.errors[code] ?? 0) + 1;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, agents.length) }, worker));
}

async function main(): Promise<void> {
  const ticker = setInterval(() => emit({ event: 'status', ...stats, executions: agents.reduce((n, a) => n + a.executions.size, 0) }), 1000);
  if (fcm) emit({ event: 'push', fcmBaseUrl: await fcm.listen(Number(values['push-port'])), projectId: push!.projectId });
  const started = Date.now();
  const enrollCpu = process.cpuUsage();
  await pool(async (agent) => {
    await agent.load();
    if (!agent.state.deviceId) await agent.enroll();
    stats.enrolled++;
  });
  emit({ event: 'enrolled', count: stats.enrolled, failed: stats.failed, ms: Date.now() - started, cpuMs: cpuMsSince(enrollCpu) });
  const connectStart = Date.now();
  const connectCpu = process.cpuUsage();
  await pool((agent) => agent.connect());
  emit({ event: 'connected', count: stats.connected, failed: stats.failed, ms: Date.now() - connectStart, cpuMs: cpuMsSince(connectCpu), errors: stats.errors });
  if (values.renew) {
    const renewStart = Date.now();
    await pool((agent) => agent.renewCertificate());
    while (stats.renewed + stats.renewalsRefused < agents.length && Date.now() - renewStart < 300_000) await new Promise((r) => setTimeout(r, 100));
    emit({ event: 'renewed', count: stats.renewed, refused: stats.renewalsRefused, reasons: stats.refusals, ms: Date.now() - renewStart });
  }

  const stop = async () => {
    clearInterval(ticker);
    await Promise.all(agents.map((a) => a.close().catch(() => undefined)));
    await fcm?.close();
    emit({ event: 'stopped', ...stats, pushes: push?.sent.length ?? 0 });
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
}

void main();
