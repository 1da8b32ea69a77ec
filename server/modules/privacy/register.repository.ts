import { eq, isNotNull, and } from 'drizzle-orm';
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
