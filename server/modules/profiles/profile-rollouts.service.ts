import { randomUUID } from 'node:crypto';
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
 * Turns catalog changes into desired states and commands: `apply_policy` for agents, and one
 * `install_profile` / `remove_profile` per profile for iPads and Windows tablets. A change writes a
 * rollout row (an outbox) with its audit event; the rollout walks the devices the change can
 * reach in id ranges, and for each chunk one statement finds the devices whose effective set
 * changed, the distinct sets among them are compiled (a handful), and one statement stores their
 * new desired states and commands. Nothing loads the fleet into memory.
 */
export function createProfileRollouts(deps: ProfileRolloutsDeps) {
  const { db, platforms, policiesOf } = deps;
  const chunkSize = deps.chunkSize ?? 5000;

  /**
   * Who takes what: a platform that takes `apply_policy` gets the whole state in one command; one
   * that takes `install_profile` but not `apply_policy` gets each profile on its own.
   */
  function commandRules(): Pick<states.ChunkCommands, 'rules' | 'profileRules' | 'listRules'> {
    const rules = platforms.eligibility('apply_policy');
    const whole = new Set(rules.map((r) => r.platform));
    const profileRules = platforms.eligibility('install_profile').filter((r) => !whole.has(r.platform));
    const piecewise = new Set(profileRules.map((r) => r.platform));
    return { rules, profileRules, listRules: platforms.eligibility('profile_list').filter((r) => piecewise.has(r.platform)) };
  }

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
          commands: { ...commandRules(), rolloutId: rollout.id, batchId: rollout.id, issuedBy: rollout.issuedBy, expiresAt: new Date(Date.now() + POLICY_TTL_MS) },
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

    /**
     * Brings one device to its effective set and queues what it needs: for a device that just
     * enrolled on a platform whose edge does not hand the state over itself (iPads, Windows tablets).
     */
    async converge(deviceId: string): Promise<number> {
      const device = await states.deviceOrganisation(db, deviceId);
      if (!device) return 0;
      const written = await db.transaction(async (tx) => {
        await states.lockOrganisationStates(tx, device.organisationId);
        const selection = { deviceId };
        const scan = await states.scanChunk(tx, device.organisationId, selection, null, 1);
        if (!scan.last || !scan.sets.length) return null;
        return states.writeChunk(tx, {
          organisationId: device.organisationId,
          selection,
          after: null,
          upTo: scan.last,
          policies: await policiesOf(tx, scan.sets),
          commands: { ...commandRules(), rolloutId: randomUUID(), batchId: null, issuedBy: null, expiresAt: new Date(Date.now() + POLICY_TTL_MS) },
        });
      });
      if (written) await platforms.wake(written.woken);
      return written?.inserted ?? 0;
    },

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
