import { eventMac, GENESIS, personalDigest } from './audit.mac';
import type { AuditRow, ChainHead } from './audit.repository';

/** A claim about a chain's head: a checkpoint (stored or exported, signed) or the head record. */
export interface Evidence extends ChainHead {
  label: string;
  /** Signed by this installation's CA: only such evidence can anchor a purged beginning. */
  signed: boolean;
}

export interface ChainProblem {
  /** The first broken event, when the problem is an event (null for a missing tail). */
  eventId: number | null;
  seq: number | null;
  reason: string;
}

/** The action a retention purge records in the chain it shortened, with the anchor it kept. */
export const PURGE_ACTION = 'audit.purge';

const blank = (row: AuditRow) => row.actorLabel === null && row.sourceIp === null && Object.keys(row.details).length === 0;

/**
 * Walks one chain in sequence order and stops at the first event that does not verify. The
 * first event is either seq 1 linked to the genesis, or the first event kept by a retention
 * purge: then a signed checkpoint must vouch for the event before it, and a purge event later
 * in the chain must name that same anchor.
 */
export class ChainWalk {
  events = 0;
  erased = 0;
  firstSeq: number | null = null;
  problem: ChainProblem | null = null;
  private last: ChainHead | null;
  private firstRow: AuditRow | null = null;
  private unconfirmedPurge: ChainHead | null = null;
  private readonly evidenceAt = new Map<number, Evidence[]>();

  /** `start` resumes after an already verified event (a checkpoint's head) instead of the chain's beginning. */
  constructor(
    private readonly key: Buffer,
    private readonly evidence: Evidence[],
    start?: ChainHead,
  ) {
    this.last = start ?? null;
    for (const e of evidence) this.evidenceAt.set(e.seq, [...(this.evidenceAt.get(e.seq) ?? []), e]);
  }

  get lastHead(): ChainHead | null {
    return this.last;
  }

  /** False once the chain is broken: the caller stops reading. */
  accept(row: AuditRow): boolean {
    if (this.problem) return false;
    const seq = row.seq!;
    const broken = (reason: string) => ((this.problem = { eventId: row.id, seq, reason }), false);
    if (!this.last) {
      this.firstRow = row;
      this.firstSeq = seq;
      if (seq !== 1) {
        const anchor = (this.evidenceAt.get(seq - 1) ?? []).find((e) => e.signed && e.hash === row.prevHash);
        if (!anchor) return broken(`events before seq ${seq} are missing, and no signed checkpoint anchors a purge there (events were removed)`);
        this.unconfirmedPurge = { seq: seq - 1, hash: row.prevHash };
      } else if (row.prevHash !== GENESIS) {
        return broken('the first event does not link to the start of the chain');
      }
    } else {
      if (this.firstSeq === null) this.firstSeq = seq;
      if (seq !== this.last.seq + 1) return broken(`the sequence jumps from ${this.last.seq} to ${seq} (events were removed)`);
      if (row.prevHash !== this.last.hash) return broken('link to the previous event does not match (an event was removed, replaced or reordered)');
    }
    if (row.personalSalt !== null) {
      const digest = personalDigest(row.personalSalt, { actorLabel: row.actorLabel, sourceIp: row.sourceIp, details: row.details });
      if (digest !== row.personalDigest) return broken('the actor label, source address or details do not match their digest (the event was modified)');
    } else {
      if (row.erasedAt === null) return broken('the personal fields lost their salt without an erasure (the event was modified)');
      if (!blank(row)) return broken('personal fields were written into an erased event (the event was modified)');
      this.erased++;
    }
    const mac = eventMac(this.key, { ...row, chainId: row.chainId!, seq, personalDigest: row.personalDigest ?? '' });
    if (mac !== row.hash) return broken('content does not match its keyed MAC (the event was modified, or the chain was rewritten without the key)');
    for (const e of this.evidenceAt.get(seq) ?? []) {
      if (e.hash !== row.hash) return broken(`the event differs from what ${e.label} vouches for (it was rewritten)`);
    }
    const details = row.details as { throughSeq?: unknown; throughHash?: unknown };
    if (row.action === PURGE_ACTION && this.unconfirmedPurge && details.throughSeq === this.unconfirmedPurge.seq && details.throughHash === this.unconfirmedPurge.hash) {
      this.unconfirmedPurge = null;
    }
    this.events++;
    this.last = { seq, hash: row.hash };
    return true;
  }

  /** After the last event: a purge that was never recorded, and evidence of events that are gone. */
  finish(): ChainProblem | null {
    if (this.problem) return this.problem;
    if (this.unconfirmedPurge && this.firstRow) {
      return (this.problem = { eventId: this.firstRow.id, seq: this.firstRow.seq, reason: `events up to seq ${this.unconfirmedPurge.seq} were removed, but no purge of them is recorded in the chain` });
    }
    const lastSeq = this.last?.seq ?? 0;
    const beyond = this.evidence.filter((e) => e.seq > lastSeq).sort((a, b) => b.seq - a.seq)[0];
    if (beyond) {
      return (this.problem = { eventId: null, seq: lastSeq + 1, reason: `the chain ends at seq ${lastSeq}, but ${beyond.label} vouches for seq ${beyond.seq} (the newest events were removed)` });
    }
    return null;
  }
}
