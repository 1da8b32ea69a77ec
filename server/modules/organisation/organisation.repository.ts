import { and, asc, count, eq, inArray, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { communes, devices, enrollmentTokens, groups, schools } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { inCommuneScope, inSchoolScope } from '../access/scope.repository';

export type CommuneRow = typeof communes.$inferSelect;
export type SchoolRow = typeof schools.$inferSelect;
export type GroupRow = typeof groups.$inferSelect;

const communeFilter = (scope: Scope) => inCommuneScope(scope, communes.organisationId, communes.id);
const schoolFilter = (scope: Scope) => inSchoolScope(scope, schools.organisationId, schools.id);
const groupFilter = (scope: Scope) => inSchoolScope(scope, groups.organisationId, groups.schoolId);

export function listCommunes(db: DbOrTx, scope: Scope): Promise<CommuneRow[]> {
  return db.select().from(communes).where(communeFilter(scope)).orderBy(asc(communes.code));
}

export async function findCommune(db: DbOrTx, scope: Scope, id: string): Promise<CommuneRow | undefined> {
  const [row] = await db.select().from(communes).where(and(communeFilter(scope), eq(communes.id, id))).limit(1);
  return row;
}

export async function insertCommune(tx: DbOrTx, values: typeof communes.$inferInsert): Promise<CommuneRow | undefined> {
  const [row] = await tx.insert(communes).values(values).onConflictDoNothing().returning();
  return row;
}

export async function updateCommuneRow(tx: DbOrTx, id: string, values: Partial<typeof communes.$inferInsert>): Promise<CommuneRow> {
  const [row] = await tx.update(communes).set({ ...values, updatedAt: new Date() }).where(eq(communes.id, id)).returning();
  return row!;
}

export async function deleteCommuneRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(communes).where(eq(communes.id, id));
}

export async function countSchoolsOfCommune(db: DbOrTx, communeId: string): Promise<number> {
  const [row] = await db.select({ n: count() }).from(schools).where(eq(schools.communeId, communeId));
  return row!.n;
}

export function listSchools(db: DbOrTx, scope: Scope, filter: { communeId?: string } = {}): Promise<SchoolRow[]> {
  return db
    .select()
    .from(schools)
    .where(and(schoolFilter(scope), filter.communeId ? eq(schools.communeId, filter.communeId) : undefined))
    .orderBy(asc(schools.code));
}

export async function findSchool(db: DbOrTx, scope: Scope, id: string): Promise<SchoolRow | undefined> {
  const [row] = await db.select().from(schools).where(and(schoolFilter(scope), eq(schools.id, id))).limit(1);
  return row;
}

export async function insertSchool(tx: DbOrTx, values: typeof schools.$inferInsert): Promise<SchoolRow | undefined> {
  const [row] = await tx.insert(schools).values(values).onConflictDoNothing().returning();
  return row;
}

export async function updateSchoolRow(tx: DbOrTx, id: string, values: Partial<typeof schools.$inferInsert>): Promise<SchoolRow> {
  const [row] = await tx.update(schools).set({ ...values, updatedAt: new Date() }).where(eq(schools.id, id)).returning();
  return row!;
}

/** What still hangs off a school and forbids deleting it. */
export async function schoolDependants(db: DbOrTx, schoolId: string): Promise<{ devices: number; enrollmentTokens: number }> {
  const [[d], [e]] = await Promise.all([
    db.select({ n: count() }).from(devices).where(eq(devices.schoolId, schoolId)),
    db.select({ n: count() }).from(enrollmentTokens).where(eq(enrollmentTokens.schoolId, schoolId)),
  ]);
  return { devices: d!.n, enrollmentTokens: e!.n };
}

export async function deleteSchoolRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(groups).where(eq(groups.schoolId, id));
  await tx.delete(schools).where(eq(schools.id, id));
}

export function listGroups(db: DbOrTx, scope: Scope, filter: { schoolId?: string } = {}): Promise<GroupRow[]> {
  return db
    .select()
    .from(groups)
    .where(and(groupFilter(scope), filter.schoolId ? eq(groups.schoolId, filter.schoolId) : undefined))
    .orderBy(asc(groups.name));
}

export async function findGroup(db: DbOrTx, scope: Scope, id: string): Promise<GroupRow | undefined> {
  const [row] = await db.select().from(groups).where(and(groupFilter(scope), eq(groups.id, id))).limit(1);
  return row;
}

export async function insertGroup(tx: DbOrTx, values: typeof groups.$inferInsert): Promise<GroupRow | undefined> {
  const [row] = await tx.insert(groups).values(values).onConflictDoNothing().returning();
  return row;
}

export async function updateGroupRow(tx: DbOrTx, id: string, values: Partial<typeof groups.$inferInsert>): Promise<GroupRow | undefined> {
  const [row] = await tx.update(groups).set({ ...values, updatedAt: new Date() }).where(eq(groups.id, id)).returning();
  return row;
}

export async function deleteGroupRow(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(groups).where(eq(groups.id, id));
}

/** Communes and schools of the organisation by code, to resolve a CSV file in two queries. */
export async function communesByCode(db: DbOrTx, organisationId: string, codes: string[]): Promise<Map<string, CommuneRow>> {
  if (codes.length === 0) return new Map();
  const rows = await db.select().from(communes).where(and(eq(communes.organisationId, organisationId), inArray(communes.code, codes)));
  return new Map(rows.map((r) => [r.code, r]));
}

export async function schoolsByCode(db: DbOrTx, organisationId: string, codes: string[]): Promise<Map<string, SchoolRow>> {
  if (codes.length === 0) return new Map();
  const rows = await db.select().from(schools).where(and(eq(schools.organisationId, organisationId), inArray(schools.code, codes)));
  return new Map(rows.map((r) => [r.code, r]));
}

/** Creates or updates schools by code in one statement; `inserted` tells the two apart. */
export function upsertSchools(tx: DbOrTx, rows: Array<typeof schools.$inferInsert>) {
  if (rows.length === 0) return Promise.resolve([]);
  return tx
    .insert(schools)
    .values(rows)
    .onConflictDoUpdate({
      target: [schools.organisationId, schools.code],
      set: { name: sql`excluded.name`, communeId: sql`excluded.commune_id`, kind: sql`excluded.kind`, pilot: sql`excluded.pilot`, updatedAt: sql`now()` },
    })
    .returning({ id: schools.id, code: schools.code, communeId: schools.communeId, inserted: sql<boolean>`(xmax = 0)` });
}
