import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { DbOrTx } from '../../infra/db/client';
import type { PkiStore } from '../pki-store/pki-store.service';
import { checkpointPayload } from './audit.mac';
import { countUnlinkedEvents, insertCheckpoint, listChains, listCheckpoints, newestCheckpoints, readChainPage, type ChainHead, type ChainListing, type CheckpointRow } from './audit.repository';
import { ChainWalk, type ChainProblem, type Evidence } from './chain-walk';

const PAGE = 5000;
/** The head row writers keep: unsigned, so it can only reveal a careless truncation. */
const HEAD_RECORD = "the chain's head record";

export interface ChainReport {
  chainId: string;
  /** Null for the chain of events without an organisation (sign-in attempts on unknown accounts). */
  organisationId: string | null;
  /** Events verified (up to the first broken one). */
  events: number;
  firstSeq: number | null;
  lastSeq: number | null;
  erasedEvents: number;
  checkpoints: { stored: number; exported: number; newest: { seq: number; signedAt: string } | null };
  intact: boolean;
  problem: ChainProblem | null;
}

export interface TrailReport {
  verifiedAt: string;
  intact: boolean;
  /** Events written before chains were keyed and not linked yet (the server links them at start). */
  unlinkedEvents: number;
  chains: ChainReport[];
}

// Patterns rather than formats: TypeBox's Value checks know no format unless one is registered.
const Uuid = Type.String({ pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' });
const ExportedCheckpoint = Type.Object({
  chainId: Uuid,
  organisationId: Type.Union([Uuid, Type.Null()]),
  headSeq: Type.Integer({ minimum: 1 }),
  headHash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  signedAt: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}T[0-9:.]+Z$' }),
  signature: Type.String({ minLength: 1 }),
});
export const CheckpointExport = Type.Object({
  format: Type.Literal('cartable-audit-checkpoints/1'),
  exportedAt: Type.String(),
  caCertificate: Type.String(),
  checkpoints: Type.Array(ExportedCheckpoint),
});
export type CheckpointExport = Static<typeof CheckpointExport>;

/** Reads an operator's export file; a file that is not one says why on one line. */
export function parseCheckpointExport(text: string): CheckpointExport {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new Error('the checkpoints file is not JSON');
  }
  const error = Value.Errors(CheckpointExport, value).First();
  if (error) throw new Error(`the checkpoints file is not a Cartable checkpoint export: ${error.path || '/'} ${error.message}`);
  return value as CheckpointExport;
}

/**
 * Verification and checkpoints of the keyed audit chains. Checkpoints are signed with the
 * internal CA's key; without a loaded CA, no signature verifies and none can be made.
 */
