/**
 * `npm run bench -- windows-sessions [--devices 50] [--sessions 2000] [--concurrency 40]`
 *
 * One Cartable server process (api and gateway roles). `--devices` simulated Windows tablets
 * enroll with the school's code and a PIN each, and run their first session (digest challenge,
 * inventory). Then `--sessions` sessions run, in rounds: before each round one `reboot` is queued
 * for every tablet (one INSERT, as a bulk command stores them), then each tablet runs one session,
 * `--concurrency` at a time: its opening message (Alert 1201, DevInfo, the MD5 digest with the
 * nonce of the previous session) is answered with the statuses and the queued `Exec`, the tablet
 * answers its `Status`, and the server, with nothing more queued, ends the session. Every command
 * is checked `succeeded` at the end. The same sessions against a bare Fastify server that only
 * parses and answers (bench/windows-bare.ts; one message, nothing queued) give the baseline. The `result` line adds the CPU per session of the server, of its PostgreSQL
 * backends and of this load generator, and the transactions per session: on a machine shared with
 * other work, those compare between runs where the rates do not.
 * Last line: `sessions_per_s=X p99_ms=Y bare_per_s=Z ratio=X/Z`.
 */
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { Client } from 'pg';
import { WindowsDevice, type Transport } from '../test/helpers/windows-device';
import { type BenchWorld, cpuMs, databaseCpuMs, flag, openBenchWorld, percentile } from './harness';

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

/** One `reboot` for every active Windows tablet: what a technician's bulk command stores. */
async function queueOneEach(db: Client): Promise<void> {
  await db.query(`
    insert into commands (organisation_id, device_id, kind, params, origin, expires_at)
    select organisation_id, id, 'reboot', '{}'::jsonb, 'technician', now() + interval '1 hour' from devices where platform = 'windows' and status = 'active'`);
}

/**
 * Runs `total` sessions in rounds of one session per tablet, `concurrency` at a time, a tablet
 * never in two at once. With `queue` (the server's database), one command is queued for each
 * tablet before each round, and each session must carry it out.
 */
async function sessions(devices: WindowsDevice[], total: number, concurrency: number, serverPid: number, db: Client | null, queue: Client | null): Promise<Measured> {
  const latencies: number[] = [];
  let started = 0;
  const database = db?.database;
  const database0 = database ? databaseCpuMs(database) : 0;
  const transactions0 = await transactionCount(db);
  const server0 = cpuMs(serverPid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  while (started < total) {
    const round = devices.slice(0, Math.min(devices.length, total - started));
    started += round.length;
    if (queue) await queueOneEach(queue);
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(concurrency, round.length) }, async () => {
        while (next < round.length) {
          const device = round[next++]!;
          const t = performance.now();
          const log = await device.session();
          if (log.headerCodes.at(-1) !== 212 && log.headerCodes.at(-1) !== 200) throw new Error(`session answered ${log.headerCodes.join(',')}`);
          if (queue && (log.executed.length !== 1 || log.executed[0]!.verb !== 'Exec')) throw new Error(`a session carried out ${JSON.stringify(log.executed.map((e) => e.verb))}, not the one queued reboot`);
          latencies.push(performance.now() - t);
        }
      }),
    );
  }
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
  // Tablets that start sessions at a given rate keep rate × duration of them open (500 per second
  // at 50–80 ms each: 25–40). A closed loop of N tablets cannot go above N per session time: with
  // 20 it stopped at 20 / 37 ms with a quarter of the two cores idle.
  const concurrency = Math.min(flag(args, 'concurrency', 40), count);
  const world = await openBenchWorld('windows', 'api,gateway', { technicianToken: true });
  try {
    const devices = await enrollAll(world, count);
    console.log(JSON.stringify({ event: 'enrolled', devices: devices.length }));
    const serverPid = world.server.proc.pid!;
    const db = new Client({ connectionString: world.databaseUrl });
    await db.connect();
    const queue = new Client({ connectionString: world.databaseUrl });
    await queue.connect();
    await sessions(devices, Math.min(200, total), concurrency, serverPid, db, queue);
    const measured = await sessions(devices, total, concurrency, serverPid, db, queue);
    const { rows } = await queue.query<{ status: string; n: number }>("select status, count(*)::int as n from commands where kind = 'reboot' group by status");
    await Promise.all([db.end(), queue.end()]);
    const counts = Object.fromEntries(rows.map((r) => [r.status, r.n]));
    if (Object.keys(counts).some((k) => k !== 'succeeded')) throw new Error(`every reboot should have succeeded: ${JSON.stringify(counts)}`);
    console.log(JSON.stringify({ event: 'commands', succeeded: counts.succeeded ?? 0 }));

    const bare = world.spawn('bench/windows-bare.ts', [], { PORT: '0' });
    const { address } = (await bare.next('listening', 30_000)) as { address: string };
    // The same tablets, their management address pointed at the bare server.
    const bareDevices = devices.map((d) => {
      const copy = Object.assign(Object.create(Object.getPrototypeOf(d) as object) as WindowsDevice, d);
      Object.assign(copy, { transport: transportTo(address), sessionId: d.sessionId });
      return copy;
    });
    await sessions(bareDevices, Math.min(200, total), concurrency, bare.proc.pid!, null, null);
    const baseline = await sessions(bareDevices, total, concurrency, bare.proc.pid!, null, null);

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
