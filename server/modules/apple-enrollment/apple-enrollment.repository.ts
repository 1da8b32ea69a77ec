import { and, eq, gt, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { appleScepChallenges, appleScepEnrollments, enrollmentTokens, organisations, schools } from '../../infra/db/schema';

export type ChallengeRow = typeof appleScepChallenges.$inferSelect;
export type AppleScepEnrollmentRow = typeof appleScepEnrollments.$inferSelect;
export type NewAppleScepEnrollmentRow = typeof appleScepEnrollments.$inferInsert;
export type EnrollmentTokenRow = typeof enrollmentTokens.$inferSelect;

export interface TokenWithNames extends EnrollmentTokenRow {
  communeId: string;
  schoolName: string;
  organisationName: string;
}

export async function findTokenById(db: DbOrTx, id: string): Promise<TokenWithNames | undefined> {
  const [row] = await db
    .select({ token: enrollmentTokens, communeId: schools.communeId, schoolName: schools.name, organisationName: organisations.name })
    .from(enrollmentTokens)
    .innerJoin(schools, eq(schools.id, enrollmentTokens.schoolId))
    .innerJoin(organisations, eq(organisations.id, enrollmentTokens.organisationId))
    .where(eq(enrollmentTokens.id, id));
  return row ? { ...row.token, communeId: row.communeId, schoolName: row.schoolName, organisationName: row.organisationName } : undefined;
}

export async function insertChallenge(db: DbOrTx, row: typeof appleScepChallenges.$inferInsert): Promise<void> {
  await db.insert(appleScepChallenges).values(row);
}

/** The challenge and its token, locked: two PKCSReq with one challenge are served one after the other. */
export async function lockChallenge(db: DbOrTx, challengeHash: string): Promise<{ challenge: ChallengeRow; token: EnrollmentTokenRow } | undefined> {
  const [row] = await db
    .select({ challenge: appleScepChallenges, token: enrollmentTokens })
    .from(appleScepChallenges)
    .innerJoin(enrollmentTokens, eq(enrollmentTokens.id, appleScepChallenges.tokenId))
    .where(eq(appleScepChallenges.challengeHash, challengeHash))
    .for('update', { of: appleScepChallenges });
  return row;
}

export async function markChallengeUsed(db: DbOrTx, id: string): Promise<void> {
  await db.update(appleScepChallenges).set({ usedAt: sql`now()` }).where(eq(appleScepChallenges.id, id));
}

/** Takes one use of a live token; false when it expired, was revoked or is used up meanwhile. */
export async function consumeTokenUse(db: DbOrTx, tokenId: string): Promise<boolean> {
  const rows = await db
    .update(enrollmentTokens)
    .set({ uses: sql`${enrollmentTokens.uses} + 1` })
    .where(
      and(
        eq(enrollmentTokens.id, tokenId),
        isNull(enrollmentTokens.revokedAt),
        gt(enrollmentTokens.expiresAt, sql`now()`),
        or(isNull(enrollmentTokens.maxUses), lt(enrollmentTokens.uses, enrollmentTokens.maxUses)),
      ),
    )
    .returning({ id: enrollmentTokens.id });
  return rows.length === 1;
}

export async function findEnrollmentByChallenge(db: DbOrTx, challengeId: string): Promise<AppleScepEnrollmentRow | undefined> {
  const [row] = await db.select().from(appleScepEnrollments).where(eq(appleScepEnrollments.challengeId, challengeId));
  return row;
}

export async function insertEnrollment(db: DbOrTx, row: NewAppleScepEnrollmentRow): Promise<void> {
  await db.insert(appleScepEnrollments).values(row);
}

/** What the check-in side reads: the enrollment an identity certificate was issued for. */
export async function findEnrollmentByFingerprint(db: DbOrTx, fingerprintSha256: string): Promise<AppleScepEnrollmentRow | undefined> {
  const [row] = await db.select().from(appleScepEnrollments).where(eq(appleScepEnrollments.fingerprintSha256, fingerprintSha256));
  return row;
}

/** Marks the enrollment as taken by its device row; false when it was already claimed. */
export async function claimEnrollment(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db
    .update(appleScepEnrollments)
    .set({ claimedAt: sql`now()` })
    .where(and(eq(appleScepEnrollments.id, id), isNull(appleScepEnrollments.claimedAt)))
    .returning({ id: appleScepEnrollments.id });
  return rows.length === 1;
}

/** Expired challenges are of no use to anyone; the issued certificates keep theirs as `set null`. */
export async function deleteExpiredChallenges(db: DbOrTx, before: Date): Promise<number> {
  const rows = await db.delete(appleScepChallenges).where(lt(appleScepChallenges.expiresAt, before)).returning({ id: appleScepChallenges.id });
  return rows.length;
}
