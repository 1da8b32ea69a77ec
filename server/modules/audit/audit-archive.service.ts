import { createHash } from 'node:crypto';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { Db } from '../../infra/db/client';
import { SYSTEM_ACTOR } from '../access/principal';
import type { PkiStore } from '../pki-store/pki-store.service';
import { canonicalJson, checkpointPayload, eventMac, GENESIS, personalDigest } from './audit.mac';
import { deleteChainPrefix, firstSeqOf, listChains, listCheckpoints, readChainPage, type AuditRow, type CheckpointRow } from './audit.repository';
import { recordAudit } from './audit.service';
import { PURGE_ACTION } from './chain-walk';

const PAGE = 5000;
export const ARCHIVE_FORMAT = 'cartable-audit-archive/1';

/** The bytes the CA signs for an archive: its label keeps the signature from passing for a checkpoint's. */
export const archivePayload = (sha256: string): Buffer => Buffer.from(`cartable audit archive v1\n${sha256}`, 'utf8');

export interface ChainArchive {
  chainId: string;
  organisationId: string | null;
  fromSeq: number;
  throughSeq: number;
  events: number;
  file: string;
  sha256: string;
}

/**
 * Audit retention: the oldest events of a chain are written to a signed archive, then deleted
 * through the one path verification accepts. The archive holds the events as stored (MACs and
 * personal digests included) and the signed checkpoint that vouches for its last event, so the
 * archived range can still be verified with the audit key, and the chain left in the database
 * still verifies from that checkpoint on.
 */
export function createAuditArchiveService(deps: { db: Db; pki: PkiStore; archiveDir: string; maxEventsPerPurge: number }) {
  const { db, pki, archiveDir, maxEventsPerPurge } = deps;
  const isSigned = (c: CheckpointRow) => pki.hasCa() && pki.verifySignature(checkpointPayload(c), Buffer.from(c.signature, 'base64'));

  /**
   * The anchor: a checkpoint signed before `before` (so every event it covers is older), beyond
   * the chain's first event. Of those, the newest that keeps the purge within the bound, or the
   * oldest if even that is larger: a backlog is worked off over several bounded transactions.
   */
  function pickAnchor(checkpoints: CheckpointRow[], firstSeq: number, before: Date): CheckpointRow | null {
    const eligible = checkpoints.filter((c) => c.signedAt < before && c.headSeq >= firstSeq && isSigned(c));
    if (!eligible.length) return null;
    const within = eligible.filter((c) => c.headSeq - firstSeq + 1 <= maxEventsPerPurge);
    return within.at(-1) ?? eligible[0]!;
  }

  async function readRange(chainId: string, fromSeq: number, throughSeq: number): Promise<AuditRow[]> {
    const rows: AuditRow[] = [];
    for (let after = fromSeq - 1; after < throughSeq; ) {
      const page = await readChainPage(db, chainId, after, Math.min(PAGE, throughSeq - after));
      if (!page.length) break;
      rows.push(...page);
      after = page.at(-1)!.seq!;
    }
    return rows;
  }

  /**
   * Written to a temporary name then renamed: a crash never leaves a partial archive under the
   * final name. The checkpoint before the range (the previous purge's anchor), when there is one,
   * goes with it: it vouches for the link of the range's first event.
   */
  function writeArchive(chainId: string, anchor: CheckpointRow, previous: CheckpointRow | null, rows: AuditRow[]): { file: string; sha256: string } {
    mkdirSync(archiveDir, { recursive: true, mode: 0o700 });
    const archive = {
      format: ARCHIVE_FORMAT,
      chainId,
      organisationId: anchor.organisationId,
      fromSeq: rows[0]!.seq,
      throughSeq: anchor.headSeq,
      anchor: { ...anchor, signedAt: anchor.signedAt.toISOString() },
      previousAnchor: previous ? { ...previous, signedAt: previous.signedAt.toISOString() } : null,
      caCertificate: pki.caCertPem(),
      events: rows,
    };
    const body = canonicalJson(archive);
    const sha256 = createHash('sha256').update(body).digest('hex');
    const signed = JSON.stringify({ archive: JSON.parse(body) as unknown, sha256, signature: pki.sign(archivePayload(sha256)).toString('base64') });
    const name = `audit-${chainId}-${String(rows[0]!.seq).padStart(10, '0')}-${String(anchor.headSeq).padStart(10, '0')}.json.gz`;
    const path = join(archiveDir, name);
    writeFileSync(`${path}.tmp`, gzipSync(signed), { mode: 0o600 });
    renameSync(`${path}.tmp`, path);
    return { file: name, sha256 };
  }

  /** Archives and deletes, chain by chain, the events older than `before`; returns what was archived. */
  async function purgeBefore(before: Date, organisationIds?: (string | null)[]): Promise<ChainArchive[]> {
    if (!pki.hasCa()) return [];
    const done: ChainArchive[] = [];
    for (const chain of await listChains(db, organisationIds)) {
      for (;;) {
        const firstSeq = await firstSeqOf(db, chain.chainId);
        if (firstSeq === null) break;
        const checkpoints = await listCheckpoints(db, chain.chainId);
        const anchor = pickAnchor(checkpoints, firstSeq, before);
        if (!anchor) break;
        const previous = checkpoints.find((c) => c.headSeq === firstSeq - 1 && isSigned(c)) ?? null;
        const rows = await readRange(chain.chainId, firstSeq, anchor.headSeq);
        // The checkpoint job verified the chain before signing; the range must still end where it vouches.
        if (rows.at(-1)?.seq !== anchor.headSeq || rows.at(-1)?.hash !== anchor.headHash) {
          throw new Error(`audit chain ${chain.chainId}: the event vouched for by checkpoint #${anchor.id} (seq ${anchor.headSeq}) is gone or was rewritten; nothing archived`);
        }
        const { file, sha256 } = writeArchive(chain.chainId, anchor, previous, rows);
        await db.transaction(async (tx) => {
          await recordAudit(tx, {
            organisationId: chain.organisationId,
            actor: SYSTEM_ACTOR,
            action: PURGE_ACTION,
            outcome: 'success',
            details: { throughSeq: anchor.headSeq, throughHash: anchor.headHash, fromSeq: firstSeq, archive: file, archiveSha256: sha256 },
          });
          await deleteChainPrefix(tx, chain.chainId, anchor.headSeq);
        });
        done.push({ chainId: chain.chainId, organisationId: chain.organisationId, fromSeq: firstSeq, throughSeq: anchor.headSeq, events: rows.length, file, sha256 });
      }
    }
    return done;
  }

  return { purgeBefore };
}
export type AuditArchiveService = ReturnType<typeof createAuditArchiveService>;

