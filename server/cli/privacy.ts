import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createDatabase } from '../infra/db/client';
import { createSecretBox } from '../infra/secrets';
import { createAuditArchiveService } from '../modules/audit/audit-archive.service';
import { CA_ORGANISATION, createPkiStore } from '../modules/pki-store/pki-store.service';
import { registerHtml, registerMarkdown } from '../modules/privacy/processing-register';
import { locationFacts, organisationsFor, usesApns } from '../modules/privacy/register.repository';
import { effectiveRetention } from '../modules/privacy/retention.policy';
import { createRetentionService, type RetentionService } from '../modules/privacy/retention.service';
import { UsageError } from './usage-error';

type Print = (line: string) => void;
const RETENTION_USAGE = 'usage: cartable retention report [--json] | cartable retention run';
const PRIVACY_USAGE = 'usage: cartable privacy register [--format md|html] [--out FILE] [--organisation SLUG]';

/** With the server's own secret and CA (never new ones): the purge signs archives and writes audit events. */
async function withRetention<T>(fn: (retention: RetentionService, hasCa: boolean) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const secrets = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR, { create: false });
  const database = createDatabase(config.DATABASE_URL, 2, { auditKey: secrets.auditKey });
  try {
    const pki = createPkiStore({ db: database.db, passphrase: secrets.passphrase, organisationName: CA_ORGANISATION });
    const hasCa = await pki.load({ create: false });
    const archive = createAuditArchiveService({ db: database.db, pki, archiveDir: config.AUDIT_ARCHIVE_DIR, maxEventsPerPurge: config.AUDIT_PURGE_MAX_EVENTS });
    return await fn(createRetentionService({ db: database.db, archive, chunkRows: config.RETENTION_CHUNK_ROWS }), hasCa);
  } finally {
    await database.close();
  }
}

const day = (iso: string | null) => iso?.slice(0, 10) ?? '—';

async function report(args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { json: { type: 'boolean' } } });
  return withRetention(async (retention) => {
    const result = await retention.report();
    if (values.json) {
      print(JSON.stringify(result, null, 2));
      return 0;
    }
    for (const org of result.organisations) {
      print(`${org.name} (${org.organisationId})`);
      for (const l of org.lines) {
        const next = l.due ? `${l.due} past retention, purged at the next run` : l.nextPurgeAt ? `next purge from ${day(l.nextPurgeAt)}` : 'nothing to purge';
        print(`  ${l.type.padEnd(32)} ${String(l.days).padStart(4)} days  held ${String(l.held).padStart(7)}  oldest ${day(l.oldest).padEnd(10)}  ${next}`);
      }
    }
    if (!result.organisations.length) print('no organisation yet: nothing is held');
    return 0;
  });
}

async function run(print: Print): Promise<number> {
  return withRetention(async (retention, hasCa) => {
    if (!hasCa) print('no CA in the database yet: audit events are not archived (the archive is signed by the CA)');
    const counts = await retention.run();
    for (const [org, c] of Object.entries(counts)) print(`${org}: ${Object.entries(c).map(([k, n]) => `${k} ${n}`).join(', ')}`);
    return 0;
  });
}

/** `cartable retention …` */
export async function retentionCommand(args: string[], print: Print = (line) => console.log(line)): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'report') return report(rest, print);
  if (sub === 'run' && rest.length === 0) return run(print);
  throw new UsageError(RETENTION_USAGE);
}

/** `cartable privacy register`: the art. 30 register entry from the live configuration. */
export async function privacyCommand(args: string[], print: Print = (line) => console.log(line)): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'register') throw new UsageError(PRIVACY_USAGE);
  const { values } = parseArgs({ args: rest, options: { format: { type: 'string', default: 'md' }, out: { type: 'string' }, organisation: { type: 'string' } } });
  if (values.format !== 'md' && values.format !== 'html') throw new UsageError(`--format must be md or html\n${PRIVACY_USAGE}`);
  const config = loadConfig();
  const database = createDatabase(config.DATABASE_URL, 2);
  try {
    const rows = await organisationsFor(database.db, values.organisation);
    const org = rows[0];
    if (!org) throw new Error(values.organisation ? `no organisation with slug "${values.organisation}"` : 'no organisation yet: load one first (cartable seed-demo, or the API)');
    if (rows.length > 1) throw new UsageError(`several organisations: name one with --organisation SLUG (${rows.map((r) => r.slug).join(', ')})`);
    const input = {
      organisationName: org.name,
      retention: effectiveRetention(org.settings.retention),
      push: { apns: await usesApns(database.db, org.id), fcm: Boolean(config.FCM_PROJECT_ID) },
      oidc: Boolean(config.OIDC_ISSUER_URL),
      location: await locationFacts(database.db, org.id),
      generatedAt: new Date(),
    };
    const text = values.format === 'html' ? registerHtml(input) : registerMarkdown(input);
    if (!values.out) {
      process.stdout.write(text);
      return 0;
    }
    writeFileSync(values.out, text);
    print(`register entry written to ${values.out}`);
    return 0;
  } finally {
    await database.close();
  }
}
