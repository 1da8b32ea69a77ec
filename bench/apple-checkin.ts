/**
 * `npm run bench -- apple-checkin [--devices 100] [--requests 5000] [--concurrency 20]`
 *
 * One Cartable server process (api and gateway roles). `--devices` simulated iPads get an
 * identity certificate from the CA (as SCEP would issue it) and send Authenticate and
 * TokenUpdate, then answers the commands its enrollment queued (DeviceInformation,
 * InstalledApplicationList) as an iPad does. Then `--requests` `Idle` reports go to the command
 * endpoint, `--concurrency` at a time, each carrying its `Mdm-Signature`: the server checks the
 * signature and the certificate, finds the device and looks up its next command in PostgreSQL
 * (there is none: an empty 200, checked). An iPad signs every request; here each one's Idle body
 * is signed once and sent again, so that the load generator's RSA signatures do not take the
 * server's CPU on this one machine: the server still digests the body and verifies the signature
 * at every request, and keeps nothing from one signature to the next. The same requests to a bare
 * Fastify route that only parses the plist (bench/apple-bare.ts) give the baseline.
 * The `result` line gives the CPU time (user + system, all threads) each process spent per
 * request during the measure: on two shared cores it says more than a rate, which other
 * workloads move. Last line: `checkins_per_s=X p99_ms=Y bare_per_s=Z ratio=X/Z`.
 */
import { createPublicKey } from 'node:crypto';
import { Agent, request } from 'node:http';
import plist from 'plist';
import { deviceCertificates, devices } from '../server/infra/db/schema';
import { AppleDevice, newDeviceKey, type Transport } from '../test/helpers/apple-device';
import { cpuMs, databaseCpuMs, flag, openBenchWorld, percentile } from './harness';

const TOPIC = 'com.apple.mgmt.External.bench';

interface SignedIdle {
  body: Buffer;
  headers: Record<string, string | number>;
}

/**
 * One Idle report over a kept-alive connection, with node:http rather than fetch: fetch took
 * about 0.6 ms of CPU per request, a third of what the server needed, on the same two cores.
 */
function put(agent: Agent, base: URL, idle: SignedIdle): Promise<{ status: number; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request({ agent, host: base.hostname, port: base.port, path: '/apple/mdm', method: 'PUT', headers: idle.headers }, (res) => {
      let bytes = 0;
      res.on('data', (chunk: Buffer) => (bytes += chunk.length));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(idle.body);
  });
}

interface Measure {
  perSecond: number;
  latencies: number[];
  /** CPU ms per request: of the server measured, of its PostgreSQL backends, and of this load generator. */
  serverCpu: number;
  databaseCpu: number;
  clientCpu: number;
}

