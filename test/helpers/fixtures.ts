import type { Db } from '../../server/infra/db/client';
import { communes, organisations, schools } from '../../server/infra/db/schema';

let counter = 0;
const next = () => `${process.pid}${++counter}`;
/** Codes are unique per organisation; a counter keeps them short and distinct (the pid made them collide once truncated). */
const nextNumber = () => ++counter;

/** Minimal organisation tree for tests, written straight to the test database. */
export async function createOrgTree(db: Db, options: { schools?: number; communes?: number } = {}) {
  const [org] = await db.insert(organisations).values({ slug: `org-${next()}`, name: 'Agglo de test' }).returning();
  const communeRows = [];
  for (let i = 0; i < (options.communes ?? 2); i++) {
    const [c] = await db.insert(communes).values({ organisationId: org!.id, code: String(69000 + nextNumber()), name: `Commune ${i + 1}` }).returning();
    communeRows.push(c!);
  }
  const schoolRows = [];
  for (let i = 0; i < (options.schools ?? 2); i++) {
    const commune = communeRows[i % communeRows.length]!;
    const [s] = await db
      .insert(schools)
      .values({ organisationId: org!.id, communeId: commune.id, code: `069${String(nextNumber()).padStart(4, '0')}A`, name: `École ${i + 1}` })
      .returning();
    schoolRows.push(s!);
  }
  return { org: org!, communes: communeRows, schools: schoolRows };
}
