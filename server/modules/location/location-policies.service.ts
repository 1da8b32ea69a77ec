import { ForbiddenError, InvalidInputError, NotFoundError } from '../../domain/errors';
import { minutesOf, type LocationPolicyScope, type LocationRules } from '../../domain/location';
import type { Db, DbOrTx } from '../../infra/db/client';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { findCommune, findSchool } from '../organisation/organisation.repository';
import type { ProfileRollouts } from '../profiles/profile-rollouts.service';
import { insertRollout } from '../profiles/profiles.repository';
import * as repo from './location-policies.repository';
import type { EffectivePolicyView, LocationPolicyBody, LocationPolicyView, LocationSettingsBody } from './location.schemas';

type Problem = { path: string; message: string };

/** What the schema cannot say: hours that end before they start, dates in the wrong order, what `school_hours` needs. */
export function policyProblems(body: LocationPolicyBody): Problem[] {
  const problems: Problem[] = [];
  (body.hours ?? []).forEach((h, i) => {
    if (minutesOf(h.end) <= minutesOf(h.start)) problems.push({ path: `/hours/${i}/end`, message: 'must be after start' });
  });
  (body.excludedDates ?? []).forEach((d, i) => {
    if (Number.isNaN(Date.parse(`${d.from}T00:00:00Z`))) problems.push({ path: `/excludedDates/${i}/from`, message: 'is not a date' });
    if (Number.isNaN(Date.parse(`${d.to}T00:00:00Z`))) problems.push({ path: `/excludedDates/${i}/to`, message: 'is not a date' });
    else if (d.to < d.from) problems.push({ path: `/excludedDates/${i}/to`, message: 'must not be before from' });
  });
  if (body.mode === 'school_hours') {
    if (!body.hours?.length) problems.push({ path: '/hours', message: 'school_hours needs the school’s hours' });
    if (body.intervalMinutes === undefined) problems.push({ path: '/intervalMinutes', message: 'school_hours needs an interval' });
  } else if (body.intervalMinutes !== undefined) {
    problems.push({ path: '/intervalMinutes', message: 'only school_hours reports periodically' });
  }
  return problems;
}

