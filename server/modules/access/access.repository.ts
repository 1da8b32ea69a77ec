import { and, eq, gt, inArray, isNull, lt, ne, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { apiTokens, communes, organisations, roleAssignments, schools, sessions, users, type RoleName, type ScopeType } from '../../infra/db/schema';
import type { RoleGrant } from './principal';

export type UserRow = typeof users.$inferSelect;
export type ApiTokenRow = typeof apiTokens.$inferSelect;

export async function findUserByEmail(db: DbOrTx, email: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  return row;
}

export function grantsOfUser(db: DbOrTx, userId: string): Promise<RoleGrant[]> {
  return db.select({ role: roleAssignments.role, scopeType: roleAssignments.scopeType, scopeId: roleAssignments.scopeId }).from(roleAssignments).where(eq(roleAssignments.userId, userId));
}

/**
 * The token with its owner, in one round trip: it is read on every API request made by a script.
 * `stillGranted` says whether the owner still holds the token's role over its scope (an
 * organisation grant, the same scope, or the commune of the token's school), so a token never
 * outlives a role taken from its owner.
 */
const tokenByHash = (db: DbOrTx) =>
  db
    .select({
      token: apiTokens,
      email: users.email,
      userStatus: users.status,
      mustChangePassword: users.mustChangePassword,
      stillGranted: sql<boolean>`exists (
        select 1 from ${roleAssignments} r
        where r.user_id = ${apiTokens.userId} and r.role = ${apiTokens.role}
          and (r.scope_type = 'organisation'
            or (r.scope_type = ${apiTokens.scopeType} and r.scope_id = ${apiTokens.scopeId})
            or (r.scope_type = 'commune' and ${apiTokens.scopeType} = 'school'
                and r.scope_id = (select s.commune_id from ${schools} s where s.id = ${apiTokens.scopeId}))))`,
    })
    .from(apiTokens)
    .innerJoin(users, eq(users.id, apiTokens.userId))
    .where(eq(apiTokens.tokenHash, sql.placeholder('hash')))
    .limit(1);

export async function findApiTokenByHash(db: DbOrTx, hash: string) {
  const [row] = await tokenByHash(db).execute({ hash });
  return row;
}

/** Written at most once a minute per token, so a busy script does not turn every read into a write. */
export async function touchApiToken(db: DbOrTx, id: string): Promise<void> {
  await db
    .update(apiTokens)
    .set({ lastUsedAt: sql`now()` })
    .where(and(eq(apiTokens.id, id), or(isNull(apiTokens.lastUsedAt), lt(apiTokens.lastUsedAt, sql`now() - interval '1 minute'`))));
}

export async function insertApiToken(tx: DbOrTx, values: typeof apiTokens.$inferInsert): Promise<ApiTokenRow> {
  const [row] = await tx.insert(apiTokens).values(values).returning();
  return row!;
}

export function listApiTokensOf(db: DbOrTx, organisationId: string, userId?: string): Promise<ApiTokenRow[]> {
  return db
    .select()
    .from(apiTokens)
    .where(and(eq(apiTokens.organisationId, organisationId), userId ? eq(apiTokens.userId, userId) : undefined))
    .orderBy(apiTokens.createdAt);
}

export async function findApiToken(db: DbOrTx, organisationId: string, id: string): Promise<ApiTokenRow | undefined> {
  const [row] = await db.select().from(apiTokens).where(and(eq(apiTokens.organisationId, organisationId), eq(apiTokens.id, id))).limit(1);
  return row;
}

export async function revokeApiTokenRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.update(apiTokens).set({ revokedAt: sql`coalesce(${apiTokens.revokedAt}, now())` }).where(eq(apiTokens.id, id));
}

export async function insertSession(tx: DbOrTx, values: typeof sessions.$inferInsert): Promise<string> {
  const [row] = await tx.insert(sessions).values(values).returning({ id: sessions.id });
  return row!.id;
}

/** A live session with its user; expired and revoked sessions are not returned. */
export async function findLiveSessionByHash(db: DbOrTx, hash: string) {
  const [row] = await db
    .select({ session: sessions, user: users })
    .from(sessions)
    .innerJoin(users, eq(users.id, sessions.userId))
    .where(and(eq(sessions.tokenHash, hash), isNull(sessions.revokedAt), gt(sessions.expiresAt, sql`now()`)))
    .limit(1);
  return row;
}

