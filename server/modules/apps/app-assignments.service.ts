import { InvalidInputError, NotFoundError } from '../../domain/errors';
import type { Db, DbOrTx } from '../../infra/db/client';
import { schoolsOf } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { assignablePlace, reaches, scopeKeyOf } from '../profiles/assignment-scope';
import type { ProfileRollouts } from '../profiles/profile-rollouts.service';
import { insertRollout } from '../profiles/profiles.repository';
import * as assignments from './app-assignments.repository';
import * as repo from './apps.repository';
import type { AppAssignmentBody } from './apps.schemas';

export interface AppAssignmentsDeps {
  db: Db;
  rollouts: ProfileRollouts;
  /** Throws when the version lacks what an install needs: refused before any tablet is told. */
  installParams(organisationId: string, appVersionId: string, expiresAt: Date): Promise<unknown>;
}

function view(row: assignments.AppAssignmentRow, version: string) {
  return {
    id: row.id,
    appId: row.appId,
    appVersionId: row.appVersionId,
    version,
    scopeType: row.scopeType,
    scopeId: row.scopeKey === '' ? null : row.scopeKey,
    createdAt: row.createdAt.toISOString(),
    updatedAt: row.updatedAt.toISOString(),
  };
}

/**
 * Apps assigned to scopes, like profiles: each change commits with its audit event and a rollout
 * (profile-rollouts.service.ts) that queues `install_app` / `remove_app` for the devices whose
 * assigned apps changed, in chunks, through the command pipeline.
 */
export function createAppAssignmentsService(deps: AppAssignmentsDeps) {
  const { db, rollouts } = deps;

  async function appOf(tx: DbOrTx, caller: Caller, appId: string): Promise<repo.AppRow> {
    const app = await repo.findApp(tx, caller.scope.organisationId, appId);
    if (!app) throw new NotFoundError('App');
    return app;
  }

  async function audit(tx: DbOrTx, caller: Caller, action: string, appId: string, details: Record<string, unknown>, place?: { schoolId: string | null; communeId: string | null }) {
    await recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action, target: { type: 'app', id: appId }, outcome: 'success', details, ...(place ?? {}) });
  }

  return {
    async list(caller: Caller, appId: string) {
      await appOf(db, caller, appId);
      const versions = new Map((await repo.versionsOf(db, appId)).map((v) => [v.id, v.version]));
      return (await assignments.assignmentsOfApp(db, appId)).map((a) => view(a, versions.get(a.appVersionId) ?? ''));
    },

    /** Assigning the version a scope already holds changes nothing and queues nothing. */
    async assign(caller: Caller, appId: string, body: AppAssignmentBody) {
      const scopeKey = scopeKeyOf(body);
      const app = await appOf(db, caller, appId);
      if (body.scopeType === 'platform' && scopeKey !== app.platform) throw new InvalidInputError(`${app.name} is an app for ${app.platform}: assigned to ${scopeKey} devices it would reach none`, 'invalid_scope');
      const versionId = body.appVersionId?.toLowerCase() ?? (await repo.versionsOf(db, appId))[0]?.id;
      const version = versionId ? await repo.findVersion(db, caller.scope.organisationId, versionId) : null;
      if (!version || version.app.id !== appId) throw new NotFoundError('App version');
      await deps.installParams(caller.scope.organisationId, version.version.id, new Date());
      const result = await db.transaction(async (tx) => {
        if (!(await repo.lockApp(tx, caller.scope.organisationId, appId))) throw new NotFoundError('App');
        const place = await assignablePlace(tx, caller.scope, body.scopeType, scopeKey);
        const { row, change } = await assignments.upsertAssignment(tx, { organisationId: caller.scope.organisationId, appId, appVersionId: version.version.id, scopeType: body.scopeType, scopeKey, createdBy: caller.principal.userId });
        if (change === 'none') return { row, change, rolloutId: null };
        const r = await insertRollout(tx, { organisationId: caller.scope.organisationId, reason: 'app_assign', profileId: appId, scopeType: body.scopeType, scopeKey, issuedBy: caller.principal.userId });
        await audit(tx, caller, 'app.assign', appId, { assignmentId: row.id, appVersionId: version.version.id, version: version.version.version, change, scopeType: body.scopeType, scopeId: scopeKey || null, rolloutId: r.id }, place);
        return { row, change, rolloutId: r.id };
      });
      return { assignment: view(result.row, version.version.version), change: result.change, rollout: result.rolloutId ? await rollouts.start(result.rolloutId) : null };
    },

    /** The devices the assignment reached lose the app, unless another assignment still gives it to them. */
    async unassign(caller: Caller, appId: string, assignmentId: string) {
      const rolloutId = await db.transaction(async (tx) => {
        if (!(await repo.lockApp(tx, caller.scope.organisationId, appId))) throw new NotFoundError('App');
        const row = await assignments.findAssignment(tx, appId, assignmentId);
        if (!row || row.organisationId !== caller.scope.organisationId || !(await reaches(tx, caller.scope, row.scopeType, row.scopeKey))) throw new NotFoundError('Assignment');
        await assignments.deleteAssignment(tx, row.id);
        const r = await insertRollout(tx, { organisationId: caller.scope.organisationId, reason: 'app_unassign', profileId: appId, scopeType: row.scopeType, scopeKey: row.scopeKey, issuedBy: caller.principal.userId });
        await audit(tx, caller, 'app.unassign', appId, { assignmentId: row.id, appVersionId: row.appVersionId, scopeType: row.scopeType, scopeId: row.scopeKey || null, rolloutId: r.id });
        return r.id;
      });
      return { rollout: await rollouts.start(rolloutId) };
    },

    async compliance(caller: Caller, appId: string) {
      await appOf(db, caller, appId);
      const counts = await assignments.appComplianceCounts(db, caller.scope.organisationId, schoolsOf(caller.scope), appId);
      return { appId, devices: counts.compliant + counts.pending + counts.failed, ...counts };
    },
  };
}
export type AppAssignmentsService = ReturnType<typeof createAppAssignmentsService>;