/** Sends `total` Idle reports, `concurrency` at a time, round-robin over the iPads. */
async function run(base: string, serverPid: number, database: string, idles: SignedIdle[], total: number, concurrency: number): Promise<Measure> {
  const latencies: number[] = [];
  let next = 0;
  const server0 = cpuMs(serverPid);
  const database0 = databaseCpuMs(database);
  const client0 = process.cpuUsage();
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const url = new URL(base);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const idle = idles[next++ % idles.length]!;
        const t = performance.now();
        const answer = await put(agent, url, idle);
        if (answer.status !== 200 || answer.bytes > 0) throw new Error(`Idle answered ${answer.status} with ${answer.bytes} bytes`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  agent.destroy();
  const perSecond = (total / (performance.now() - t0)) * 1000;
  const client = process.cpuUsage(client0);
  return { perSecond, latencies, serverCpu: (cpuMs(serverPid) - server0) / total, databaseCpu: (databaseCpuMs(database) - database0) / total, clientCpu: (client.user + client.system) / 1000 / total };
}

export async function main(args: string[]): Promise<void> {
  const count = flag(args, 'devices', 100);
  const total = flag(args, 'requests', 5000);
  const concurrency = flag(args, 'concurrency', 20);
  const issued: { certPem: string; key: Awaited<ReturnType<typeof newDeviceKey>> }[] = [];
  const world = await openBenchWorld('apple', 'api,gateway', {
    env: { APPLE_MDM_TOPIC: TOPIC },
    // What the SCEP responder leaves behind for each iPad: its device row and identity certificate.
    async seed({ services, infra, organisationId, schoolId }) {
      await services.pki.load();
      const db = infra.database.db;
      for (let i = 0; i < count; i++) {
        const [row] = await db.insert(devices).values({ organisationId, schoolId, platform: 'ios', name: `iPad ${i}` }).returning();
        const key = await newDeviceKey();
        const cert = await services.pki.issueDeviceCertificate(createPublicKey(key).export({ type: 'spki', format: 'der' }), row!.id);
        await db.insert(deviceCertificates).values({ deviceId: row!.id, serialHex: cert.serialHex, fingerprintSha256: cert.fingerprintSha256, notBefore: cert.notBefore, notAfter: cert.notAfter });
        issued.push({ certPem: cert.certPem, key });
      }
    },
  });
  try {
    const transport: Transport = async (method, path, body, headers) => {
      const r = await fetch(`${world.url}${path}`, { method, body, headers });
      return { status: r.status, body: await r.text() };
    };
    const idles: SignedIdle[] = [];
    for (const { certPem, key } of issued) {
      const device = new AppleDevice(transport, certPem, key, TOPIC);
      for (const answer of [await device.authenticate(), await device.tokenUpdate()]) {
        if (answer.status !== 200) throw new Error(`check-in answered ${answer.status}: ${answer.body.slice(0, 200)}`);
      }
      // The inventory and app list its enrollment asked for: answered, the queue is empty.
      if ((await device.connect()).some((status) => status !== 200)) throw new Error('the first commands were not taken');
      const body = Buffer.from(plist.build({ UDID: device.udid, Status: 'Idle' }));
      idles.push({ body, headers: { ...device.headers(body, 'application/x-apple-aspen-mdm'), 'content-length': body.length } });
    }
    console.log(JSON.stringify({ event: 'enrolled', devices: idles.length }));
    const serverPid = world.server.proc.pid!;
    const database = new URL(world.databaseUrl).pathname.slice(1);
    await run(world.url, serverPid, database, idles, Math.min(500, total), concurrency);
    const measured = await run(world.url, serverPid, database, idles, total, concurrency);

    const bare = world.spawn('bench/apple-bare.ts', [], { PORT: '0' });
    const { address } = (await bare.next('listening', 30_000)) as { address: string };
    await run(address, bare.proc.pid!, database, idles, Math.min(500, total), concurrency);
    const baseline = await run(address, bare.proc.pid!, database, idles, total, concurrency);

    const x = measured.perSecond;
    const z = baseline.perSecond;
    const ms = (v: number) => Number(v.toFixed(3));
    console.log(
      JSON.stringify({
        event: 'result',
        requests: total,
        concurrency,
        devices: count,
        p50_ms: ms(percentile(measured.latencies, 0.5)),
        bare_p99_ms: ms(percentile(baseline.latencies, 0.99)),
        server_cpu_ms_per_checkin: ms(measured.serverCpu),
        database_cpu_ms_per_checkin: ms(measured.databaseCpu),
        bare_cpu_ms_per_request: ms(baseline.serverCpu),
        client_cpu_ms_per_request: ms(measured.clientCpu),
        bare_client_cpu_ms_per_request: ms(baseline.clientCpu),
      }),
    );
    console.log(`checkins_per_s=${x.toFixed(1)} p99_ms=${percentile(measured.latencies, 0.99).toFixed(1)} bare_per_s=${z.toFixed(1)} ratio=${(x / z).toFixed(3)}`);
  } finally {
    await world.close();
  }
}