export function createAuditChainService(deps: { db: DbOrTx; pki: PkiStore; auditKey: Buffer }) {
  const { db, pki, auditKey } = deps;

  function isSigned(c: Pick<CheckpointRow, 'chainId' | 'organisationId' | 'headSeq' | 'headHash' | 'signedAt' | 'signature'>): boolean {
    return pki.hasCa() && pki.verifySignature(checkpointPayload(c), Buffer.from(c.signature, 'base64'));
  }

  /** Walks the chain from `start` (or its beginning), page by page, against the evidence. */
  async function walk(chainId: string, evidence: Evidence[], start?: ChainHead, until?: number): Promise<ChainWalk> {
    const w = new ChainWalk(auditKey, evidence, start);
    for (let after = start?.seq ?? 0; ; ) {
      const rows = await readChainPage(db, chainId, after, PAGE);
      for (const row of rows) {
        if (until !== undefined && row.seq! > until) return w;
        if (!w.accept(row)) return w;
        after = row.seq!;
      }
      if (rows.length < PAGE) return w;
    }
  }

  async function verifyChain(chain: ChainListing, exported: CheckpointExport['checkpoints'], exportedCa: boolean): Promise<ChainReport> {
    // Read before the events: evidence is then never newer than the events walked after it.
    const stored = (await listCheckpoints(db, chain.chainId)).map((c) => ({ ...c, signed: isSigned(c) }));
    const evidence: Evidence[] = [
      ...stored.map((c) => ({ seq: c.headSeq, hash: c.headHash, signed: c.signed, label: `checkpoint #${c.id} (signed ${c.signedAt.toISOString()})` })),
      ...exported.map((c) => ({
        seq: c.headSeq,
        hash: c.headHash,
        signed: exportedCa && isSigned({ ...c, signedAt: new Date(c.signedAt) }),
        label: `the exported checkpoint signed ${new Date(c.signedAt).toISOString()}`,
      })),
      ...(chain.head ? [{ ...chain.head, signed: false, label: HEAD_RECORD }] : []),
    ];
    // A checkpoint the CA did not sign proves nothing about the events: it is reported as forged.
    const w = await walk(
      chain.chainId,
      evidence.filter((e) => e.signed || e.label === HEAD_RECORD),
    );
    const forged = evidence.find((e) => e.label !== HEAD_RECORD && !e.signed);
    const problem = w.finish() ?? (forged ? { eventId: null, seq: forged.seq, reason: `${forged.label} is not signed by this installation's CA (it was forged or altered)` } : null);
    const newest = stored.filter((c) => c.signed).at(-1);
    return {
      chainId: chain.chainId,
      organisationId: chain.organisationId,
      events: w.events,
      firstSeq: w.firstSeq,
      lastSeq: w.lastHead?.seq ?? null,
      erasedEvents: w.erased,
      checkpoints: { stored: stored.length, exported: exported.length, newest: newest ? { seq: newest.headSeq, signedAt: newest.signedAt.toISOString() } : null },
      intact: problem === null,
      problem,
    };
  }

  /**
   * Verifies every chain (or those of the given organisations, `null` meaning the chain without
   * organisation) with the key, the CA's signatures on checkpoints, and an operator's export.
   */
  async function verify(options: { organisationIds?: (string | null)[]; exported?: CheckpointExport } = {}): Promise<TrailReport> {
    const chains = await listChains(db, options.organisationIds);
    const exported = options.exported?.checkpoints ?? [];
    for (const c of exported) {
      if (!chains.some((k) => k.chainId === c.chainId)) chains.push({ chainId: c.chainId, organisationId: c.organisationId, head: null });
    }
    const exportedCa = Boolean(options.exported && pki.hasCa() && options.exported.caCertificate.trim() === pki.caCertPem().trim());
    const reports: ChainReport[] = [];
    for (const chain of chains) {
      reports.push(
        await verifyChain(
          chain,
          exported.filter((c) => c.chainId === chain.chainId),
          exportedCa,
        ),
      );
    }
    const unlinkedEvents = await countUnlinkedEvents(db);
    return { verifiedAt: new Date().toISOString(), intact: unlinkedEvents === 0 && reports.every((r) => r.intact), unlinkedEvents, chains: reports };
  }

  /**
   * Signs the head of every non-empty chain, after verifying what was added since the chain's
   * newest checkpoint: a checkpoint never vouches for a chain that does not verify. With
   * `onlyChanged`, a chain whose head has not moved since its newest checkpoint is skipped.
   */
  async function checkpoint(options: { onlyChanged?: boolean } = {}): Promise<{ written: CheckpointRow[]; skipped: number; refused: { chainId: string; problem: ChainProblem }[] }> {
    const written: CheckpointRow[] = [];
    const refused: { chainId: string; problem: ChainProblem }[] = [];
    let skipped = 0;
    for (const chain of await listChains(db)) {
      if (!chain.head || chain.head.seq === 0) continue;
      const head = chain.head;
      const newest = (await listCheckpoints(db, chain.chainId)).filter((c) => isSigned(c)).at(-1);
      if (options.onlyChanged && newest?.headSeq === head.seq && newest.headHash === head.hash) {
        skipped++;
        continue;
      }
      const evidence: Evidence[] = [{ ...head, signed: false, label: HEAD_RECORD }];
      const problem = newest ? await problemSince({ seq: newest.headSeq, hash: newest.headHash }, chain.chainId, evidence, head) : await problemSince(null, chain.chainId, evidence, head);
      if (problem) {
        refused.push({ chainId: chain.chainId, problem });
        continue;
      }
      const statement = { chainId: chain.chainId, organisationId: chain.organisationId, headSeq: head.seq, headHash: head.hash, signedAt: new Date() };
      const signature = pki.sign(checkpointPayload(statement)).toString('base64');
      written.push(await insertCheckpoint(db, { ...statement, signature }));
    }
    return { written, skipped, refused };
  }

  /**
   * Verifies a chain up to `head`, from its beginning or from a checkpoint's head: that event
   * must still be there with the same MAC, then what follows must verify.
   */
  async function problemSince(from: ChainHead | null, chainId: string, evidence: Evidence[], head: ChainHead): Promise<ChainProblem | null> {
    if (from) {
      const [row] = await readChainPage(db, chainId, from.seq - 1, 1);
      if (!row || row.seq !== from.seq || row.hash !== from.hash) {
        return { eventId: row?.id ?? null, seq: from.seq, reason: `the event vouched for by the newest checkpoint (seq ${from.seq}) is gone or was rewritten` };
      }
    }
    return (await walk(chainId, evidence, from ?? undefined, head.seq)).finish();
  }

  /** The newest checkpoint of each chain, with the CA certificate that signed them, for keeping elsewhere. */
  async function exportCheckpoints(): Promise<CheckpointExport> {
    const rows = await newestCheckpoints(db);
    return {
      format: 'cartable-audit-checkpoints/1',
      exportedAt: new Date().toISOString(),
      caCertificate: pki.caCertPem(),
      checkpoints: rows.map((c) => ({ chainId: c.chainId, organisationId: c.organisationId, headSeq: c.headSeq, headHash: c.headHash, signedAt: c.signedAt.toISOString(), signature: c.signature })),
    };
  }

  return { verify, checkpoint, exportCheckpoints };
}

export type AuditChainService = ReturnType<typeof createAuditChainService>;
