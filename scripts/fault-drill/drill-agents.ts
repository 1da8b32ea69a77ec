/**
 * One client process of the fault drill: N simulated tablets that enroll, connect and hold,
 * counting every command frame at the wire. Prints JSON lines: `connected` once, then `stats`
 * every second until SIGTERM.
 *
 *   tsx scripts/fault-drill/drill-agents.ts --gateways URL[,URL] --token ENROLLMENT_TOKEN --count N --index-offset K [--local-address A] [--hold-ms MS]
 *
 * `--hold-ms`: each tablet waits this long before acknowledging a command, so that a fault
 * striking mid-delivery finds commands sent and not yet acknowledged.
 */
import { parseArgs } from 'node:util';
import { CountingAgent, deliveryReport } from '../../agent-protocol/simulator/counting-agent';
import { percentile } from '../../bench/percentile';

const { values } = parseArgs({
  options: {
    gateways: { type: 'string' },
    token: { type: 'string' },
    count: { type: 'string', default: '100' },
    'index-offset': { type: 'string', default: '0' },
    'local-address': { type: 'string' },
    concurrency: { type: 'string', default: '50' },
    'hold-ms': { type: 'string', default: '0' },
  },
});
const gateways = (values.gateways ?? '').split(',').filter(Boolean);
if (gateways.length === 0 || !values.token) throw new Error('--gateways and --token are required');
const offset = Number(values['index-offset']);
const emit = (line: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(line)}\n`);

const agents = Array.from({ length: Number(values.count) }, (_, i) =>
  Object.assign(new CountingAgent({ serverUrl: gateways[(offset + i) % gateways.length]!, token: values.token, index: offset + i, reportOnConnect: false, localAddress: values['local-address'] }), {
    holdMs: Number(values['hold-ms']),
  }),
);

/** Failures by reason, so that a drill that cannot start says why. */
const failures = new Map<string, number>();

async function inPool(fn: (agent: CountingAgent) => Promise<void>): Promise<number> {
  let next = 0;
  let failed = 0;
  const worker = async () => {
    while (next < agents.length)
      await fn(agents[next++]!).catch((error: unknown) => {
        failed++;
        const reason = error instanceof Error ? error.message : String(error);
        failures.set(reason, (failures.get(reason) ?? 0) + 1);
      });
  };
  await Promise.all(Array.from({ length: Number(values.concurrency) }, worker));
  return failed;
}

async function main(): Promise<void> {
  const enrollFailed = await inPool((a) => a.enroll().then(() => undefined));
  const connectFailed = await inPool((a) => a.connect());
  emit({ event: 'connected', count: agents.filter((a) => a.connected).length, failed: enrollFailed + connectFailed, reasons: Object.fromEntries(failures) });
  // Why tablets lost or could not get their connection from now on, and how they came back.
  const disconnects = new Map<string, number>();
  const transports = new Map<string, number>();
  // How long the WebSocket reconnections waited, from the attempt to the challenge and from the hello to the welcome.
  const handshakes: { challengeMs: number; welcomeMs: number }[] = [];
  for (const a of agents) {
    a.on('disconnected', (code: number, reason: string) => disconnects.set(`${code} ${reason}`.trim(), (disconnects.get(`${code} ${reason}`.trim()) ?? 0) + 1));
    a.on('connected', (transport: string) => transports.set(transport, (transports.get(transport) ?? 0) + 1));
    a.on('handshake', (timing: { challengeMs: number; welcomeMs: number }) => handshakes.push(timing));
  }
  const waits = (key: 'challengeMs' | 'welcomeMs') => {
    const samples = handshakes.map((h) => h[key]);
    return samples.length === 0 ? { p50: 0, p90: 0, max: 0 } : { p50: percentile(samples, 0.5), p90: percentile(samples, 0.9), max: percentile(samples, 1) };
  };
  const timer = setInterval(
    () => emit({ event: 'stats', connected: agents.filter((a) => a.connected).length, ...deliveryReport(agents), disconnects: Object.fromEntries(disconnects), reconnections: Object.fromEntries(transports), reconnectionWaitsMs: { count: handshakes.length, challenge: waits('challengeMs'), welcome: waits('welcomeMs') } }),
    1000,
  );
  process.on('SIGTERM', () => {
    clearInterval(timer);
    void Promise.all(agents.map((a) => a.close())).then(() => process.exit(0));
  });
}

void main();
