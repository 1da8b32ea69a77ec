import { ConfigError, loadConfig } from '../config';
import { runMigrations } from '../infra/db/migrate';
import { createDatabase } from '../infra/db/client';
import { seedDemo } from '../modules/demo/demo.service';
import { formatCheck, runDoctor } from './doctor';

const USAGE = `Usage: cartable <command> [options]

Commands:
  migrate                          apply database migrations (also done at server start)
  create-admin --email ADDRESS     create an administrator and print a generated password once
               [--name NAME] [--password-stdin]
  reset-password --email ADDRESS   set a new generated password for an account and print it once
               [--password-stdin]
  seed-demo                        load the Admirville demonstration data (idempotent)
  doctor                           check configuration, PostgreSQL, Redis, CA, disk
  audit verify                     walk the audit trail's hash chain and report the first broken link

Configuration comes from environment variables (see README).`;

type Handler = (args: string[]) => Promise<number>;

async function withDb<T>(fn: (db: ReturnType<typeof createDatabase>) => Promise<T>): Promise<T> {
  const database = createDatabase(loadConfig().DATABASE_URL, 2);
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

const commands: Record<string, Handler> = {
  async migrate() {
    await runMigrations(loadConfig().DATABASE_URL);
    console.log('migrations applied');
    return 0;
  },
  async 'seed-demo'() {
    await runMigrations(loadConfig().DATABASE_URL);
    const s = await withDb(({ db }) => seedDemo(db));
    console.log(`demo loaded: ${s.communes} communes, ${s.schools} schools (${s.pilotSchools} pilot schools in Alpha), ${s.directorsCreated} new director accounts`);
    return 0;
  },
  async doctor() {
    const checks = await runDoctor();
    for (const c of checks) console.log(formatCheck(c));
    const failed = checks.filter((c) => !c.ok).length;
    console.log(failed ? `${failed} problem(s) found` : 'everything looks right');
    return failed ? 1 : 0;
  },
};

export async function runCli(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE);
    return name ? 0 : 2;
  }
  const handler = commands[name];
  if (!handler) {
    console.error(`cartable: unknown command "${name}"\n\n${USAGE}`);
    return 2;
  }
  return handler(rest);
}

if (require.main === module || process.argv[1]?.endsWith('cartable.js')) {
  runCli(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error: unknown) => {
      console.error(`cartable: ${error instanceof ConfigError ? error.message : error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
