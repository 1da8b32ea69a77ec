import { and, asc, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { communes, groups, profileAssignments, profileRollouts, profiles, schools, type ProfileScopeType } from '../../infra/db/schema';

export type ProfileRow = typeof profiles.$inferSelect;
export type AssignmentRow = typeof profileAssignments.$inferSelect;
export type RolloutRow = typeof profileRollouts.$inferSelect;

export function listProfiles(db: DbOrTx, organisationId: string): Promise<ProfileRow[]> {
  return db.select().from(profiles).where(eq(profiles.organisationId, organisationId)).orderBy(asc(profiles.slug));
}

export async function findProfile(db: DbOrTx, organisationId: string, id: string, forUpdate = false): Promise<ProfileRow | undefined> {
  const query = db.select().from(profiles).where(and(eq(profiles.organisationId, organisationId), eq(profiles.id, id)));
  const [row] = forUpdate ? await query.for('update') : await query;
  return row;
}

export async function findProfileBySlug(db: DbOrTx, organisationId: string, slug: string): Promise<ProfileRow | undefined> {
  const [row] = await db.select().from(profiles).where(and(eq(profiles.organisationId, organisationId), eq(profiles.slug, slug)));
  return row;
}

/** Null when the organisation already has a profile of this slug. */
export async function insertProfile(tx: DbOrTx, values: typeof profiles.$inferInsert): Promise<ProfileRow | null> {
  const [row] = await tx.insert(profiles).values(values).onConflictDoNothing().returning();
  return row ?? null;
}

export async function updateProfileRow(tx: DbOrTx, id: string, values: Pick<ProfileRow, 'name' | 'description' | 'version' | 'body'>): Promise<ProfileRow> {
  const [row] = await tx
    .update(profiles)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(profiles.id, id))
    .returning();
  return row!;
}

export async function deleteProfileRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(profiles).where(eq(profiles.id, id));
}

/** The bodies of these profiles, whatever their version now. */
export async function profileBodies(db: DbOrTx, ids: readonly string[]): Promise<{ id: string; version: number; body: Record<string, unknown> }[]> {
  if (ids.length === 0) return [];
  return db.select({ id: profiles.id, version: profiles.version, body: profiles.body }).from(profiles).where(inArray(profiles.id, [...ids]));
}

export function assignmentsOf(db: DbOrTx, profileId: string): Promise<AssignmentRow[]> {
  return db.select().from(profileAssignments).where(eq(profileAssignments.profileId, profileId)).orderBy(asc(profileAssignments.createdAt));
}

export async function assignmentsByProfile(db: DbOrTx, organisationId: string): Promise<Map<string, AssignmentRow[]>> {
  const rows = await db.select().from(profileAssignments).where(eq(profileAssignments.organisationId, organisationId)).orderBy(asc(profileAssignments.createdAt));
  const map = new Map<string, AssignmentRow[]>();
  for (const row of rows) map.set(row.profileId, [...(map.get(row.profileId) ?? []), row]);
  return map;
}

/** The assignment, and whether it is new: assigning twice the same profile to the same scope changes nothing. */
export async function insertAssignment(tx: DbOrTx, values: typeof profileAssignments.$inferInsert): Promise<{ row: AssignmentRow; created: boolean }> {
  const [created] = await tx.insert(profileAssignments).values(values).onConflictDoNothing().returning();
  if (created) return { row: created, created: true };
  const [existing] = await tx
    .select()
    .from(profileAssignments)
    .where(and(eq(profileAssignments.profileId, values.profileId), eq(profileAssignments.scopeType, values.scopeType), eq(profileAssignments.scopeKey, values.scopeKey)));
  return { row: existing!, created: false };
}

export async function findAssignment(db: DbOrTx, profileId: string, id: string): Promise<AssignmentRow | undefined> {
  const [row] = await db.select().from(profileAssignments).where(and(eq(profileAssignments.profileId, profileId), eq(profileAssignments.id, id)));
  return row;
}

export async function deleteAssignmentRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(profileAssignments).where(eq(profileAssignments.id, id));
}

/** The school of a school or group scope, or the commune of a commune scope, within the organisation; null when unknown. */
export async function placeOf(db: DbOrTx, organisationId: string, type: ProfileScopeType, id: string): Promise<{ schoolId: string | null; communeId: string | null } | null> {
  if (type === 'school') {
    const [row] = await db.select({ id: schools.id, communeId: schools.communeId }).from(schools).where(and(eq(schools.organisationId, organisationId), eq(schools.id, id)));
    return row ? { schoolId: row.id, communeId: row.communeId } : null;
  }
  if (type === 'group') {
    const [row] = await db.select({ schoolId: groups.schoolId }).from(groups).where(and(eq(groups.organisationId, organisationId), eq(groups.id, id)));
    return row ? { schoolId: row.schoolId, communeId: null } : null;
  }
  if (type === 'commune') {
    const [row] = await db.select({ id: communes.id }).from(communes).where(and(eq(communes.organisationId, organisationId), eq(communes.id, id)));
    return row ? { schoolId: null, communeId: row.id } : null;
  }
  return { schoolId: null, communeId: null };
}

export async function insertRollout(tx: DbOrTx, values: typeof profileRollouts.$inferInsert): Promise<RolloutRow> {
  const [row] = await tx.insert(profileRollouts).values(values).returning();
  return row!;
}

/** The rollout, locked for one chunk; null when another process holds it or it is done. */
export async function lockPendingRollout(tx: DbOrTx, id: string): Promise<RolloutRow | null> {
  const [row] = await tx
    .select()
    .from(profileRollouts)
    .where(and(eq(profileRollouts.id, id), eq(profileRollouts.status, 'pending')))
    .for('update', { skipLocked: true });
  return row ?? null;
}

export async function advanceRollout(tx: DbOrTx, id: string, values: { cursor: string | null; changed: number; commands: number; done: boolean }): Promise<void> {
  await tx
    .update(profileRollouts)
    .set({
      cursor: values.cursor,
      changed: sql`${profileRollouts.changed} + ${values.changed}`,
      commands: sql`${profileRollouts.commands} + ${values.commands}`,
      status: values.done ? 'done' : 'pending',
      completedAt: values.done ? sql`now()` : null,
    })
    .where(eq(profileRollouts.id, id));
}

export async function findRollout(db: DbOrTx, id: string): Promise<RolloutRow | undefined> {
  const [row] = await db.select().from(profileRollouts).where(eq(profileRollouts.id, id));
  return row;
}

export async function pendingRolloutIds(db: DbOrTx, limit: number): Promise<string[]> {
  const rows = await db.select({ id: profileRollouts.id }).from(profileRollouts).where(eq(profileRollouts.status, 'pending')).orderBy(asc(profileRollouts.createdAt)).limit(limit);
  return rows.map((r) => r.id);
}
