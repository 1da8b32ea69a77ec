import type { Db } from '../../infra/db/client';
import type { PlatformRegistry } from '../commands/platform-registry';
import * as states from './desired-state.repository';
import type { PoliciesOf } from './profile-policies';
import * as repo from './profiles.repository';

export interface ProfileRolloutsDeps {
  db: Db;
  platforms: PlatformRegistry;
  policiesOf: PoliciesOf;
  /** Up to this many devices are looked at inside the call that made the change; the rest in the background. */
  inlineLimit: number;
  /** Asks a worker to finish a rollout now; best effort, the reconciler resumes it anyway. */
  enqueueRollout(rolloutId: string): Promise<void>;
  /** Devices per chunk (one transaction, two statements). */
  chunkSize?: number;
}

/** A policy waits for its device for a month: a tablet left in a cupboard over the holidays still gets it. */
const POLICY_TTL_MS = 30 * 24 * 3600_000;

/**
 * Turns catalog changes into desired states and `apply_policy` commands. A change writes a
 * rollout row (an outbox) with its audit event; the rollout walks the devices the change can
 * reach in id ranges, and for each chunk one statement finds the devices whose effective set
 * changed, the distinct sets among them are compiled (a handful), and one statement stores their
 * new desired states and commands. Nothing loads the fleet into memory.
 */
export function createProfileRollouts(deps: ProfileRolloutsDeps) {
  const { db, platforms, policiesOf } = deps;
  const chunkSize = deps.chunkSize ?? 5000;

  async function storeChunk(rolloutId: string): Promise<{ more: boolean; scanned: number; stored: number; woken: { id: string; platform: 'android' | 'ios' | 'windows' }[] }> {
    return db.transaction(async (tx) => {
      const rollout = await repo.lockPendingRollout(tx, rolloutId);
      if (!rollout) return { more: false, scanned: 0, stored: 0, woken: [] };
      await states.lockOrganisationStates(tx, rollout.organisationId);
      // A chunk lost in a crash is lost whole, cursor included (one transaction), and its rollout
      // row is still pending: the reconciler stores it again, with the same command ids. So the
      // chunk need not wait for its commit to reach the disk.
      await states.relaxCommit(tx);
      const selection: states.DeviceSelection = rollout.scopeType ? { scopeType: rollout.scopeType, scopeKey: rollout.scopeKey! } : { holding: rollout.profileId };
      const scan = await states.scanChunk(tx, rollout.organisationId, selection, rollout.cursor, chunkSize);
      let written = { changed: 0, inserted: 0, woken: [] as { id: string; platform: 'android' | 'ios' | 'windows' }[] };
      if (scan.last && scan.sets.length) {
        written = await states.writeChunk(tx, {
          organisationId: rollout.organisationId,
          selection,
          after: rollout.cursor,
          upTo: scan.last,
          policies: await policiesOf(tx, scan.sets),
          commands: { rolloutId: rollout.id, issuedBy: rollout.issuedBy, expiresAt: new Date(Date.now() + POLICY_TTL_MS), rules: platforms.eligibility('apply_policy') },
        });
      }
      const done = scan.scanned < chunkSize;
      await repo.advanceRollout(tx, rollout.id, { cursor: scan.last ?? rollout.cursor, changed: written.changed, commands: written.inserted, done });
      return { more: !done, scanned: scan.scanned, stored: written.inserted, woken: written.woken };
    });
  }

  /** Stores a rollout's remaining chunks; safe to run twice at once or after a crash. */
  async function run(rolloutId: string, limit = Infinity): Promise<{ done: boolean; scanned: number; stored: number }> {
    let scanned = 0;
    let stored = 0;
    for (;;) {
      const chunk = await storeChunk(rolloutId);
      scanned += chunk.scanned;
      stored += chunk.stored;
      await platforms.wake(chunk.woken);
      if (!chunk.more) return { done: true, scanned, stored };
      if (scanned >= limit) return { done: false, scanned, stored };
    }
  }

  return {
    run,

    /** Right after the change commits: small changes finish in the call, larger ones go to a worker. */
    async start(rolloutId: string) {
      const { done } = await run(rolloutId, deps.inlineLimit);
      if (!done) await deps.enqueueRollout(rolloutId).catch(() => undefined);
      const row = await repo.findRollout(db, rolloutId);
      return { id: rolloutId, state: row!.status, changed: row!.changed, commands: row!.commands };
    },

    /** Resumes every rollout left pending (its job lost in a Redis flush, its worker killed); the commands it stored. */
    async resumePending(limit = 20): Promise<number> {
      let stored = 0;
      for (const id of await repo.pendingRolloutIds(db, limit)) stored += (await run(id)).stored;
      return stored;
    },
  };
}
export type ProfileRollouts = ReturnType<typeof createProfileRollouts>;
