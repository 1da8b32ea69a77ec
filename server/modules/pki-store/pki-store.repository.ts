import { eq } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { certificateAuthorities } from '../../infra/db/schema';

export interface StoredCa {
  name: string;
  certPem: string;
  keyEncryptedPem: string;
}

export async function findCa(db: DbOrTx, name: string): Promise<StoredCa | undefined> {
  const [row] = await db
    .select({ name: certificateAuthorities.name, certPem: certificateAuthorities.certPem, keyEncryptedPem: certificateAuthorities.keyEncryptedPem })
    .from(certificateAuthorities)
    .where(eq(certificateAuthorities.name, name));
  return row;
}

/** Inserts unless another process got there first; the caller re-reads to get the winner. */
export async function insertCaIfAbsent(db: DbOrTx, ca: StoredCa): Promise<void> {
  await db.insert(certificateAuthorities).values(ca).onConflictDoNothing({ target: certificateAuthorities.name });
}
