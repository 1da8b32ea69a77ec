import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config';
import { createDatabase } from '../infra/db/client';
import { createSecretBox } from '../infra/secrets';
import { gunzipSync } from 'node:zlib';
import { verifyArchive } from '../modules/audit/audit-archive.service';
import { createAuditChainService, parseCheckpointExport, type AuditChainService, type ChainReport, type TrailReport } from '../modules/audit/audit-chain.service';
import { UNSCOPED_CHAIN } from '../modules/audit/audit.mac';
import { CA_ORGANISATION, createPkiStore, type PkiStore } from '../modules/pki-store/pki-store.service';
import { UsageError } from './usage-error';

type Print = (line: string) => void;
const USAGE = 'usage: cartable audit verify [--checkpoints FILE] | cartable audit checkpoint | cartable audit checkpoint export [--out FILE] | cartable audit archive verify FILE';

/**
 * The audit commands work with the server's own secret (never a fresh one: it would make every
 * MAC look forged) and its existing CA (never a new one).
 */
async function withChains<T>(fn: (chains: AuditChainService, hasCa: boolean, tools: { auditKey: Buffer; pki: PkiStore }) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const secrets = createSecretBox(config.CARTABLE_SECRET_KEY, config.CARTABLE_SECRETS_DIR, { create: false });
  const database = createDatabase(config.DATABASE_URL, 2, { auditKey: secrets.auditKey });
  try {
    const pki = createPkiStore({ db: database.db, passphrase: secrets.passphrase, organisationName: CA_ORGANISATION });
    const hasCa = await pki.load({ create: false });
    return await fn(createAuditChainService({ db: database.db, pki, auditKey: secrets.auditKey }), hasCa, { auditKey: secrets.auditKey, pki });
  } finally {
    await database.close();
  }
}

const chainName = (r: { chainId: string }) => (r.chainId === UNSCOPED_CHAIN ? 'chain without organisation' : `chain of organisation ${r.chainId}`);

function describe(r: ChainReport): string {
  const span = r.events ? `${r.events} event(s), seq ${r.firstSeq}–${r.lastSeq}${r.erasedEvents ? ` (${r.erasedEvents} erased)` : ''}` : 'no event';
  const newest = r.checkpoints.newest;
  const checkpoints = newest
    ? `${r.checkpoints.stored} checkpoint(s), newest at seq ${newest.seq} signed ${newest.signedAt}`
    : 'no checkpoint yet (a removal of the newest events is detectable from the first checkpoint on)';
  const exported = r.checkpoints.exported ? `; ${r.checkpoints.exported} exported checkpoint(s) compared` : '';
  if (r.intact) return `${chainName(r)}: intact: ${span}, MACs verified with the key; ${checkpoints}${exported}`;
  const p = r.problem!;
  const where = p.eventId !== null ? `at event ${p.eventId} (seq ${p.seq})` : `after seq ${r.lastSeq ?? 0}`;
  return `${chainName(r)}: BROKEN ${where}: ${p.reason}; ${r.events} event(s) before it verified`;
}

/** One line per chain, then a verdict line; the exit code says whether everything verified. */
export function printTrailReport(report: TrailReport, print: Print): number {
  for (const chain of report.chains) print(describe(chain));
  const events = report.chains.reduce((n, c) => n + c.events, 0);
  if (report.unlinkedEvents) print(`${report.unlinkedEvents} event(s) written before chains were keyed are not linked into a chain yet: start the server once to link them`);
  if (report.intact) {
    print(`audit trail intact: ${events} event(s) checked in ${report.chains.length} chain(s)`);
    return 0;
  }
  const broken = report.chains.filter((c) => !c.intact).length;
  print(`audit trail BROKEN: ${broken} of ${report.chains.length} chain(s) failed verification${report.unlinkedEvents ? ', and some events are in no chain' : ''}`);
  return 1;
}

async function verify(args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { checkpoints: { type: 'string' } } });
  const exported = values.checkpoints ? parseCheckpointExport(readFileSync(values.checkpoints, 'utf8')) : undefined;
  return withChains(async (chains, hasCa) => {
    if (!hasCa) print('no CA in the database yet: checkpoint signatures cannot be checked');
    return printTrailReport(await chains.verify({ exported }), print);
  });
}

async function checkpoint(print: Print): Promise<number> {
  return withChains(async (chains, hasCa) => {
    if (!hasCa) throw new Error('no CA in the database yet: start the server once, it creates the CA that signs checkpoints');
    const { written, refused } = await chains.checkpoint();
    for (const c of written) print(`checkpoint #${c.id}: ${chainName(c)} at seq ${c.headSeq}, head ${c.headHash}`);
    for (const r of refused) print(`${chainName(r)}: NOT checkpointed, it does not verify${r.problem.eventId !== null ? ` at event ${r.problem.eventId}` : ''}: ${r.problem.reason}`);
    if (!written.length && !refused.length) print('no audit event yet: nothing to checkpoint');
    return refused.length ? 1 : 0;
  });
}

async function exportCheckpoints(args: string[], print: Print): Promise<number> {
  const { values } = parseArgs({ args, options: { out: { type: 'string' } } });
  return withChains(async (chains, hasCa) => {
    if (!hasCa) throw new Error('no CA in the database yet: there is no checkpoint to export');
    const file = await chains.exportCheckpoints();
    const json = `${JSON.stringify(file, null, 2)}\n`;
    if (!values.out) {
      process.stdout.write(json);
      return 0;
    }
    writeFileSync(values.out, json);
    print(`${file.checkpoints.length} checkpoint(s) written to ${values.out}: keep this file away from the database`);
    return 0;
  });
}

/** An archive written by the retention purge, checked with the key and the CA, on its own. */
async function verifyArchiveFile(file: string, print: Print): Promise<number> {
  const raw = readFileSync(file);
  const text = (raw[0] === 0x1f && raw[1] === 0x8b ? gunzipSync(raw) : raw).toString('utf8');
  return withChains(async (_chains, hasCa, { auditKey, pki }) => {
    if (!hasCa) throw new Error('no CA in the database: the archive signature cannot be checked');
    const { events, problem } = verifyArchive(text, auditKey, pki);
    if (problem) {
      print(`archive BROKEN: ${problem}; ${events} event(s) before it verified`);
      return 1;
    }
    print(`archive intact: ${events} event(s) verified with the key, up to a checkpoint signed by the CA`);
    return 0;
  });
}

/** `cartable audit …` */
export async function auditCommand(args: string[], print: Print = (line) => console.log(line)): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'verify') return verify(rest, print);
  if (sub === 'checkpoint' && rest[0] === 'export') return exportCheckpoints(rest.slice(1), print);
  if (sub === 'checkpoint' && rest.length === 0) return checkpoint(print);
  if (sub === 'archive' && rest[0] === 'verify' && rest.length === 2) return verifyArchiveFile(rest[1]!, print);
  throw new UsageError(USAGE);
}
