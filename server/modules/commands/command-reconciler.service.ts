import type { Db } from '../../infra/db/client';
import type { CommandBatchesService } from './command-batches.service';
import * as repo from './commands.repository';
import type { PlatformRegistry } from './platform-registry';

export interface ReconcilerDeps {
  db: Db;
  platforms: PlatformRegistry;
  batches: Pick<CommandBatchesService, 'resumePending'>;
  ackTimeoutSec: number;
  minAgentVersionCode: number | null;
}

/** A queued command older than this whose device did not come for it lost its wake-up: wake it again. */
const QUEUED_GRACE_SEC = 5;
const RECONCILE_BATCH = 20000;

/**
 * Everything Redis carries can vanish (a flush, a crash): this rebuilds it from PostgreSQL. It
 * expires what is overdue, wakes devices whose work stalled, and finishes pending bulk batches.
 */
export function createCommandReconciler(deps: ReconcilerDeps) {
  return {
    async reconcile(): Promise<{ expired: number; woken: number; batchCommands: number }> {
      const expired = await repo.expireOverdue(deps.db);
      const stalled = await repo.devicesWithStalledCommands(deps.db, deps.ackTimeoutSec, QUEUED_GRACE_SEC, RECONCILE_BATCH, deps.minAgentVersionCode);
      await deps.platforms.wake(stalled);
      const batchCommands = await deps.batches.resumePending();
      return { expired, woken: stalled.length, batchCommands };
    },
  };
}
export type CommandReconciler = ReturnType<typeof createCommandReconciler>;
