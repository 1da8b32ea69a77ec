import { loadConfig } from '../config';
import { runMigrations } from '../infra/db/migrate';
import { createDatabase } from '../infra/db/client';
import { createSecretBox } from '../infra/secrets';
import { seedDemo } from '../modules/demo/demo.service';
import { parseArgs } from 'node:util';
import { createAccountsCliService } from '../modules/access/accounts-cli.service';
import { auditCommand } from './audit';
import { profileCommand } from './profile';
import { readTemplates } from './templates';
import { privacyCommand, retentionCommand } from './privacy';
import { UsageError } from './usage-error';
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
  audit verify [--checkpoints FILE]
                                   verify every audit chain with the key, the signed checkpoints
                                   (and an exported file of them), and name the first broken event
  audit checkpoint                 sign a checkpoint of every audit chain's head now
  audit checkpoint export [--out FILE]
                                   write the newest checkpoints as JSON, to keep away from the database
  audit archive verify FILE        check an archive of purged audit events with the key and the CA
  retention report [--json]        what is held of each kind of data, what the next purge removes,
                                   and when the rest falls due (periods from the live configuration)
  retention run                    purge now what is past its retention (the worker does it daily)
  privacy register [--format md|html] [--out FILE] [--organisation SLUG]
                                   the processing-register entry (RGPD art. 30), in French
  profile validate FILE            check a neutral profile; print each problem with its JSON path
  profile compile FILE --platform ios|android|windows|amapi [--unsigned]
                                   print the native form (signed .mobileconfig, agent policy JSON,
                                   SyncML) on stdout and what the platform cannot express on stderr

Configuration comes from environment variables (see README).`;

type Handler = (args: string[]) => Promise<number>;

/** A database handle that can write audit events: keyed with the server's secret (created at first use, like the server does). */
async function withDb<T>(fn: (db: ReturnType<typeof createDatabase>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const { auditKey } = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR);
  const database = createDatabase(config.DATABASE_URL, 2, { auditKey });
  try {
    return await fn(database);
  } finally {
    await database.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
}

function accountArgs(args: string[]) {
  const { values } = parseArgs({ args, options: { email: { type: 'string' }, name: { type: 'string' }, 'password-stdin': { type: 'boolean' } } });
  if (!values.email) throw new UsageError('--email ADDRESS is required');
  return values as { email: string; name?: string; 'password-stdin'?: boolean };
}

function printPassword(result: { email: string; password: string | null }, what: string): void {
  if (result.password === null) console.log(`${what} ${result.email}`);
  else console.log(`${what} ${result.email}\npassword (shown only this once): ${result.password}`);
}

const commands: Record<string, Handler> = {
  async migrate() {
    await runMigrations(loadConfig().DATABASE_URL);
    console.log('migrations applied');
    return 0;
  },
  async 'seed-demo'() {
    await runMigrations(loadConfig().DATABASE_URL);
    const s = await withDb(({ db }) => seedDemo(db, readTemplates()));
    console.log(
      `demo loaded: ${s.communes} communes, ${s.schools} schools (${s.pilotSchools} pilot schools in Alpha), ${s.directorsCreated} new director accounts, ${s.profilesAdded} profile templates added to the catalog`,
    );
    return 0;
  },
  async 'create-admin'(args) {
    const values = accountArgs(args);
    const password = values['password-stdin'] ? await readStdin() : undefined;
    await runMigrations(loadConfig().DATABASE_URL);
    const result = await withDb(({ db }) => createAccountsCliService({ db }).createAdmin({ email: values.email, name: values.name, password }));
    printPassword(result, 'administrator created:');
    return 0;
  },
  async 'reset-password'(args) {
    const values = accountArgs(args);
    const password = values['password-stdin'] ? await readStdin() : undefined;
    const result = await withDb(({ db }) => createAccountsCliService({ db }).resetPassword({ email: values.email, password }));
    printPassword(result, 'password set for');
    return 0;
  },
  audit: (args) => auditCommand(args),
  profile: (args) => profileCommand(args),
  retention: (args) => retentionCommand(args),
  privacy: (args) => privacyCommand(args),
  async doctor() {
    const checks = await runDoctor();
    for (const c of checks) console.log(formatCheck(c));
    const failed = checks.filter((c) => !c.ok).length;
    console.log(failed ? `${failed} problem(s) found` : 'everything looks right');
    return failed ? 1 : 0;
  },
};

async function runCli(argv: string[]): Promise<number> {
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

/** One line, whatever the error: a multi-line stack is of no use to an operator or a cron mail. */
function oneLine(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return text.replace(/\s*\n\s*/g, ' ').trim() || 'unknown error';
}

const isUsageError = (error: unknown) => error instanceof UsageError || /^ERR_PARSE_ARGS_/.test((error as { code?: string })?.code ?? '');

/**
 * Runs one command and resolves with the process exit code: 0 on success, 1 when the command
 * failed (the reason printed on one line), 2 when it was called the wrong way. It never rejects.
 */
export async function main(argv: string[]): Promise<number> {
  try {
    return await runCli(argv);
  } catch (error) {
    console.error(`cartable: ${oneLine(error)}`);
    return isUsageError(error) ? 2 : 1;
  }
}
