/**
 * `npm run bench -- metrics [--sockets 10000] [--scrapes 20]`
 *
 * What one Prometheus scrape of `/metrics` costs a process that holds many sockets, as a gateway
 * holds its tablets' WebSockets: the scrape runs on the event loop, so its time is a pause for
 * every socket. The process opens the given number of TCP connections to itself (both ends are
 * its own, so there are twice as many sockets), then renders Cartable's registry and, in the same
 * run, a bare prom-client registry with every default metric, as a baseline.
 * Last line: `sockets=N cartable_ms=M bare_defaults_ms=B ratio=R` (medians).
 */
import { connect, createServer, type Socket } from 'node:net';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { createMetrics } from '../server/infra/metrics';
import { flag, percentile, sleep } from './harness';

async function medianScrapeMs(registry: Registry, scrapes: number): Promise<number> {
  await registry.metrics();
  const samples: number[] = [];
  for (let i = 0; i < scrapes; i++) {
    const t0 = process.hrtime.bigint();
    await registry.metrics();
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return percentile(samples, 0.5);
}

export async function main(args: string[]): Promise<void> {
  const connections = flag(args, 'sockets', 10_000) / 2;
  const scrapes = flag(args, 'scrapes', 20);
  const server = createServer(() => undefined).listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  const { port } = server.address() as { port: number };
  const sockets: Socket[] = [];
  for (let i = 0; i < connections; i++) {
    sockets.push(connect(port, '127.0.0.1'));
    if (i % 500 === 499) await sleep(10); // the listen backlog
  }
  await sleep(1000);

  const cartable = await medianScrapeMs(createMetrics().registry, scrapes);
  const bare = new Registry();
  collectDefaultMetrics({ register: bare });
  const bareMs = await medianScrapeMs(bare, scrapes);
  for (const s of sockets) s.destroy();
  server.close();
  console.log(`sockets=${connections * 2} cartable_ms=${cartable.toFixed(1)} bare_defaults_ms=${bareMs.toFixed(1)} ratio=${(cartable / bareMs).toFixed(2)}`);
}
