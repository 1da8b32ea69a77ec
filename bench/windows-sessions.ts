/**
 * `npm run bench -- windows-sessions [--devices 50] [--sessions 2000] [--concurrency 20]`
 *
 * One Cartable server process (api and gateway roles). `--devices` simulated Windows tablets
 * enroll with the school's code and a PIN each, and run their first session (digest challenge,
 * inventory). Then `--sessions` polling sessions run, `--concurrency` at a time, a tablet never
 * in two at once: each is one message (Alert 1201, DevInfo, the MD5 digest with the nonce of the
 * previous session) answered with the statuses and nothing queued, so the session ends. The
 * same sessions against a bare Fastify server that only parses and answers (bench/windows-bare.ts)
 * give the baseline. The `result` line adds the CPU per session of the server, of its PostgreSQL
 * backends and of this load generator, and the transactions per session: on a machine shared with
 * other work, those compare between runs where the rates do not.
 * Last line: `sessions_per_s=X p99_ms=Y bare_per_s=Z ratio=X/Z`.
 */
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { WindowsDevice, type Transport } from '../test/helpers/windows-device';
import { cpuMs, databaseCpuMs, flag, openBenchWorld, type BenchWorld } from './harness';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

/**
 * node:http over kept-alive connections: the load generator shares the two cores with the server,
 * and `fetch` costs it about twice as much CPU per request.
 */
const transportTo = (base: string): Transport => {
  const agent = new Agent({ keepAlive: true });
  return (method, url, body, headers) =>
    new Promise((resolve, reject) => {
      const out = request(`${base}${url}`, { method, headers: body === undefined ? headers : { ...headers, 'content-length': String(Buffer.byteLength(body)) }, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), headers: res.headers as Record<string, string> }));
        res.on('error', reject);
      });
      out.on('error', reject);
      out.end(body);
    });
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

interface Measured {
  perSecond: number;
  latencies: number[];
  /** CPU per session of the server process, of this load generator and of the server's PostgreSQL backends (ms). */
  serverCpuMs: number;
  clientCpuMs: number;
  databaseCpuMs: number;
  /** Transactions committed per session in the bench's database: with autocommit, one per statement. */
  transactions: number;
}

async function transactionCount(db: Client | null): Promise<number> {
  if (!db) return 0;
  // The statistics of the current transaction are a snapshot: a fresh one is read each time.
  await db.query('select pg_stat_clear_snapshot()');
  const { rows } = await db.query<{ n: string }>('select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()');
  return Number(rows[0]!.n);
}

/** Runs `total` sessions, `concurrency` at a time, each worker with its own tablets. */
async function sessions(devices: WindowsDevice[], total: number, concurrency: number, serverPid: number, db: Client | null): Promise<Measured> {
  const latencies: number[] = [];
  let started = 0;
  const database = db?.database;
  const database0 = database ? databaseCpuMs(database) : 0;
  const transactions0 = await transactionCount(db);
  const server0 = cpuMs(serverPid);
  const client0 = process.cpuUsage();
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
  const perSecond = (total / (performance.now() - t0)) * 1000;
  const client = process.cpuUsage(client0);
  const serverCpu = cpuMs(serverPid) - server0;
  const databaseCpu = database ? databaseCpuMs(database) - database0 : 0;
  // Statistics reach pg_stat_database when a backend goes idle, at most a second later.
  await new Promise((r) => setTimeout(r, db ? 1200 : 0));
  const transactions = (await transactionCount(db)) - transactions0;
  return { perSecond, latencies, serverCpuMs: serverCpu / total, clientCpuMs: (client.user + client.system) / 1000 / total, databaseCpuMs: databaseCpu / total, transactions: transactions / total };
}

export async function main(args: string[]): Promise<void> {
  const count = flag(args, 'devices', 50);
  const total = flag(args, 'sessions', 2000);
  const concurrency = Math.min(flag(args, 'concurrency', 20), count);
  const world = await openBenchWorld('windows', 'api,gateway', { technicianToken: true });
  try {
    const devices = await enrollAll(world, count);
    console.log(JSON.stringify({ event: 'enrolled', devices: devices.length }));
    const serverPid = world.server.proc.pid!;
    const db = new Client({ connectionString: world.databaseUrl });
    await db.connect();
    await sessions(devices, Math.min(200, total), concurrency, serverPid, db);
    const measured = await sessions(devices, total, concurrency, serverPid, db).finally(() => db.end());

    const bare = world.spawn('bench/windows-bare.ts', [], { PORT: '0' });
    const { address } = (await bare.next('listening', 30_000)) as { address: string };
    // The same tablets, their management address pointed at the bare server.
    const bareDevices = devices.map((d) => {
      const copy = Object.assign(Object.create(Object.getPrototypeOf(d) as object) as WindowsDevice, d);
      Object.assign(copy, { transport: transportTo(address), sessionId: d.sessionId });
      return copy;
    });
    await sessions(bareDevices, Math.min(200, total), concurrency, bare.proc.pid!, null);
    const baseline = await sessions(bareDevices, total, concurrency, bare.proc.pid!, null);

    const x = measured.perSecond;
    const z = baseline.perSecond;
    const round = (n: number) => Math.round(n * 100) / 100;
    console.log(
      JSON.stringify({
        event: 'result',
        sessions: total,
        concurrency,
        devices: count,
        p50_ms: round(percentile(measured.latencies, 0.5)),
        bare_p99_ms: round(percentile(baseline.latencies, 0.99)),
        server_cpu_ms_per_session: round(measured.serverCpuMs),
        client_cpu_ms_per_session: round(measured.clientCpuMs),
        database_cpu_ms_per_session: round(measured.databaseCpuMs),
        database_transactions_per_session: round(measured.transactions),
        bare_server_cpu_ms_per_session: round(baseline.serverCpuMs),
        bare_client_cpu_ms_per_session: round(baseline.clientCpuMs),
        load_average: loadavg().map(round),
      }),
    );
    console.log(`sessions_per_s=${x.toFixed(1)} p99_ms=${percentile(measured.latencies, 0.99).toFixed(1)} bare_per_s=${z.toFixed(1)} ratio=${(x / z).toFixed(3)}`);
  } finally {
    await world.close();
  }
}
