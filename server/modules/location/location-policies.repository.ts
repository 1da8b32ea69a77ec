import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { devices, locationPolicies, organisations, schools } from '../../infra/db/schema';
import type { LocationPolicyScope, LocationRules } from '../../domain/location';

export type LocationPolicyRow = typeof locationPolicies.$inferSelect;

function scopeMatch(organisationId: string, scopeType: LocationPolicyScope, scopeId: string | null) {
  return and(eq(locationPolicies.organisationId, organisationId), eq(locationPolicies.scopeType, scopeType), scopeId === null ? isNull(locationPolicies.scopeId) : eq(locationPolicies.scopeId, scopeId));
}

export async function findPolicy(db: DbOrTx, organisationId: string, scopeType: LocationPolicyScope, scopeId: string | null): Promise<LocationPolicyRow | undefined> {
  const [row] = await db.select().from(locationPolicies).where(scopeMatch(organisationId, scopeType, scopeId));
  return row;
}

/** Every write takes a new version: devices under it get a new desired state. */
export async function upsertPolicy(tx: DbOrTx, values: Omit<typeof locationPolicies.$inferInsert, 'id' | 'version'>): Promise<LocationPolicyRow> {
  const existing = await findPolicy(tx, values.organisationId, values.scopeType, values.scopeId ?? null);
  const fields = { mode: values.mode, intervalMinutes: values.intervalMinutes ?? null, hours: values.hours ?? [], excludedDates: values.excludedDates ?? [], updatedBy: values.updatedBy ?? null };
  if (existing) {
    const [row] = await tx
      .update(locationPolicies)
      .set({ ...fields, version: sql`nextval('location_policy_version_seq')`, updatedAt: sql`now()` })
      .where(eq(locationPolicies.id, existing.id))
      .returning();
    return row!;
  }
  const [row] = await tx.insert(locationPolicies).values({ ...values, ...fields }).returning();
  return row!;
}

export async function deletePolicy(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(locationPolicies).where(eq(locationPolicies.id, id));
}

/** The policies of a school's chain, nearest first: the school's own, its commune's, its organisation's. */
export async function chainOfSchool(db: DbOrTx, organisationId: string, schoolId: string): Promise<{ school: { id: string; communeId: string; timezone: string } | undefined; policies: LocationPolicyRow[] }> {
  const [school] = await db.select({ id: schools.id, communeId: schools.communeId, timezone: schools.timezone }).from(schools).where(and(eq(schools.id, schoolId), eq(schools.organisationId, organisationId)));
  if (!school) return { school: undefined, policies: [] };
  const rows = await db
    .select()
    .from(locationPolicies)
    .where(
      and(
        eq(locationPolicies.organisationId, organisationId),
        sql`((${locationPolicies.scopeType} = 'school' and ${locationPolicies.scopeId} = ${school.id}) or (${locationPolicies.scopeType} = 'commune' and ${locationPolicies.scopeId} = ${school.communeId}) or ${locationPolicies.scopeType} = 'organisation')`,
      ),
    );
  const rank = { school: 0, commune: 1, organisation: 2 } as const;
  return { school, policies: rows.sort((a, b) => rank[a.scopeType] - rank[b.scopeType]) };
}

/** The device's organisation and school, for the rules in force where it is. */
export async function deviceSchool(db: DbOrTx, deviceId: string): Promise<{ organisationId: string; schoolId: string } | undefined> {
  const [row] = await db.select({ organisationId: devices.organisationId, schoolId: devices.schoolId }).from(devices).where(eq(devices.id, deviceId));
  return row;
}

/** Policies by version, for compiling the desired states that name them. */
export async function policiesByVersion(db: DbOrTx, versions: readonly number[]): Promise<Map<number, LocationPolicyRow>> {
  if (!versions.length) return new Map();
  const rows = await db.select().from(locationPolicies).where(inArray(locationPolicies.version, [...versions]));
  return new Map(rows.map((r) => [r.version, r]));
}

export function rulesOf(row: LocationPolicyRow, timeZone: string): LocationRules {
  return { mode: row.mode, intervalMinutes: row.intervalMinutes, hours: row.hours, excludedDates: row.excludedDates, timeZone };
}

export async function locationSettings(db: DbOrTx, organisationId: string): Promise<{ directorsReadPositions: boolean; alertEmails: string[] }> {
  const [row] = await db.select({ settings: organisations.settings }).from(organisations).where(eq(organisations.id, organisationId));
  const location = row?.settings.location ?? {};
  return { directorsReadPositions: location.directorsReadPositions === true, alertEmails: location.alertEmails ?? [] };
}

export async function saveLocationSettings(tx: DbOrTx, organisationId: string, location: { directorsReadPositions: boolean; alertEmails: string[] }): Promise<void> {
  await tx
    .update(organisations)
    .set({ settings: sql`${organisations.settings} || jsonb_build_object('location', ${JSON.stringify(location)}::jsonb)`, updatedAt: sql`now()` })
    .where(eq(organisations.id, organisationId));
}