interface ArchivedCheckpoint {
  chainId: string;
  organisationId: string | null;
  headSeq: number;
  headHash: string;
  signedAt: string;
  signature: string;
}
interface ArchivedEvent extends Omit<AuditRow, 'occurredAt' | 'erasedAt'> {
  occurredAt: string;
  erasedAt: string | null;
}
interface SignedArchive {
  archive: { format: string; chainId: string; fromSeq: number; throughSeq: number; anchor: ArchivedCheckpoint; previousAnchor: ArchivedCheckpoint | null; events: ArchivedEvent[] };
  sha256: string;
  signature: string;
}

/**
 * Checks an archive on its own: the CA's signature of its digest, the anchor's signature, and
 * every event with the audit key (its MAC, its personal digest, its link to the one before), from
 * the chain's start or the previous anchor to the anchor. Returns the problem, or null.
 */
export function verifyArchive(text: string, auditKey: Buffer, pki: Pick<PkiStore, 'verifySignature'>): { events: number; problem: string | null } {
  let signed: SignedArchive;
  try {
    signed = JSON.parse(text) as SignedArchive;
  } catch {
    return { events: 0, problem: 'the file is not JSON' };
  }
  const a = signed.archive;
  if (a?.format !== ARCHIVE_FORMAT) return { events: 0, problem: `the file is not a Cartable audit archive (${ARCHIVE_FORMAT})` };
  if (createHash('sha256').update(canonicalJson(a)).digest('hex') !== signed.sha256) return { events: 0, problem: 'the content does not match its digest (the archive was modified)' };
  if (!pki.verifySignature(archivePayload(signed.sha256), Buffer.from(signed.signature, 'base64'))) return { events: 0, problem: "the archive is not signed by this installation's CA" };
  const checkpointSigned = (c: ArchivedCheckpoint) => pki.verifySignature(checkpointPayload({ ...c, signedAt: new Date(c.signedAt) }), Buffer.from(c.signature, 'base64'));
  if (!checkpointSigned(a.anchor)) return { events: 0, problem: "the anchor checkpoint is not signed by this installation's CA" };
  let prev = a.fromSeq === 1 ? { seq: 0, hash: GENESIS } : a.previousAnchor && checkpointSigned(a.previousAnchor) ? { seq: a.previousAnchor.headSeq, hash: a.previousAnchor.headHash } : null;
  if (!prev) return { events: 0, problem: `nothing signed vouches for the event before seq ${a.fromSeq}` };
  let n = 0;
  for (const e of a.events) {
    if (e.seq !== prev.seq + 1 || e.prevHash !== prev.hash) return { events: n, problem: `seq ${e.seq}: the link to the previous event does not match` };
    if (e.personalSalt !== null && personalDigest(e.personalSalt, { actorLabel: e.actorLabel, sourceIp: e.sourceIp, details: e.details }) !== e.personalDigest) {
      return { events: n, problem: `seq ${e.seq}: the personal fields do not match their digest` };
    }
    if (eventMac(auditKey, { ...e, chainId: e.chainId!, seq: e.seq!, occurredAt: new Date(e.occurredAt), personalDigest: e.personalDigest ?? '' }) !== e.hash) return { events: n, problem: `seq ${e.seq}: the content does not match its keyed MAC` };
    prev = { seq: e.seq!, hash: e.hash };
    n++;
  }
  if (prev.seq !== a.anchor.headSeq || prev.hash !== a.anchor.headHash) return { events: n, problem: `the archive ends at seq ${prev.seq}, not at the anchor (seq ${a.anchor.headSeq})` };
  return { events: n, problem: null };
}
