import type { Db } from '../../infra/db/client';
import { InvalidInputError, ConflictError, NotFoundError } from '../../domain/errors';
import type { Actor, Scope } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import {
  countSchoolsOfCommune,
  deleteCommuneRow,
  deleteGroupRow,
  deleteSchoolRow,
  findCommune,
  findGroup,
  findSchool,
  insertCommune,
  insertGroup,
  insertSchool,
  listCommunes,
  listGroups,
  listSchools,
  schoolDependants,
  updateCommuneRow,
  updateGroupRow,
  updateSchoolRow,
  type CommuneRow,
  type GroupRow,
  type SchoolRow,
} from './organisation.repository';

export type SchoolKind = SchoolRow['kind'];

export const communeView = (c: CommuneRow) => ({ id: c.id, code: c.code, name: c.name, createdAt: c.createdAt.toISOString(), updatedAt: c.updatedAt.toISOString() });
export const schoolView = (s: SchoolRow) => ({
  id: s.id,
  communeId: s.communeId,
  code: s.code,
  name: s.name,
  kind: s.kind,
  pilot: s.pilot,
  timezone: s.timezone,
  createdAt: s.createdAt.toISOString(),
  updatedAt: s.updatedAt.toISOString(),
});
export const groupView = (g: GroupRow) => ({ id: g.id, schoolId: g.schoolId, name: g.name, createdAt: g.createdAt.toISOString(), updatedAt: g.updatedAt.toISOString() });

