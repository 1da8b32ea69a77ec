import { buildApp } from './app';
import { ConfigError, loadConfig } from './config';
import { runMigrations } from './infra/db/migrate';
import { closeInfra, createInfra } from './infra/infra';
import { startWorkers, type WorkerSet } from './infra/queues/registry';
import { createServices } from './services';
import { jobHandlers } from './jobs';

async function main(): Promise<void> {
  const config = loadConfig();
  const infra = createInfra(config);
  const { log } = infra;
  const roles = [...config.roles].join(',');

  await runMigrations(config.DATABASE_URL);
  const services = createServices(infra);
  await services.startup?.();

  let workers: WorkerSet | undefined;
  if (config.roles.has('worker')) {
    workers = startWorkers(jobHandlers(services, infra), { connection: infra.queueConnection, prefix: config.REDIS_PREFIX, log });
    await infra.queues.ensureSchedules();
  }
  const app = config.roles.has('api') || config.roles.has('gateway') ? await buildApp({ infra, services }) : undefined;
  if (app) await app.listen({ host: config.HOST, port: config.PORT });
  log.info({ roles, node: infra.nodeId }, 'cartable started');

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining sockets and jobs');
    const deadline = setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    await app?.close();
    await workers?.close();
    await services.shutdown?.();
    await closeInfra(infra);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`cartable: ${error.message}\n`);
  else process.stderr.write(`cartable: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
