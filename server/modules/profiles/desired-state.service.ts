import { NotFoundError } from '../../domain/errors';
import type { Platform } from '../../domain/devices';
import type { DesiredStatePort } from '../../domain/platform-ports';
import type { Db } from '../../infra/db/client';
import { schoolsOf } from '../access/principal';
import { deviceApps } from '../apps/app-assignments.repository';
import { appsStatus, assignedAppsView } from '../apps/assigned-apps.view';
import type { Caller } from '../commands/command-intent';
import * as states from './desired-state.repository';
import { profileIdsOf } from './desired-state.repository';
import type { PoliciesOf } from './profile-policies';
import type { DesiredStateView } from './profiles-api.schemas';
import * as repo from './profiles.repository';

/**
 * Desired state as devices and people see it: what a device must hold (computed at once for a
 * device that enrolls or connects), what it reported, and how the two differ.
 */
export function createDesiredStateService(deps: {
  db: Db;
  policiesOf: PoliciesOf;
  /** Platforms whose devices take the whole state as one policy; the others take profiles one by one. */
  policyPlatforms(): readonly Platform[];
}) {
  const { db, policiesOf } = deps;
  const peekDevice = states.peekDeviceStatement(db);

  /** Brings one device's desired state up to date; no command: the caller hands the state over itself. */
  async function refresh(deviceId: string): Promise<states.DesiredStateRow | undefined> {
    // One statement without the organisation's lock first: a device that connects almost never has a new set.
    const peek = await peekDevice(deviceId);
    if (!peek) return undefined;
    if (!peek.changed) return peek.row;
    const { organisationId } = peek;
    const selection = { deviceId };
    await db.transaction(async (tx) => {
      await states.lockOrganisationStates(tx, organisationId);
      const scan = await states.scanChunk(tx, organisationId, selection, null, 1);
      if (!scan.last || !scan.sets.length) return;
      await states.writeChunk(tx, { organisationId, selection, after: null, upTo: scan.last, policies: await policiesOf(tx, scan.sets) });
    });
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
    async commandOutcome(deviceId, outcome) {
      if (outcome.status === 'succeeded') {
        await states.recordProfileOutcome(db, deviceId, outcome.commandId, { succeeded: true });
        const listed = outcome.result?.profiles;
        if (Array.isArray(listed)) await states.recordProfileList(db, deviceId, listed.flatMap((p: { profileId?: unknown }) => (typeof p.profileId === 'string' ? [p.profileId] : [])));
      } else if (outcome.status === 'failed' || outcome.status === 'expired') {
        await states.recordProfileOutcome(db, deviceId, outcome.commandId, { succeeded: false, error: outcome.error ?? { code: outcome.status, message: `The command ${outcome.status}` } });
      }
    },
  };

  /** The view of a device that takes profiles one by one: each profile stands on its own install. */
  async function piecewiseView(deviceId: string, row: states.DesiredStateRow | undefined, current: Map<string, { body: Record<string, unknown>; version: number }>): Promise<Omit<DesiredStateView, 'apps'>> {
    const sent = new Map((await states.deviceProfilesOf(db, deviceId)).map((r) => [r.profileId, r]));
    const wanted = row?.profiles ?? {};
    const mismatches: DesiredStateView['mismatches'] = [];
    const profiles = Object.entries(wanted).map(([id, version]) => {
      const piece = sent.get(id);
      const now = current.get(id);
      let status: 'applied' | 'pending' | 'failed' = 'pending';
      if (piece?.version === version && piece.status === 'installed') status = 'applied';
      else if (piece?.version === version && piece.status === 'failed') {
        status = 'failed';
        mismatches.push({ reason: 'rejected', profileId: id, message: `The device did not install version ${version}: ${piece.error?.message ?? 'no reason given'}`, details: piece.error ? [piece.error] : [] });
      } else mismatches.push({ reason: 'not_applied', profileId: id, message: piece?.status === 'installed' ? `The device holds version ${piece.version}, not yet ${version}` : `The device has not installed version ${version} yet` });
      if (!now || now.version !== version) mismatches.push({ reason: 'profile_changed', profileId: id, message: now ? `Version ${now.version} of the profile is on its way (this state holds ${version})` : 'The profile was deleted; its removal is on its way' });
      return { id, name: String(now?.body.name ?? '(deleted)'), version, status };
    });
    for (const [id, piece] of sent) {
      if (id in wanted) continue;
      mismatches.push({ reason: 'not_removed', profileId: id, message: piece.status === 'failed' ? `The device did not remove the profile ${piece.slug}: ${piece.error?.message ?? 'no reason given'}` : `The removal of the profile ${piece.slug} is on its way`, details: piece.error ? [piece.error] : [] });
    }
    const failed = profiles.some((p) => p.status === 'failed') || [...sent.values()].some((p) => p.status === 'failed' && !(p.profileId in wanted));
    const status = !row && !sent.size ? 'none' : failed ? 'failed' : mismatches.length ? 'pending' : 'compliant';
    const installed = [...sent.values()].filter((p) => p.status === 'installed');
    return {
      deviceId,
      status,
      desired: { version: row?.version ?? 0, at: row?.desiredAt.toISOString() ?? null, profiles },
      applied: { version: null, at: installed.length ? new Date(Math.max(...installed.map((p) => p.updatedAt.getTime()))).toISOString() : null, nonCompliance: [] },
      rejected: null,
      mismatches,
    };
  }

  /** The profiles part of the view: the whole policy for agents, profile by profile for the others. */
  async function profilesView(device: { platform: Platform }, deviceId: string): Promise<Omit<DesiredStateView, 'apps'>> {
    const row = await states.findDesiredState(db, deviceId);
    const ids = profileIdsOf(row?.profiles ?? {});
    const current = new Map((await repo.profileBodies(db, ids)).map((p) => [p.id, p]));
    if (!deps.policyPlatforms().includes(device.platform)) return piecewiseView(deviceId, row, current);
    const version = row?.version ?? 0;
    const applied = row?.appliedVersion !== null && row?.appliedVersion !== undefined && row.appliedVersion >= version;
    const rejected = row?.rejectedVersion !== null && row?.rejectedVersion !== undefined && row.rejectedVersion >= version;
    const nonCompliance = applied ? (row?.nonCompliance ?? []) : [];
    const perProfile = applied && !nonCompliance.length ? ('applied' as const) : rejected || nonCompliance.length ? ('failed' as const) : ('pending' as const);
    const mismatches: DesiredStateView['mismatches'] = [];
    if (row && version > 0) {
      if (rejected) mismatches.push({ reason: 'rejected', message: `The device refused version ${row.rejectedVersion}`, details: row.rejectionErrors });
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
  }

  return {
    port,

    /** Profiles and assigned apps, desired beside applied, with the reason for each difference. */
    async view(caller: Caller, deviceId: string): Promise<DesiredStateView> {
      const device = await states.deviceForView(db, caller.scope.organisationId, schoolsOf(caller.scope), deviceId);
      if (!device) throw new NotFoundError('Device');
      const [profiles, appRows] = await Promise.all([profilesView(device, deviceId), deviceApps(db, caller.scope.organisationId, deviceId)]);
      const apps = assignedAppsView(appRows);
      const both = [profiles.status, appRows.length ? appsStatus(apps) : 'none'];
      const status = both.includes('failed') ? 'failed' : both.includes('pending') ? 'pending' : both.includes('compliant') ? 'compliant' : 'none';
      return { ...profiles, status, apps: apps.apps, mismatches: [...profiles.mismatches, ...apps.mismatches] };
    },

    async compliance(caller: Caller, profileId: string) {
      const profile = await repo.findProfile(db, caller.scope.organisationId, profileId);
      if (!profile) throw new NotFoundError('Profile');
      const counts = await states.complianceCounts(db, caller.scope.organisationId, schoolsOf(caller.scope), profileId, deps.policyPlatforms());
      return { profileId, version: profile.version, devices: counts.compliant + counts.pending + counts.failed, ...counts };
    },
  };
}
export type DesiredStateService = ReturnType<typeof createDesiredStateService>;
