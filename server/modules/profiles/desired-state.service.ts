import { NotFoundError } from '../../domain/errors';
import type { DesiredStatePort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import { schoolsOf } from '../access/principal';
import type { Caller } from '../commands/command-intent';
import * as states from './desired-state.repository';
import { profileIdsOf } from './desired-state.repository';
import type { PoliciesOf } from './profile-policies';
import type { DesiredStateView } from './profiles-api.schemas';
import * as repo from './profiles.repository';

/** Platforms whose devices take a desired state today (the agent); the others keep theirs until their adapter does. */
const POLICY_PLATFORMS: ReadonlySet<string> = new Set(['android']);

/**
 * Desired state as devices and people see it: what a device must hold (computed at once for a
 * device that enrolls or connects), what it reported, and how the two differ.
 */
export function createDesiredStateService(deps: { db: Db; policiesOf: PoliciesOf }) {
  const { db, policiesOf } = deps;

  /** Brings one device's desired state up to date; no command: the caller hands the state over itself. */
  async function refresh(deviceId: string): Promise<states.DesiredStateRow | undefined> {
    const device = await states.deviceOrganisation(db, deviceId);
    if (!device) return undefined;
    const selection = { deviceId };
    // Read without the organisation's lock first: a device that connects almost never has a new set.
    const peek = await states.scanChunk(db, device.organisationId, selection, null, 1);
    if (peek.sets.length) {
      await db.transaction(async (tx) => {
        await states.lockOrganisationStates(tx, device.organisationId);
        const scan = await states.scanChunk(tx, device.organisationId, selection, null, 1);
        if (!scan.last || !scan.sets.length) return;
        await states.writeChunk(tx, { organisationId: device.organisationId, selection, after: null, upTo: scan.last, policies: await policiesOf(tx, scan.sets) });
      });
    }
    return states.findDesiredState(db, deviceId);
  }

  const port: DesiredStatePort = {
    async current(deviceId) {
      const row = await refresh(deviceId);
      if (!row) return { version: 0, policy: {} };
      const [compiled] = await policiesOf(db, [row.profiles]);
      return { version: row.version, policy: compiled!.policy };
    },
    announced: (deviceId, version) => states.recordAnnounced(db, deviceId, version),
    applied: (deviceId, version, nonCompliance) => states.recordApplied(db, deviceId, version, nonCompliance),
    rejected: (deviceId, version, errors) => states.recordRejected(db, deviceId, version, errors),
  };

  return {
    port,

    async view(caller: Caller, deviceId: string): Promise<DesiredStateView> {
      const device = await states.deviceForView(db, caller.scope.organisationId, schoolsOf(caller.scope), deviceId);
      if (!device) throw new NotFoundError('Device');
      const row = await states.findDesiredState(db, deviceId);
      const ids = profileIdsOf(row?.profiles ?? {});
      const current = new Map((await repo.profileBodies(db, ids)).map((p) => [p.id, p]));
      const version = row?.version ?? 0;
      const applied = row?.appliedVersion !== null && row?.appliedVersion !== undefined && row.appliedVersion >= version;
      const rejected = row?.rejectedVersion !== null && row?.rejectedVersion !== undefined && row.rejectedVersion >= version;
      const nonCompliance = applied ? (row?.nonCompliance ?? []) : [];
      const perProfile = applied && !nonCompliance.length ? ('applied' as const) : rejected || nonCompliance.length ? ('failed' as const) : ('pending' as const);
      const mismatches: DesiredStateView['mismatches'] = [];
      if (row && version > 0) {
        if (!POLICY_PLATFORMS.has(device.platform)) mismatches.push({ reason: 'platform_not_supported', message: `${device.platform} devices do not take a desired state from Cartable yet` });
        else if (rejected) mismatches.push({ reason: 'rejected', message: `The device refused version ${row.rejectedVersion}`, details: row.rejectionErrors });
        else if (!applied) mismatches.push({ reason: 'not_applied', message: row.appliedVersion ? `The device applied version ${row.appliedVersion}, not yet ${version}` : `The device has not applied version ${version} yet` });
        if (nonCompliance.length) mismatches.push({ reason: 'non_compliant', message: `${nonCompliance.length} setting(s) could not be applied`, details: nonCompliance });
        for (const id of ids) {
          const v = row.profiles[id]!;
          const now = current.get(id);
          if (!now || now.version !== v) mismatches.push({ reason: 'profile_changed', profileId: id, message: now ? `Version ${now.version} of the profile is on its way (this state holds ${v})` : 'The profile was deleted; a state without it is on its way' });
        }
      }
      const status = !row ? 'none' : rejected || nonCompliance.length ? 'failed' : applied ? 'compliant' : 'pending';
      return {
        deviceId,
        status,
        desired: {
          version,
          at: row?.desiredAt.toISOString() ?? null,
          profiles: ids.map((id) => ({ id, name: String(current.get(id)?.body.name ?? '(deleted)'), version: row!.profiles[id]!, status: perProfile })),
        },
        applied: { version: row?.appliedVersion ?? null, at: row?.appliedAt?.toISOString() ?? null, nonCompliance },
        rejected: row?.rejectedVersion ? { version: row.rejectedVersion, errors: row.rejectionErrors } : null,
        mismatches,
      };
    },

    async compliance(caller: Caller, profileId: string) {
      const profile = await repo.findProfile(db, caller.scope.organisationId, profileId);
      if (!profile) throw new NotFoundError('Profile');
      const counts = await states.complianceCounts(db, caller.scope.organisationId, schoolsOf(caller.scope), profileId);
      return { profileId, version: profile.version, devices: counts.compliant + counts.pending + counts.failed, ...counts };
    },
  };
}
export type DesiredStateService = ReturnType<typeof createDesiredStateService>;
