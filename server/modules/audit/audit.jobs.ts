import type { JobHandlers } from '../../infra/queues/registry';
import type { AuditChainService } from './audit-chain.service';

/**
 * The audit capability's background work. A chain that does not verify gets no checkpoint, and
 * the job fails loudly (logged, kept in the failed set) instead of signing a tampered head.
 */
export function auditJobHandlers(chains: AuditChainService): Pick<JobHandlers, 'audit.checkpoint'> {
  return {
    'audit.checkpoint': async () => {
      const { written, skipped, refused } = await chains.checkpoint({ onlyChanged: true });
      if (refused.length) {
        const first = refused[0]!;
        throw new Error(`audit chain ${first.chainId} does not verify, no checkpoint signed: ${first.problem.reason}${first.problem.eventId ? ` (event ${first.problem.eventId})` : ''}`);
      }
      return { written: written.length, skipped };
    },
  };
}
