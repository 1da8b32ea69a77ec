import { createHash } from 'node:crypto';
import type { Db } from '../../infra/db/client';
import { SYSTEM_ACTOR } from '../access/principal';
import { canonicalJson, chainIdOf, eventMac, GENESIS, newSalt, personalDigest } from './audit.mac';
import { countUnlinkedEvents, linkEvents, listChains, lockAllChains, readUnlinkedPage, setChainHeads, type AuditRow, type ChainHead, type LinkedFields } from './audit.repository';
import { recordAudit } from './audit.service';

const PAGE = 2000;

/** The unkeyed SHA-256 of the single global chain that events were written in before. */
function legacyHash(prevHash: string, r: AuditRow): string {
  const fields = {
    organisationId: r.organisationId,
    occurredAt: r.occurredAt,
    actorType: r.actorType,
    actorId: r.actorId,
    actorLabel: r.actorLabel,
    role: r.role,
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    schoolId: r.schoolId,
    communeId: r.communeId,
    sourceIp: r.sourceIp,
    outcome: r.outcome,
    details: r.details,
  };
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}

export interface LegacyLinkResult {
  linked: number;
  /** Whether the old unkeyed chain verified before it was linked; if not, the first event where it broke. */
  legacyIntact: boolean;
  legacyBrokenAt: number | null;
  legacyHeadHash: string;
}

/**
 * Links events written with the old unkeyed global chain into the keyed chains of their
 * organisations, once, at the end of each chain. The old chain is verified first and the outcome
 * recorded in each chain (`audit.chain_upgrade`), with the old head hash, so an edit made before
 * the upgrade is not silently blessed by the new MACs. Chain writers wait during the linking;
 * several processes starting together link once.
 */
export async function linkLegacyEvents(db: Db, auditKey: Buffer): Promise<LegacyLinkResult | null> {
  if ((await countUnlinkedEvents(db)) === 0) return null;
  return db.transaction(async (tx) => {
    await lockAllChains(tx);
    if ((await countUnlinkedEvents(tx)) === 0) return null;

    let prev = GENESIS;
    let brokenAt: number | null = null;
    for (let after = 0; ; ) {
      const rows = await readUnlinkedPage(tx, after, PAGE);
      for (const r of rows) {
        if (brokenAt === null && (r.prevHash !== prev || legacyHash(prev, r) !== r.hash)) brokenAt = r.id;
        prev = r.hash;
        after = r.id;
      }
      if (rows.length < PAGE) break;
    }

    const heads = new Map<string, ChainHead & { organisationId: string | null }>();
    for (const c of await listChains(tx)) if (c.head) heads.set(c.chainId, { ...c.head, organisationId: c.organisationId });
    const linkedPerChain = new Map<string, number>();
    let linked = 0;
    for (;;) {
      // Linked rows leave the "unlinked" set, so the first page is always the next one.
      const rows = await readUnlinkedPage(tx, 0, PAGE);
      if (rows.length === 0) break;
      const updates: LinkedFields[] = rows.map((r) => {
        const chainId = chainIdOf(r.organisationId);
        const head = heads.get(chainId) ?? { seq: 0, hash: GENESIS, organisationId: r.organisationId };
        const salt = newSalt();
        const digest = personalDigest(salt, { actorLabel: r.actorLabel, sourceIp: r.sourceIp, details: r.details });
        const seq = head.seq + 1;
        const hash = eventMac(auditKey, { ...r, chainId, seq, prevHash: head.hash, personalDigest: digest });
        heads.set(chainId, { seq, hash, organisationId: r.organisationId });
        linkedPerChain.set(chainId, (linkedPerChain.get(chainId) ?? 0) + 1);
        return { id: r.id, chainId, seq, personalSalt: salt, personalDigest: digest, prevHash: head.hash, hash };
      });
      await linkEvents(tx, updates);
      linked += updates.length;
    }
    await setChainHeads(tx, new Map([...heads].filter(([chainId]) => linkedPerChain.has(chainId))));

    for (const [chainId, count] of linkedPerChain) {
      await recordAudit(tx, {
        organisationId: heads.get(chainId)!.organisationId,
        actor: SYSTEM_ACTOR,
        action: 'audit.chain_upgrade',
        outcome: brokenAt === null ? 'success' : 'failure',
        details: { linkedEvents: count, legacyEvents: linked, legacyChainIntact: brokenAt === null, legacyBrokenAtEvent: brokenAt, legacyHeadHash: prev },
      });
    }
    return { linked, legacyIntact: brokenAt === null, legacyBrokenAt: brokenAt, legacyHeadHash: prev };
  });
}
