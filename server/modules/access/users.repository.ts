import { and, asc, eq, gt, inArray, isNull, ne, sql } from 'drizzle-orm';
import { isUniqueViolation, type DbOrTx } from '../../infra/db/client';
import { ConflictError } from '../../domain/errors';
import { organisations, roleAssignments, users, type RoleName, type ScopeType } from '../../infra/db/schema';

export type UserRecord = typeof users.$inferSelect;
export type RoleAssignmentRow = typeof roleAssignments.$inferSelect;

/** The email check before an insert can lose a race: the unique index has the last word. */
export async function insertUser(tx: DbOrTx, values: typeof users.$inferInsert): Promise<UserRecord> {
  try {
    const [row] = await tx.insert(users).values(values).returning();
    return row!;
  } catch (e) {
    if (isUniqueViolation(e)) throw new ConflictError('A user with this email already exists', 'email_taken');
    throw e;
  }
}

export async function findUserInOrganisation(db: DbOrTx, organisationId: string, id: string): Promise<UserRecord | undefined> {
  const [row] = await db
    .select()
    .from(users)
    .where(and(eq(users.organisationId, organisationId), eq(users.id, id)))
    .limit(1);
  return row;
}

export function listUsersPage(db: DbOrTx, organisationId: string, afterEmail: string | undefined, limit: number): Promise<UserRecord[]> {
  return db
    .select()
    .from(users)
    .where(and(eq(users.organisationId, organisationId), afterEmail ? gt(users.email, afterEmail) : undefined))
    .orderBy(asc(users.email))
    .limit(limit);
}

export async function updateUserRow(tx: DbOrTx, id: string, values: Partial<typeof users.$inferInsert>): Promise<UserRecord> {
  const [row] = await tx
    .update(users)
    .set({ ...values, updatedAt: new Date() })
    .where(eq(users.id, id))
    .returning();
  return row!;
}

export async function deleteUserRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(users).where(eq(users.id, id));
}

export function assignmentsOfUsers(db: DbOrTx, userIds: string[]): Promise<RoleAssignmentRow[]> {
  if (userIds.length === 0) return Promise.resolve([]);
  return db.select().from(roleAssignments).where(inArray(roleAssignments.userId, userIds)).orderBy(asc(roleAssignments.createdAt));
}

/**
 * Assigning an existing grant again returns the existing row. Looked up first because an
 * organisation grant has a null scope, which the unique index treats as distinct.
 */
export async function upsertRoleAssignment(
  tx: DbOrTx,
  values: { organisationId: string; userId: string; role: RoleName; scopeType: ScopeType; scopeId: string | null },
): Promise<{ row: RoleAssignmentRow; created: boolean }> {
  const [existing] = await tx
    .select()
    .from(roleAssignments)
    .where(
      and(
        eq(roleAssignments.userId, values.userId),
        eq(roleAssignments.role, values.role),
        eq(roleAssignments.scopeType, values.scopeType),
        values.scopeId ? eq(roleAssignments.scopeId, values.scopeId) : isNull(roleAssignments.scopeId),
      ),
    )
    .limit(1);
  if (existing) return { row: existing, created: false };
  const [inserted] = await tx.insert(roleAssignments).values(values).returning();
  return { row: inserted!, created: true };
}

export async function findRoleAssignment(db: DbOrTx, organisationId: string, id: string): Promise<RoleAssignmentRow | undefined> {
  const [row] = await db
    .select()
    .from(roleAssignments)
    .where(and(eq(roleAssignments.organisationId, organisationId), eq(roleAssignments.id, id)))
    .limit(1);
  return row;
}

export async function deleteRoleAssignmentRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(roleAssignments).where(eq(roleAssignments.id, id));
}

export async function usersByEmail(db: DbOrTx, emails: string[]): Promise<Map<string, UserRecord>> {
  if (emails.length === 0) return new Map();
  const rows = await db.select().from(users).where(inArray(users.email, emails));
  return new Map(rows.map((u) => [u.email, u]));
}

export function insertUsers(tx: DbOrTx, rows: Array<typeof users.$inferInsert>): Promise<UserRecord[]> {
  if (rows.length === 0) return Promise.resolve([]);
  return tx.insert(users).values(rows).returning();
}

/** Renames many users in one statement. */
export async function renameUsers(tx: DbOrTx, renames: Array<{ id: string; displayName: string }>): Promise<void> {
  if (renames.length === 0) return;
  await tx.execute(sql`
    update users u set display_name = r.display_name, updated_at = now()
    from unnest(${renames.map((r) => r.id)}::uuid[], ${renames.map((r) => r.displayName)}::text[]) as r(id, display_name)
    where u.id = r.id`);
}

/** Adds school-scoped grants, skipping those that exist (a school grant has a non-null scope, so the unique index applies). */
export async function insertSchoolGrants(tx: DbOrTx, rows: Array<{ organisationId: string; userId: string; role: RoleName; scopeId: string }>): Promise<RoleAssignmentRow[]> {
  if (rows.length === 0) return [];
  return tx
    .insert(roleAssignments)
    .values(rows.map((r) => ({ ...r, scopeType: 'school' as const })))
    .onConflictDoNothing()
    .returning();
}

export async function schoolGrantsOf(db: DbOrTx, role: RoleName, userIds: string[]): Promise<RoleAssignmentRow[]> {
  if (userIds.length === 0) return [];
  return db
    .select()
    .from(roleAssignments)
    .where(and(eq(roleAssignments.role, role), eq(roleAssignments.scopeType, 'school'), inArray(roleAssignments.userId, userIds)));
}

/**
 * Serialises the changes that could leave an organisation without an administrator: two
 * administrators removing each other at the same time would otherwise both see the other remain.
 */
export async function lockAdministrators(tx: DbOrTx, organisationId: string): Promise<void> {
  await tx.select({ id: organisations.id }).from(organisations).where(eq(organisations.id, organisationId)).for('no key update');
}

/** Active accounts holding an administrator grant, leaving out one account or one grant about to go. */
export async function countActiveAdministrators(db: DbOrTx, organisationId: string, leaving: { userId?: string; assignmentId?: string }): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(distinct ${roleAssignments.userId})::int` })
    .from(roleAssignments)
    .innerJoin(users, eq(users.id, roleAssignments.userId))
    .where(
      and(
        eq(roleAssignments.organisationId, organisationId),
        eq(roleAssignments.role, 'admin'),
        eq(users.status, 'active'),
        leaving.userId ? ne(roleAssignments.userId, leaving.userId) : undefined,
        leaving.assignmentId ? ne(roleAssignments.id, leaving.assignmentId) : undefined,
      ),
    );
  return row?.n ?? 0;
}
