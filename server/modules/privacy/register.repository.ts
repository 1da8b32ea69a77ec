import { eq, isNotNull, and, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { applePushCertificates, organisations } from '../../infra/db/schema';

/** The organisations the register can be written for (one, when a slug is given). */
export function organisationsFor(db: DbOrTx, slug?: string) {
  return db
    .select({ id: organisations.id, slug: organisations.slug, name: organisations.name, settings: organisations.settings })
    .from(organisations)
    .where(slug ? eq(organisations.slug, slug) : undefined)
    .orderBy(organisations.createdAt);
}

/** Whether iPads are pushed through Apple's APNs: a push certificate is in place. */
export async function usesApns(db: DbOrTx, organisationId: string): Promise<boolean> {
  const rows = await db
    .select({ id: applePushCertificates.organisationId })
    .from(applePushCertificates)
    .where(and(eq(applePushCertificates.organisationId, organisationId), isNotNull(applePushCertificates.certPem)));
  return rows.length > 0;
}

/** How location is configured: schools per mode in force (inherited or their own), perimeters, who reads and who is mailed. */
export async function locationFacts(db: DbOrTx, organisationId: string): Promise<LocationFacts> {
  const result = await db.execute<{ on_demand: number; school_hours: number; geofences: number }>(sql`
    with effective as (
      select (select l.mode from location_policies l
              where l.organisation_id = s.organisation_id and ((l.scope_type = 'school' and l.scope_id = s.id) or (l.scope_type = 'commune' and l.scope_id = s.commune_id) or l.scope_type = 'organisation')
              order by case l.scope_type when 'school' then 0 when 'commune' then 1 else 2 end limit 1) as mode
      from schools s where s.organisation_id = ${organisationId}
    )
    select count(*) filter (where mode = 'on_demand')::int as on_demand, count(*) filter (where mode = 'school_hours')::int as school_hours,
           (select count(*)::int from geofences g where g.organisation_id = ${organisationId}) as geofences
    from effective`);
  const [org] = await db.select({ settings: organisations.settings }).from(organisations).where(eq(organisations.id, organisationId));
  const row = result.rows[0]!;
  const location = org?.settings.location ?? {};
  return { onDemandSchools: row.on_demand, schoolHoursSchools: row.school_hours, geofences: row.geofences, directorsReadPositions: location.directorsReadPositions === true, alertEmails: (location.alertEmails ?? []).length > 0 };
}

export interface LocationFacts {
  onDemandSchools: number;
  schoolHoursSchools: number;
  geofences: number;
  directorsReadPositions: boolean;
  alertEmails: boolean;
}