function view(row: repo.LocationPolicyRow): LocationPolicyView {
  return { scopeType: row.scopeType, scopeId: row.scopeId, mode: row.mode, intervalMinutes: row.intervalMinutes, hours: row.hours, excludedDates: row.excludedDates, version: row.version, updatedAt: row.updatedAt.toISOString() };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Location policies per organisation, commune and school. A change is a rollout of desired
 * states, like a profile assignment: devices under it receive their new `locationReporting`.
 */
export function createLocationPoliciesService(deps: { db: Db; rollouts: Pick<ProfileRollouts, 'start'> }) {
  const { db, rollouts } = deps;

  /** The place, within the caller's reach; the organisation needs a grant on all of it. */
  async function place(tx: DbOrTx, caller: Caller, scopeType: LocationPolicyScope, rawId: string): Promise<{ scopeId: string | null; schoolId: string | null; communeId: string | null }> {
    if (scopeType === 'organisation') {
      if (rawId !== '-') throw new InvalidInputError('The organisation is named `-`', 'invalid_scope');
      if (!caller.scope.all) throw new ForbiddenError('The organisation’s policy needs a grant on the whole organisation', 'scope_beyond_reach');
      return { scopeId: null, schoolId: null, communeId: null };
    }
    if (!UUID.test(rawId)) throw new NotFoundError(scopeType === 'school' ? 'School' : 'Commune');
    const id = rawId.toLowerCase();
    if (scopeType === 'school') {
      if (!(await findSchool(tx, caller.scope, id))) throw new NotFoundError('School');
      return { scopeId: id, schoolId: id, communeId: null };
    }
    if (!(await findCommune(tx, caller.scope, id))) throw new NotFoundError('Commune');
    return { scopeId: id, schoolId: null, communeId: id };
  }

  function audit(tx: DbOrTx, caller: Caller, action: string, where: { scopeId: string | null; schoolId: string | null; communeId: string | null }, scopeType: LocationPolicyScope, details: Record<string, unknown>) {
    return recordAudit(tx, {
      organisationId: caller.scope.organisationId,
      actor: caller.actor,
      action,
      target: { type: `location_policy.${scopeType}`, id: where.scopeId ?? caller.scope.organisationId },
      schoolId: where.schoolId,
      communeId: where.communeId,
      outcome: 'success',
      details,
    });
  }

  function rollout(tx: DbOrTx, caller: Caller, policyId: string, scopeType: LocationPolicyScope, scopeId: string | null) {
    return insertRollout(tx, { organisationId: caller.scope.organisationId, reason: 'location_policy', profileId: policyId, scopeType, scopeKey: scopeId ?? '', issuedBy: caller.principal.userId });
  }

  return {
    async get(caller: Caller, scopeType: LocationPolicyScope, rawId: string): Promise<LocationPolicyView | null> {
      const where = await place(db, caller, scopeType, rawId);
      const row = await repo.findPolicy(db, caller.scope.organisationId, scopeType, where.scopeId);
      return row ? view(row) : null;
    },

    async set(caller: Caller, scopeType: LocationPolicyScope, rawId: string, body: LocationPolicyBody) {
      const problems = policyProblems(body);
      if (problems.length) throw new InvalidInputError(`Invalid location policy: ${problems.map((p) => `${p.path} ${p.message}`).join('; ')}`, 'invalid_location_policy', { errors: problems });
      const { row, rolloutId } = await db.transaction(async (tx) => {
        const where = await place(tx, caller, scopeType, rawId);
        const previous = await repo.findPolicy(tx, caller.scope.organisationId, scopeType, where.scopeId);
        const row = await repo.upsertPolicy(tx, {
          organisationId: caller.scope.organisationId,
          scopeType,
          scopeId: where.scopeId,
          mode: body.mode,
          intervalMinutes: body.intervalMinutes ?? null,
          hours: body.hours ?? [],
          excludedDates: body.excludedDates ?? [],
          updatedBy: caller.principal.userId,
        });
        const r = await rollout(tx, caller, row.id, scopeType, where.scopeId);
        await audit(tx, caller, 'location.policy.set', where, scopeType, { mode: body.mode, previousMode: previous?.mode ?? null, intervalMinutes: row.intervalMinutes, hours: row.hours, excludedDates: row.excludedDates.length, version: row.version, rolloutId: r.id });
        return { row, rolloutId: r.id };
      });
      return { policy: view(row), rollout: await rollouts.start(rolloutId) };
    },

    /** Removes the scope's own policy: its places take the one above again. */
    async remove(caller: Caller, scopeType: LocationPolicyScope, rawId: string) {
      const rolloutId = await db.transaction(async (tx) => {
        const where = await place(tx, caller, scopeType, rawId);
        const row = await repo.findPolicy(tx, caller.scope.organisationId, scopeType, where.scopeId);
        if (!row) throw new NotFoundError('Location policy');
        await repo.deletePolicy(tx, row.id);
        const r = await rollout(tx, caller, row.id, scopeType, where.scopeId);
        await audit(tx, caller, 'location.policy.remove', where, scopeType, { previousMode: row.mode, rolloutId: r.id });
        return r.id;
      });
      return { rollout: await rollouts.start(rolloutId) };
    },

    /** The policy in force at a school and where it comes from. */
    async effectiveForSchool(caller: Caller, schoolId: string): Promise<EffectivePolicyView> {
      if (!(await findSchool(db, caller.scope, schoolId))) throw new NotFoundError('School');
      const { school, policies } = await repo.chainOfSchool(db, caller.scope.organisationId, schoolId);
      const nearest = policies[0];
      const own = policies.find((p) => p.scopeType === 'school');
      return {
        schoolId,
        timeZone: school!.timezone,
        inheritedFrom: nearest?.scopeType ?? null,
        own: own ? view(own) : null,
        effective: nearest ? { mode: nearest.mode, intervalMinutes: nearest.intervalMinutes, hours: nearest.hours, excludedDates: nearest.excludedDates } : { mode: 'off', intervalMinutes: null, hours: [], excludedDates: [] },
      };
    },

    settings: (caller: Caller) => repo.locationSettings(db, caller.scope.organisationId),

    async saveSettings(caller: Caller, body: LocationSettingsBody) {
      await db.transaction(async (tx) => {
        const previous = await repo.locationSettings(tx, caller.scope.organisationId);
        await repo.saveLocationSettings(tx, caller.scope.organisationId, body);
        await recordAudit(tx, {
          organisationId: caller.scope.organisationId,
          actor: caller.actor,
          action: 'location.settings.update',
          target: { type: 'organisation', id: caller.scope.organisationId },
          outcome: 'success',
          details: { directorsReadPositions: body.directorsReadPositions, previousDirectorsReadPositions: previous.directorsReadPositions, alertEmails: body.alertEmails.length },
        });
      });
      return body;
    },
  };
}
export type LocationPoliciesService = ReturnType<typeof createLocationPoliciesService>;

/** The rules in force for a device, where it is: its school's chain, nearest first; null when none is set or it is `off`. */
export async function rulesForDevice(db: DbOrTx, deviceId: string): Promise<{ rules: LocationRules | null; organisationId: string; schoolId: string } | null> {
  const device = await repo.deviceSchool(db, deviceId);
  if (!device) return null;
  const { school, policies } = await repo.chainOfSchool(db, device.organisationId, device.schoolId);
  const nearest = policies[0];
  return { ...device, rules: nearest && school && nearest.mode !== 'off' ? repo.rulesOf(nearest, school.timezone) : null };
}