export function createOrganisationService(deps: { db: Db }) {
  const { db } = deps;
  const audit = (tx: Parameters<typeof recordAudit>[0], scope: Scope, actor: Actor, action: string, target: { type: string; id: string }, where: { schoolId?: string; communeId?: string }, details: Record<string, unknown>) =>
    recordAudit(tx, { organisationId: scope.organisationId, actor, action, target, schoolId: where.schoolId, communeId: where.communeId, outcome: 'success', details });

  return {
    listCommunes: async (scope: Scope) => (await listCommunes(db, scope)).map(communeView),

    async getCommune(scope: Scope, id: string) {
      const row = await findCommune(db, scope, id);
      if (!row) throw new NotFoundError('Commune');
      return communeView(row);
    },

    createCommune: (scope: Scope, input: { code: string; name: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        const row = await insertCommune(tx, { organisationId: scope.organisationId, code: input.code.trim(), name: input.name.trim() });
        if (!row) throw new ConflictError(`A commune with code ${input.code} already exists`, 'code_taken');
        await audit(tx, scope, actor, 'commune.create', { type: 'commune', id: row.id }, { communeId: row.id }, { code: row.code, name: row.name });
        return communeView(row);
      }),

    updateCommune: (scope: Scope, id: string, patch: { name?: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        if (!(await findCommune(tx, scope, id))) throw new NotFoundError('Commune');
        const row = await updateCommuneRow(tx, id, { name: patch.name?.trim() });
        await audit(tx, scope, actor, 'commune.update', { type: 'commune', id }, { communeId: id }, { changed: Object.keys(patch) });
        return communeView(row);
      }),

    deleteCommune: (scope: Scope, id: string, actor: Actor) =>
      db.transaction(async (tx) => {
        const row = await findCommune(tx, scope, id);
        if (!row) throw new NotFoundError('Commune');
        if ((await countSchoolsOfCommune(tx, id)) > 0) throw new ConflictError('This commune still has schools; move or delete them first', 'commune_has_schools');
        await deleteCommuneRow(tx, id);
        await audit(tx, scope, actor, 'commune.delete', { type: 'commune', id }, { communeId: id }, { code: row.code });
      }),

    listSchools: async (scope: Scope, filter: { communeId?: string }) => (await listSchools(db, scope, filter)).map(schoolView),

    async getSchool(scope: Scope, id: string) {
      const row = await findSchool(db, scope, id);
      if (!row) throw new NotFoundError('School');
      return schoolView(row);
    },

    createSchool: (scope: Scope, input: { communeId: string; code: string; name: string; kind?: SchoolKind; pilot?: boolean; timezone?: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        if (!(await findCommune(tx, scope, input.communeId))) throw new InvalidInputError('Unknown commune', 'unknown_commune');
        const row = await insertSchool(tx, { ...input, code: input.code.trim().toUpperCase(), name: input.name.trim(), organisationId: scope.organisationId });
        if (!row) throw new ConflictError(`A school with code ${input.code} already exists`, 'code_taken');
        await audit(tx, scope, actor, 'school.create', { type: 'school', id: row.id }, { schoolId: row.id, communeId: row.communeId }, { code: row.code, name: row.name });
        return schoolView(row);
      }),

    updateSchool: (scope: Scope, id: string, patch: { communeId?: string; name?: string; kind?: SchoolKind; pilot?: boolean; timezone?: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        if (!(await findSchool(tx, scope, id))) throw new NotFoundError('School');
        if (patch.communeId && !(await findCommune(tx, scope, patch.communeId))) throw new InvalidInputError('Unknown commune', 'unknown_commune');
        const row = await updateSchoolRow(tx, id, { ...patch, name: patch.name?.trim() });
        await audit(tx, scope, actor, 'school.update', { type: 'school', id }, { schoolId: id, communeId: row.communeId }, { changed: Object.keys(patch) });
        return schoolView(row);
      }),

    deleteSchool: (scope: Scope, id: string, actor: Actor) =>
      db.transaction(async (tx) => {
        const row = await findSchool(tx, scope, id);
        if (!row) throw new NotFoundError('School');
        const held = await schoolDependants(tx, id);
        if (held.devices > 0) throw new ConflictError(`This school still has ${held.devices} device(s); move or retire them first`, 'school_has_devices', held);
        if (held.enrollmentTokens > 0) throw new ConflictError('This school still has enrollment tokens; delete them first', 'school_has_enrollment_tokens', held);
        await deleteSchoolRow(tx, id);
        await audit(tx, scope, actor, 'school.delete', { type: 'school', id }, { schoolId: id, communeId: row.communeId }, { code: row.code });
      }),

    listGroups: async (scope: Scope, filter: { schoolId?: string }) => (await listGroups(db, scope, filter)).map(groupView),

    async getGroup(scope: Scope, id: string) {
      const row = await findGroup(db, scope, id);
      if (!row) throw new NotFoundError('Group');
      return groupView(row);
    },

    createGroup: (scope: Scope, input: { schoolId: string; name: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        if (!(await findSchool(tx, scope, input.schoolId))) throw new InvalidInputError('Unknown school', 'unknown_school');
        const row = await insertGroup(tx, { organisationId: scope.organisationId, schoolId: input.schoolId, name: input.name.trim() });
        if (!row) throw new ConflictError('This school already has a group with that name', 'name_taken');
        await audit(tx, scope, actor, 'group.create', { type: 'group', id: row.id }, { schoolId: row.schoolId }, { name: row.name });
        return groupView(row);
      }),

    updateGroup: (scope: Scope, id: string, patch: { name?: string }, actor: Actor) =>
      db.transaction(async (tx) => {
        const existing = await findGroup(tx, scope, id);
        if (!existing) throw new NotFoundError('Group');
        const clash = patch.name && (await listGroups(tx, scope, { schoolId: existing.schoolId })).some((g) => g.id !== id && g.name === patch.name!.trim());
        if (clash) throw new ConflictError('This school already has a group with that name', 'name_taken');
        const row = await updateGroupRow(tx, id, { name: patch.name?.trim() });
        await audit(tx, scope, actor, 'group.update', { type: 'group', id }, { schoolId: existing.schoolId }, { changed: Object.keys(patch) });
        return groupView(row!);
      }),

    deleteGroup: (scope: Scope, id: string, actor: Actor) =>
      db.transaction(async (tx) => {
        const row = await findGroup(tx, scope, id);
        if (!row) throw new NotFoundError('Group');
        await deleteGroupRow(tx, id);
        await audit(tx, scope, actor, 'group.delete', { type: 'group', id }, { schoolId: row.schoolId }, { name: row.name });
      }),
  };
}

export type OrganisationService = ReturnType<typeof createOrganisationService>;
