import { eq, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { applePushCertificates } from '../../infra/db/schema';

export type PushCertificateRow = typeof applePushCertificates.$inferSelect;

export async function findPushCertificate(db: DbOrTx, organisationId: string): Promise<PushCertificateRow | null> {
  const [row] = await db.select().from(applePushCertificates).where(eq(applePushCertificates.organisationId, organisationId));
  return row ?? null;
}

/** A new key and its request replace an earlier request never answered; the current certificate stays until the new one arrives. */
export async function savePendingRequest(db: DbOrTx, organisationId: string, pendingKeyEncryptedPem: string, pendingCsrPem: string): Promise<void> {
  await db
    .insert(applePushCertificates)
    .values({ organisationId, pendingKeyEncryptedPem, pendingCsrPem })
    .onConflictDoUpdate({ target: applePushCertificates.organisationId, set: { pendingKeyEncryptedPem, pendingCsrPem, updatedAt: sql`now()` } });
}

export async function saveCertificate(db: DbOrTx, organisationId: string, row: { topic: string; certPem: string; keyEncryptedPem: string; notAfter: Date; clearPending: boolean }): Promise<void> {
  await db
    .update(applePushCertificates)
    .set({
      topic: row.topic,
      certPem: row.certPem,
      keyEncryptedPem: row.keyEncryptedPem,
      notAfter: row.notAfter,
      ...(row.clearPending ? { pendingKeyEncryptedPem: null, pendingCsrPem: null } : {}),
      updatedAt: sql`now()`,
    })
    .where(eq(applePushCertificates.organisationId, organisationId));
}
