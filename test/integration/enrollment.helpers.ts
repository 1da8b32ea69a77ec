import { randomBytes } from 'node:crypto';
import type { Db } from '../../server/infra/db/client';
import { communes, organisations, schools } from '../../server/infra/db/schema';

export const PNG_SIGNATURE_HEX = '89504e470d0a1a0a';
export const jsonOf = (text: string) => JSON.parse(text) as Record<string, unknown>;

const code = (n: number) => randomBytes(8).readBigUInt64BE().toString().slice(0, n);

/** An organisation, one commune and `count` schools with random codes (safe to call many times). */
export async function orgWithSchools(db: Db, count = 2) {
  const [org] = await db.insert(organisations).values({ slug: `org-${code(10)}`, name: 'Agglo de test' }).returning();
  const [commune] = await db.insert(communes).values({ organisationId: org!.id, code: code(5), name: 'Commune' }).returning();
  const rows = await db
    .insert(schools)
    .values(Array.from({ length: count }, (_, i) => ({ organisationId: org!.id, communeId: commune!.id, code: `${code(7)}A`, name: `École ${i + 1}` })))
    .returning();
  return { org: org!, schools: rows };
}
