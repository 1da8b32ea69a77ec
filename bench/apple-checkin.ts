/**
 * `npm run bench -- apple-checkin [--devices 100] [--requests 5000] [--concurrency 20]`
 *
 * One Cartable server process (api and gateway roles). `--devices` simulated iPads get an
 * identity certificate from the CA (as SCEP would issue it) and send Authenticate and
 * TokenUpdate. Then `--requests` `Idle` reports go to the command endpoint, `--concurrency` at a
 * time, each carrying its `Mdm-Signature`: the server checks the signature and the certificate,
 * finds the device and looks up its next command in PostgreSQL (there is none: an empty 200).
 * An iPad signs every request; here each one's Idle body is signed once and sent again, so that
 * the load generator's RSA signatures do not take the server's CPU on this one machine. The
 * same requests to a bare Fastify route that only parses the plist (bench/apple-bare.ts) give
 * the baseline. Last line: `checkins_per_s=X p99_ms=Y bare_per_s=Z ratio=X/Z`.
 */
import { createPublicKey } from 'node:crypto';
import plist from 'plist';
import { deviceCertificates, devices } from '../server/infra/db/schema';
import { AppleDevice, newDeviceKey, type Transport } from '../test/helpers/apple-device';
import { flag, openBenchWorld } from './harness';

const TOPIC = 'com.apple.mgmt.External.bench';

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}

interface SignedIdle {
  body: Buffer;
  headers: Record<string, string>;
}

/** Sends `total` Idle reports, `concurrency` at a time, round-robin over the iPads. */
async function run(base: string, idles: SignedIdle[], total: number, concurrency: number): Promise<{ perSecond: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        const idle = idles[next++ % idles.length]!;
        const t = performance.now();
        const r = await fetch(`${base}/apple/mdm`, { method: 'PUT', body: idle.body, headers: idle.headers });
        await r.arrayBuffer();
        if (r.status !== 200) throw new Error(`Idle answered ${r.status}`);
        latencies.push(performance.now() - t);
      }
    }),
  );
  return { perSecond: (total / (performance.now() - t0)) * 1000, latencies };
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
      const body = Buffer.from(plist.build({ UDID: device.udid, Status: 'Idle' }));
      idles.push({ body, headers: device.headers(body, 'application/x-apple-aspen-mdm') });
    }
    console.log(JSON.stringify({ event: 'enrolled', devices: idles.length }));
    await run(world.url, idles, Math.min(500, total), concurrency);
    const measured = await run(world.url, idles, total, concurrency);

    const bare = world.spawn('bench/apple-bare.ts', [], { PORT: '0' });
    const { address } = (await bare.next('listening', 30_000)) as { address: string };
    await run(address, idles, Math.min(500, total), concurrency);
    const baseline = await run(address, idles, total, concurrency);

    const x = measured.perSecond;
    const z = baseline.perSecond;
    console.log(JSON.stringify({ event: 'result', requests: total, concurrency, devices: count, p50_ms: percentile(measured.latencies, 0.5), bare_p99_ms: percentile(baseline.latencies, 0.99) }));
    console.log(`checkins_per_s=${x.toFixed(1)} p99_ms=${percentile(measured.latencies, 0.99).toFixed(1)} bare_per_s=${z.toFixed(1)} ratio=${(x / z).toFixed(3)}`);
  } finally {
    await world.close();
  }
}
