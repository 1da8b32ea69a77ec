import { randomUUID } from 'node:crypto';
import { DomainError } from '../../domain/errors';
import type { Db, DbOrTx } from '../../infra/db/client';
import * as assignedApps from '../apps/app-assignments.repository';
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
  /** The parameters of an `install_app` of a catalog version and of a `remove_app` of a catalog app. */
  appParams: {
    install(organisationId: string, appVersionId: string, expiresAt: Date): Promise<Record<string, unknown>>;
    remove(organisationId: string, appId: string): Promise<Record<string, unknown>>;
  };
  /** Devices per chunk (one transaction, a few statements). */
  chunkSize?: number;
}

type Woken = Awaited<ReturnType<typeof assignedApps.writeAppChunk>>['woken'];
type Issue = Pick<assignedApps.AppCommands, 'rolloutId' | 'batchId' | 'issuedBy' | 'expiresAt'>;

/** A policy waits for its device for a month: a tablet left in a cupboard over the holidays still gets it. */
const POLICY_TTL_MS = 30 * 24 * 3600_000;

/**
 * Turns catalog changes into desired states and commands: `apply_policy` for agents, and one
 * `install_profile` / `remove_profile` per profile for iPads and Windows tablets. A change writes a
 * rollout row (an outbox) with its audit event; the rollout walks the devices the change can
 * reach in id ranges, and for each chunk one statement finds the devices whose effective set
 * changed, the distinct sets among them are compiled (a handful), and one statement stores their
 * new desired states and commands. Nothing loads the fleet into memory. The same chunk brings
 * the devices' assigned apps up to date (`install_app` / `remove_app`), when the change reaches
 * devices by scope.
 */
export function createProfileRollouts(deps: ProfileRolloutsDeps) {
  const { db, platforms, policiesOf } = deps;
  const organisationWithAssignedApps = assignedApps.organisationWithAssignedAppsStatement(db);
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

  /** The assigned apps of a chunk's devices: installs and removals where what was sent differs from what is assigned. */
  async function storeAppChunk(tx: DbOrTx, chunk: Omit<assignedApps.AppChunk, 'install' | 'remove'>, issue: Issue): Promise<{ inserted: number; woken: Woken }> {
    const full = { ...chunk, install: platforms.eligibility('install_app'), remove: platforms.eligibility('remove_app') };
    const scan = await assignedApps.scanAppChunk(tx, full);
    if (!scan.versionIds.length && !scan.appIds.length) return { inserted: 0, woken: [] };
    // A version the catalog can no longer install, or an app gone from it, is left out: its devices
    // keep what they have. Any other failure fails the chunk, which the reconciler runs again.
    const leftOut = (error: unknown) => {
      if (error instanceof DomainError) return null;
      throw error;
    };
    const installParams = await Promise.all(scan.versionIds.map(async (versionId) => ({ versionId, params: await deps.appParams.install(chunk.organisationId, versionId, issue.expiresAt).catch(leftOut) })));
    const removeParams = await Promise.all(scan.appIds.map(async (appId) => ({ appId, params: await deps.appParams.remove(chunk.organisationId, appId).catch(leftOut) })));
    return assignedApps.writeAppChunk(tx, full, {
      ...issue,
      installParams: installParams.flatMap((p) => (p.params ? [{ versionId: p.versionId, params: p.params }] : [])),
      removeParams: removeParams.flatMap((p) => (p.params ? [{ appId: p.appId, params: p.params }] : [])),
    });
  }

  async function storeChunk(rolloutId: string): Promise<{ more: boolean; scanned: number; stored: number; woken: Woken }> {
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
      let written = { changed: 0, inserted: 0, woken: [] as Woken };
      const issue = { rolloutId: rollout.id, batchId: rollout.id, issuedBy: rollout.issuedBy, expiresAt: new Date(Date.now() + POLICY_TTL_MS) };
      if (scan.last && scan.sets.length) {
        written = await states.writeChunk(tx, {
          organisationId: rollout.organisationId,
          selection,
          after: rollout.cursor,
          upTo: scan.last,
          policies: await policiesOf(tx, scan.sets),
          commands: { ...commandRules(), ...issue },
        });
      }
      // A change found through the devices holding a profile cannot change which apps they are assigned.
      if (scan.last && !('holding' in selection)) {
        const apps = await storeAppChunk(tx, { organisationId: rollout.organisationId, selection, after: rollout.cursor, upTo: scan.last }, issue);
        written = { ...written, inserted: written.inserted + apps.inserted, woken: [...written.woken, ...apps.woken] };
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
        const issue = { rolloutId: randomUUID(), batchId: null, issuedBy: null, expiresAt: new Date(Date.now() + POLICY_TTL_MS) };
        const scan = await states.scanChunk(tx, device.organisationId, selection, null, 1);
        if (!scan.last) return null;
        const profiles = scan.sets.length
          ? await states.writeChunk(tx, { organisationId: device.organisationId, selection, after: null, upTo: scan.last, policies: await policiesOf(tx, scan.sets), commands: { ...commandRules(), ...issue } })
          : { inserted: 0, woken: [] as Woken };
        const apps = await storeAppChunk(tx, { organisationId: device.organisationId, selection, after: null, upTo: scan.last }, issue);
        return { inserted: profiles.inserted + apps.inserted, woken: [...profiles.woken, ...apps.woken] };
      });
      if (written) await platforms.wake(written.woken);
      return written?.inserted ?? 0;
    },

    /**
     * Queues one device's assigned apps: for a device whose edge hands its desired state over
     * itself (an agent), which still installs apps by command.
     */
    async convergeApps(deviceId: string): Promise<number> {
      // One cheap look first: most organisations have no app assigned at most enrollments.
      const organisationId = await organisationWithAssignedApps(deviceId);
      if (!organisationId) return 0;
      const chunk = { organisationId, selection: { deviceId }, after: null, upTo: deviceId };
      // Looked at without the organisation's lock first: a device usually has nothing new to queue.
      const peek = await assignedApps.scanAppChunk(db, { ...chunk, install: platforms.eligibility('install_app'), remove: platforms.eligibility('remove_app') });
      if (!peek.versionIds.length && !peek.appIds.length) return 0;
      const written = await db.transaction(async (tx) => {
        await states.lockOrganisationStates(tx, organisationId);
        return storeAppChunk(tx, chunk, { rolloutId: randomUUID(), batchId: null, issuedBy: null, expiresAt: new Date(Date.now() + POLICY_TTL_MS) });
      });
      await platforms.wake(written.woken);
      return written.inserted;
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