export async function touchSession(db: DbOrTx, id: string): Promise<void> {
  await db
    .update(sessions)
    .set({ lastSeenAt: sql`now()` })
    .where(and(eq(sessions.id, id), lt(sessions.lastSeenAt, sql`now() - interval '1 minute'`)));
}

export async function revokeSessionRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.id, id), isNull(sessions.revokedAt)));
}

/** Sets a person's own new password: clears the obligation to change it and ends their other sessions. */
export async function replaceOwnPassword(tx: DbOrTx, userId: string, passwordHash: string, keepSessionId: string): Promise<void> {
  await tx.update(users).set({ passwordHash, mustChangePassword: false, failedLogins: 0, lockedUntil: null, updatedAt: sql`now()` }).where(eq(users.id, userId));
  await tx.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt), ne(sessions.id, keepSessionId)));
}

export async function revokeSessionsOfUser(tx: DbOrTx, userId: string): Promise<void> {
  await tx.update(sessions).set({ revokedAt: sql`now()` }).where(and(eq(sessions.userId, userId), isNull(sessions.revokedAt)));
}

/** Counts a failed sign-in and locks the account when the threshold is reached, atomically. */
export async function countLoginFailure(tx: DbOrTx, userId: string, threshold: number, lockSeconds: number) {
  const [row] = await tx
    .update(users)
    .set({
      failedLogins: sql`case when ${users.failedLogins} + 1 >= ${threshold} then 0 else ${users.failedLogins} + 1 end`,
      lockedUntil: sql`case when ${users.failedLogins} + 1 >= ${threshold} then now() + make_interval(secs => ${lockSeconds}) else ${users.lockedUntil} end`,
    })
    .where(eq(users.id, userId))
    .returning({ failedLogins: users.failedLogins, lockedUntil: users.lockedUntil });
  return row!;
}

export async function recordLoginSuccess(tx: DbOrTx, userId: string): Promise<void> {
  await tx.update(users).set({ failedLogins: 0, lockedUntil: null, lastLoginAt: sql`now()` }).where(eq(users.id, userId));
}

export async function schoolIdsOfCommunes(db: DbOrTx, organisationId: string, communeIds: string[]): Promise<string[]> {
  if (communeIds.length === 0) return [];
  const rows = await db
    .select({ id: schools.id })
    .from(schools)
    .where(and(eq(schools.organisationId, organisationId), inArray(schools.communeId, communeIds)));
  return rows.map((r) => r.id);
}

/** Whether a grant's target exists in the organisation (an organisation grant has no target). */
export async function scopeTargetExists(db: DbOrTx, organisationId: string, scopeType: ScopeType, scopeId: string | null): Promise<boolean> {
  if (scopeType === 'organisation') return scopeId === null;
  if (!scopeId) return false;
  const table = scopeType === 'commune' ? communes : schools;
  const [row] = await db
    .select({ id: table.id })
    .from(table)
    .where(and(eq(table.organisationId, organisationId), eq(table.id, scopeId)))
    .limit(1);
  return Boolean(row);
}

/** The commune a school belongs to, to check that a school-scoped token fits a commune grant. */
export async function communeOfSchool(db: DbOrTx, schoolId: string): Promise<string | undefined> {
  const [row] = await db.select({ communeId: schools.communeId }).from(schools).where(eq(schools.id, schoolId)).limit(1);
  return row?.communeId;
}

export async function hasRoleInOrganisation(db: DbOrTx, organisationId: string, role: RoleName): Promise<boolean> {
  const [row] = await db
    .select({ id: roleAssignments.id })
    .from(roleAssignments)
    .where(and(eq(roleAssignments.organisationId, organisationId), eq(roleAssignments.role, role)))
    .limit(1);
  return Boolean(row);
}

export async function findUserById(db: DbOrTx, id: string): Promise<UserRow | undefined> {
  const [row] = await db.select().from(users).where(eq(users.id, id)).limit(1);
  return row;
}

/** The organisation's decision that school directors may read positions (docs/privacy.md). */
export async function directorsReadPositions(db: DbOrTx, organisationId: string): Promise<boolean> {
  const [row] = await db.select({ settings: organisations.settings }).from(organisations).where(eq(organisations.id, organisationId));
  return row?.settings.location?.directorsReadPositions === true;
}
