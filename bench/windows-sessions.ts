/**
 * `npm run bench -- windows-sessions [--devices 50] [--sessions 2000] [--concurrency 20]`
 *
 * One Cartable server process (api and gateway roles). `--devices` simulated Windows tablets
 * enroll with the school's code and a PIN each, and run their first session (digest challenge,
 * inventory). Then `--sessions` polling sessions run, `--concurrency` at a time, a tablet never
 * in two at once: each is one message (Alert 1201, DevInfo, the MD5 digest with the nonce of the
 * previous session) answered with the statuses and nothing queued, so the session ends. The
 * same sessions against a bare Fastify server that only parses and answers (bench/windows-bare.ts)
 * give the baseline. Last line: `sessions_per_s=X p99_ms=Y bare_per_s=Z ratio=X/Z`.
 */
import { WindowsDevice, type Transport } from '../test/helpers/windows-device';
import { flag, openBenchWorld, type BenchWorld } from './harness';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

const transportTo = (base: string): Transport => async (method, url, body, headers) => {
  const r = await fetch(`${base}${url}`, { method, body, headers });
  return { status: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) };
};

async function enrollAll(world: BenchWorld, count: number): Promise<WindowsDevice[]> {
  const api = (method: string, path: string) => fetch(`${world.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${world.bearer!}` } }).then((r) => r.json() as Promise<Record<string, unknown>>);
  const { items } = (await api('GET', '/enrollment-tokens')) as { items: Array<{ id: string }> };
  const transport = transportTo(world.url);
  const devices: WindowsDevice[] = [];
  for (let i = 0; i < count; i++) {
    const { userName, pin } = (await api('POST', `/enrollment-tokens/${items[0]!.id}/windows-pin`)) as { userName: string; pin: string };
    const device = new WindowsDevice(transport, world.url);
    device.nodes = { './DevDetail/SwV': '10.0.22631.2428' };
    const answer = await device.enroll(userName, pin);
    if (answer.status !== 200) throw new Error(`enrollment ${i} answered ${answer.status}: ${answer.body.slice(0, 300)}`);
    await device.session();
    devices.push(device);
  }
  return devices;
}

/** Runs `total` sessions, `concurrency` at a time, each worker with its own tablets. */
async function sessions(devices: WindowsDevice[], total: number, concurrency: number): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let started = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async (_, worker) => {
      const own = devices.filter((_d, i) => i % concurrency === worker);
      for (let k = 0; started < total; k++) {
        started++;
        const device = own[k % own.length]!;
        const t = performance.now();
        const log = await device.session();
        if (log.headerCodes.at(-1) !== 212 && log.headerCodes.at(-1) !== 200) throw new Error(`session answered ${log.headerCodes.join(',')}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { perSecond: (total / (performance.now() - t0)) * 1000, latencies };
}

export async function main(args: string[]): Promise<void> {
  const count = flag(args, 'devices', 50);
  const total = flag(args, 'sessions', 2000);
  const concurrency = Math.min(flag(args, 'concurrency', 20), count);
  const world = await openBenchWorld('windows', 'api,gateway', { technicianToken: true });
  try {
    const devices = await enrollAll(world, count);
    console.log(JSON.stringify({ event: 'enrolled', devices: devices.length }));
    await sessions(devices, Math.min(200, total), concurrency);
    const measured = await sessions(devices, total, concurrency);

    const bare = world.spawn('bench/windows-bare.ts', [], { PORT: '0' });
    const { address } = (await bare.next('listening', 30_000)) as { address: string };
    // The same tablets, their management address pointed at the bare server.
    const bareDevices = devices.map((d) => {
      const copy = Object.assign(Object.create(Object.getPrototypeOf(d) as object) as WindowsDevice, d);
      Object.assign(copy, { transport: transportTo(address), sessionId: d.sessionId });
      return copy;
    });
    await sessions(bareDevices, Math.min(200, total), concurrency);
    const baseline = await sessions(bareDevices, total, concurrency);

    const x = measured.perSecond;
    const z = baseline.perSecond;
    console.log(JSON.stringify({ event: 'result', sessions: total, concurrency, devices: count, p50_ms: percentile(measured.latencies, 0.5), bare_p99_ms: percentile(baseline.latencies, 0.99) }));
    console.log(`sessions_per_s=${x.toFixed(1)} p99_ms=${percentile(measured.latencies, 0.99).toFixed(1)} bare_per_s=${z.toFixed(1)} ratio=${(x / z).toFixed(3)}`);
  } finally {
    await world.close();
  }
}
