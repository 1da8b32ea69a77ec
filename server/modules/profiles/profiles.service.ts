import { ConflictError, ForbiddenError, InvalidInputError, NotFoundError } from '../../domain/errors';
import type { Db, DbOrTx } from '../../infra/db/client';
import type { ProfileScopeType, RolloutReason } from '../../infra/db/schema';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { assignablePlace, reaches, scopeKeyOf } from './assignment-scope';
import type { ProfileRollouts } from './profile-rollouts.service';
import type { ProfileCompilers } from './profile-compilers.port';
import { checkProfile } from './profile-validation';
import type { NeutralProfile, ProfilePlatform } from './profile.schemas';
import type { AssignmentBody } from './profiles-api.schemas';
import * as repo from './profiles.repository';

export interface ProfilesDeps {
  db: Db;
  compilers: ProfileCompilers;
  rollouts: ProfileRollouts;
}

function assignmentView(row: repo.AssignmentRow) {
  return { id: row.id, profileId: row.profileId, scopeType: row.scopeType, scopeId: row.scopeKey === '' ? null : row.scopeKey, createdAt: row.createdAt.toISOString() };
}

function profileView(row: repo.ProfileRow, assignments: repo.AssignmentRow[]) {
  return {
    id: row.id,
    slug: row.slug,
    name: row.name,
    description: row.description,
    version: row.version,
    body: row.body,
    assignments: assignments.map(assignmentView),
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/** The body as stored: checked whole (every problem with its JSON Pointer), numbered by the server. */
function checked(body: Record<string, unknown>, version: number): NeutralProfile {
  const result = checkProfile({ ...body, version });
  if (!result.ok) throw new InvalidInputError(`The profile has ${result.problems.length} problem(s)`, 'invalid_profile', { problems: result.problems });
  return result.profile;
}

/**
 * The organisation's profile catalog and its assignments. Every change commits with its audit
 * event and the rollout that carries it to the devices (profile-rollouts.service.ts).
 */
export function createProfilesService(deps: ProfilesDeps) {
  const { db, compilers, rollouts } = deps;

  async function profileOf(caller: Caller, id: string, tx: DbOrTx = db, forUpdate = false): Promise<repo.ProfileRow> {
    const row = await repo.findProfile(tx, caller.scope.organisationId, id, forUpdate);
    if (!row) throw new NotFoundError('Profile');
    return row;
  }

  /** A change to a profile reaches every device it is assigned to: all of them must be within the caller's reach. */
  async function assertWithinReach(tx: DbOrTx, caller: Caller, profileId: string): Promise<void> {
    if (caller.scope.all) return;
    for (const a of await repo.assignmentsOf(tx, profileId)) {
      if (!(await reaches(tx, caller.scope, a.scopeType, a.scopeKey))) {
        throw new ForbiddenError('The profile is assigned beyond your reach: only someone whose grant covers every assignment may change it', 'profile_assigned_beyond_reach');
      }
    }
  }

  async function audit(tx: DbOrTx, caller: Caller, action: string, profileId: string, details: Record<string, unknown>, place?: { schoolId: string | null; communeId: string | null }) {
    await recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action, target: { type: 'profile', id: profileId }, outcome: 'success', details, ...(place ?? {}) });
  }

  function rollout(tx: DbOrTx, caller: Caller, reason: RolloutReason, profileId: string, scope?: { type: ProfileScopeType; key: string }) {
    return repo.insertRollout(tx, {
      organisationId: caller.scope.organisationId,
      reason,
      profileId,
      scopeType: scope?.type ?? null,
      scopeKey: scope?.key ?? null,
      issuedBy: caller.principal.userId,
    });
  }

  return {
    async list(caller: Caller) {
      const [rows, assignments] = await Promise.all([repo.listProfiles(db, caller.scope.organisationId), repo.assignmentsByProfile(db, caller.scope.organisationId)]);
      return rows.map((r) => profileView(r, assignments.get(r.id) ?? []));
    },

    async get(caller: Caller, id: string) {
      const row = await profileOf(caller, id);
      return profileView(row, await repo.assignmentsOf(db, id));
    },

    validate(body: Record<string, unknown>) {
      const result = checkProfile({ version: 1, ...body });
      return { valid: result.ok, problems: result.ok ? [] : result.problems };
    },

    async create(caller: Caller, body: Record<string, unknown>) {
      const profile = checked(body, 1);
      const row = await db.transaction(async (tx) => {
        const row = await repo.insertProfile(tx, {
          organisationId: caller.scope.organisationId,
          slug: profile.id,
          name: profile.name,
          description: profile.description ?? null,
          version: 1,
          body: profile as unknown as Record<string, unknown>,
          createdBy: caller.principal.userId,
        });
        if (!row) throw new ConflictError(`A profile with id "${profile.id}" is already in the catalog`, 'profile_exists');
        await audit(tx, caller, 'profile.create', row.id, { slug: row.slug, version: 1 });
        return row;
      });
      return { profile: profileView(row, []), rollout: null };
    },

    /** A new version: devices holding the profile get their new desired state. */
    async update(caller: Caller, id: string, body: Record<string, unknown>) {
      const { row, rolloutId } = await db.transaction(async (tx) => {
        const current = await profileOf(caller, id, tx, true);
        await assertWithinReach(tx, caller, id);
        const profile = checked(body, current.version + 1);
        if (profile.id !== current.slug) throw new InvalidInputError(`The profile's id is "${current.slug}" and stays so: create another profile for another id`, 'invalid_profile', { problems: [{ path: '/id', message: `must stay "${current.slug}"` }] });
        const row = await repo.updateProfileRow(tx, id, { name: profile.name, description: profile.description ?? null, version: profile.version, body: profile as unknown as Record<string, unknown> });
        const r = await rollout(tx, caller, 'edit', id);
        await audit(tx, caller, 'profile.update', id, { slug: row.slug, version: row.version, rolloutId: r.id });
        return { row, rolloutId: r.id };
      });
      return { profile: profileView(row, await repo.assignmentsOf(db, id)), rollout: await rollouts.start(rolloutId) };
    },

    /** Devices holding it get a desired state without it. */
    async remove(caller: Caller, id: string) {
      const rolloutId = await db.transaction(async (tx) => {
        const current = await profileOf(caller, id, tx, true);
        await assertWithinReach(tx, caller, id);
        await repo.deleteProfileRow(tx, id);
        const r = await rollout(tx, caller, 'delete', id);
        await audit(tx, caller, 'profile.delete', id, { slug: current.slug, version: current.version, rolloutId: r.id });
        return r.id;
      });
      return { rollout: await rollouts.start(rolloutId) };
    },

    async preview(caller: Caller, id: string, platform: ProfilePlatform) {
      const row = await profileOf(caller, id);
      const { output, warnings } = compilers.preview(row.body as unknown as NeutralProfile, platform);
      return { profileId: row.id, version: row.version, platform, output, warnings };
    },

    /** Assigning twice to the same scope changes nothing and queues nothing. */
    async assign(caller: Caller, id: string, body: AssignmentBody) {
      const type = body.scopeType;
      const scopeKey = scopeKeyOf(body);
      const result = await db.transaction(async (tx) => {
        await profileOf(caller, id, tx, true);
        const place = await assignablePlace(tx, caller.scope, type, scopeKey);
        const { row, created } = await repo.insertAssignment(tx, { organisationId: caller.scope.organisationId, profileId: id, scopeType: type, scopeKey, createdBy: caller.principal.userId });
        if (!created) return { row, created, rolloutId: null };
        const r = await rollout(tx, caller, 'assign', id, { type, key: scopeKey });
        await audit(tx, caller, 'profile.assign', id, { assignmentId: row.id, scopeType: type, scopeId: scopeKey || null, rolloutId: r.id }, place);
        return { row, created, rolloutId: r.id };
      });
      return { assignment: assignmentView(result.row), created: result.created, rollout: result.rolloutId ? await rollouts.start(result.rolloutId) : null };
    },

    async unassign(caller: Caller, id: string, assignmentId: string) {
      const rolloutId = await db.transaction(async (tx) => {
        await profileOf(caller, id, tx, true);
        const row = await repo.findAssignment(tx, id, assignmentId);
        if (!row || !(await reaches(tx, caller.scope, row.scopeType, row.scopeKey))) throw new NotFoundError('Assignment');
        await repo.deleteAssignmentRow(tx, row.id);
        const r = await rollout(tx, caller, 'unassign', id);
        const place = await repo.placeOf(tx, caller.scope.organisationId, row.scopeType, row.scopeKey);
        await audit(tx, caller, 'profile.unassign', id, { assignmentId: row.id, scopeType: row.scopeType, scopeId: row.scopeKey || null, rolloutId: r.id }, place ?? undefined);
        return r.id;
      });
      return { rollout: await rollouts.start(rolloutId) };
    },
  };
}
export type ProfilesService = ReturnType<typeof createProfilesService>;
