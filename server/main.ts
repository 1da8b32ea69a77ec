import { buildApp } from './app';
import { buildOpsApp, listenOps } from './infra/http/ops-app';
import { ConfigError, loadConfig } from './config';
import { runMigrations } from './infra/db/migrate';
import { awaitRedis, closeInfra, createInfra } from './infra/infra';
import { startWorkers, type WorkerSet } from './infra/queues/registry';
import { createServices } from './services';
import { jobHandlers } from './jobs';
import { startScheduleWatchdog } from './modules/commands/commands.jobs';
import { ensureOrganisation } from './modules/bootstrap/bootstrap.service';

/**
 * Connections the kernel holds for the process until it accepts them. After a gateway restarts,
 * thousands of tablets connect within seconds: with Node's default of 511, the kernel took them
 * for a SYN flood and answered with cookies. The kernel caps it at `net.core.somaxconn`.
 */
const LISTEN_BACKLOG = 8192;

async function main(): Promise<void> {
  const config = loadConfig();
  const infra = createInfra(config);
  const { log } = infra;
  const roles = [...config.roles].join(',');

  // What has started so far: a stop closes exactly that.
  const running: { app?: Awaited<ReturnType<typeof buildApp>>; ops?: Awaited<ReturnType<typeof buildOpsApp>>; workers?: WorkerSet } = {};
  let stopping = false;
  // Each step gets a share of the configured time, so the process exits 0 on time even when
  // sockets or jobs do not finish: stragglers are cut, and jobs are idempotent and resumed.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: draining sockets and jobs');
    const deadline = setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.SHUTDOWN_TIMEOUT_MS);
    deadline.unref();
    const { app, ops, workers } = running;
    await Promise.all([app?.close(), ops?.close(), workers?.close(Math.floor(config.SHUTDOWN_TIMEOUT_MS / 2))]);
    await closeInfra(infra);
    log.info('stopped');
    process.exit(0);
  };
  // Installed before anything listens: a signal that comes while the process starts (an
  // orchestrator scaling down, a probe's first answer) must still stop it cleanly.
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await runMigrations(config.DATABASE_URL);
  await awaitRedis(infra);
  const services = createServices(infra);
  await services.startup();
  const firstAdmin = config.roles.has('api') ? await services.users.ensureBootstrapAdmin((await ensureOrganisation(infra.database.db)).id) : null;

  if (config.roles.has('worker')) {
    running.workers = startWorkers(jobHandlers(services), { connection: infra.queueConnection, prefix: config.REDIS_PREFIX, log });
    await infra.queues.ensureSchedules();
    startScheduleWatchdog(infra.queues, infra.redis, log);
  }
  const app = config.roles.has('api') || config.roles.has('gateway') ? await buildApp({ infra, services }) : undefined;
  running.app = app;
  if (app) await app.listen({ host: config.HOST, port: config.PORT, backlog: LISTEN_BACKLOG });
  const ops = await buildOpsApp(infra, { apiDocument: app && config.roles.has('api') ? () => app.swagger() as unknown as Record<string, unknown> : undefined });
  running.ops = ops;
  const opsUrl = await listenOps(ops, config.OPS_HOST, config.OPS_PORT);
  log.info({ roles, node: infra.nodeId }, 'cartable started');
  if (app) announce(config.CARTABLE_PUBLIC_URL, opsUrl, firstAdmin);
}

/** Written to stdout directly, never to the log: the password must not reach log storage. */
function announce(url: string, opsUrl: string, firstAdmin: { email: string; password: string } | null): void {
  const lines = [`Cartable is running at ${url} (console: ${url}/console); API documentation and metrics on this machine: ${opsUrl}/api/docs, ${opsUrl}/metrics`];
  if (!url.startsWith('https://')) {
    lines.push(`Note: CARTABLE_PUBLIC_URL (${url}) is not HTTPS. Enrollment QR codes carry it, and real tablets refuse cleartext: fine for a trial with simulated tablets, not for real ones.`);
  }
  if (firstAdmin) {
    lines.push(
      'First start: an administrator account was created. Its password is shown only this once:',
      `  email:    ${firstAdmin.email}`,
      `  password: ${firstAdmin.password}`,
      'Sign in to the console with it: you will be asked to choose your own password first.',
      'Lost it? `npx cartable reset-password --email ADDRESS` issues a new one.',
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  if (error instanceof ConfigError) process.stderr.write(`cartable: ${error.message}\n`);
  else process.stderr.write(`cartable: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
