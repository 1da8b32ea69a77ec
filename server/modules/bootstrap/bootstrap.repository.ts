import { asc } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { organisations } from '../../infra/db/schema';

export const DEFAULT_ORGANISATION_SLUG = 'default';

export async function firstOrganisation(db: DbOrTx): Promise<{ id: string; slug: string; name: string } | undefined> {
  const [row] = await db.select({ id: organisations.id, slug: organisations.slug, name: organisations.name }).from(organisations).orderBy(asc(organisations.createdAt)).limit(1);
  return row;
}

/** Concurrent first starts race on the unique slug; the loser reads the winner's row. */
export async function insertDefaultOrganisation(db: DbOrTx, name: string): Promise<void> {
  await db.insert(organisations).values({ slug: DEFAULT_ORGANISATION_SLUG, name }).onConflictDoNothing();
}
