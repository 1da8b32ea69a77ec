import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { DEFAULT_ORGANISATION_SLUG } from '../bootstrap/bootstrap.repository';
import { communes, groups, organisations, profiles, roleAssignments, schools, users } from '../../infra/db/schema';

/** The demo takes over an untouched default organisation rather than creating a second one. */
export async function upsertOrganisation(tx: DbOrTx, org: { slug: string; name: string }): Promise<string> {
  const [taken] = await tx
    .update(organisations)
    .set({ ...org, updatedAt: sql`now()` })
    .where(sql`${organisations.slug} = ${DEFAULT_ORGANISATION_SLUG} and not exists (select 1 from ${organisations} o where o.slug = ${org.slug})`)
    .returning({ id: organisations.id });
  if (taken) return taken.id;
  const [row] = await tx
    .insert(organisations)
    .values(org)
    .onConflictDoUpdate({ target: organisations.slug, set: { name: org.name, updatedAt: sql`now()` } })
    .returning({ id: organisations.id });
  return row!.id;
}

export async function upsertCommunes(tx: DbOrTx, organisationId: string, rows: { code: string; name: string }[]): Promise<Map<string, string>> {
  const out = await tx
    .insert(communes)
    .values(rows.map((r) => ({ ...r, organisationId })))
    .onConflictDoUpdate({ target: [communes.organisationId, communes.code], set: { name: sql`excluded.name`, updatedAt: sql`now()` } })
    .returning({ id: communes.id, code: communes.code });
  return new Map(out.map((r) => [r.code, r.id]));
}

export async function upsertSchools(
  tx: DbOrTx,
  organisationId: string,
  rows: { code: string; name: string; kind: 'maternelle' | 'elementaire' | 'primaire'; communeId: string; pilot: boolean }[],
): Promise<Map<string, string>> {
  const out = await tx
    .insert(schools)
    .values(rows.map((r) => ({ ...r, organisationId })))
    .onConflictDoUpdate({
      target: [schools.organisationId, schools.code],
      set: { name: sql`excluded.name`, kind: sql`excluded.kind`, communeId: sql`excluded.commune_id`, pilot: sql`excluded.pilot`, updatedAt: sql`now()` },
    })
    .returning({ id: schools.id, code: schools.code });
  return new Map(out.map((r) => [r.code, r.id]));
}

export async function ensureGroups(tx: DbOrTx, organisationId: string, schoolIds: string[], name: string): Promise<void> {
  if (schoolIds.length === 0) return;
  await tx
    .insert(groups)
    .values(schoolIds.map((schoolId) => ({ organisationId, schoolId, name })))
    .onConflictDoNothing();
}

/** Directors are created without a password: an administrator issues one with `cartable reset-password`. */
export async function ensureDirectors(tx: DbOrTx, organisationId: string, rows: { email: string; name: string; schoolId: string }[]): Promise<number> {
  const created = await tx
    .insert(users)
    .values(rows.map((r) => ({ organisationId, email: r.email, displayName: r.name })))
    .onConflictDoNothing()
    .returning({ id: users.id });
  const all = await tx
    .select({ id: users.id, email: users.email })
    .from(users)
    .where(sql`${users.email} in ${rows.map((r) => r.email)}`);
  const idByEmail = new Map(all.map((u) => [u.email, u.id]));
  await tx
    .insert(roleAssignments)
    .values(rows.map((r) => ({ organisationId, userId: idByEmail.get(r.email)!, role: 'director' as const, scopeType: 'school' as const, scopeId: r.schoolId })))
    .onConflictDoNothing();
  return created.length;
}

/** Templates join the catalog once: a profile already there (maybe edited since) is left as it is. */
export async function ensureProfiles(tx: DbOrTx, organisationId: string, templates: { id: string; name: string; description?: string; body: Record<string, unknown> }[]): Promise<number> {
  if (templates.length === 0) return 0;
  const rows = await tx
    .insert(profiles)
    .values(templates.map((t) => ({ organisationId, slug: t.id, name: t.name, description: t.description ?? null, version: 1, body: { ...t.body, version: 1 } })))
    .onConflictDoNothing()
    .returning({ id: profiles.id });
  return rows.length;
}
