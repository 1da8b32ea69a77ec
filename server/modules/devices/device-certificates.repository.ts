import { and, asc, eq, gt, isNull, ne, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { deviceCertificates } from '../../infra/db/schema';

export type NewCertificateRow = typeof deviceCertificates.$inferInsert;

/**
 * Serialises renewals of one device: two requests sent at once must not both pass the rate
 * limit. An advisory lock, not the device's row: the batched last-seen update writes many device
 * rows at once, and a renewal waiting for the audit chain while holding one of them could
 * deadlock with it.
 */
export async function lockDevice(tx: DbOrTx, deviceId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${`cartable:renew:${deviceId}`}, 0))`);
}

/** A live certificate already issued to the device for this key (a re-sent renewal). */
export async function findLiveForKey(tx: DbOrTx, deviceId: string, spkiSha256: string): Promise<{ certPem: string | null } | undefined> {
  const [row] = await tx
    .select({ certPem: deviceCertificates.certPem })
    .from(deviceCertificates)
    .where(and(eq(deviceCertificates.deviceId, deviceId), eq(deviceCertificates.spkiSha256, spkiSha256), isNull(deviceCertificates.revokedAt)))
    .limit(1);
  return row;
}

/** When the certificates issued to the device since `since` were issued, oldest first. */
export async function issuedSince(tx: DbOrTx, deviceId: string, since: Date): Promise<Date[]> {
  const rows = await tx
    .select({ at: deviceCertificates.createdAt })
    .from(deviceCertificates)
    .where(and(eq(deviceCertificates.deviceId, deviceId), gt(deviceCertificates.createdAt, since)))
    .orderBy(asc(deviceCertificates.createdAt));
  return rows.map((r) => r.at);
}

/** A new pending certificate replaces (and revokes) the earlier pending one. */
export async function insertPending(tx: DbOrTx, row: NewCertificateRow): Promise<void> {
  await tx
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: 'replaced' })
    .where(and(eq(deviceCertificates.deviceId, row.deviceId), eq(deviceCertificates.pending, true), isNull(deviceCertificates.revokedAt)));
  await tx.insert(deviceCertificates).values({ ...row, pending: true });
}

/** The device used its pending certificate: it becomes current, and every other one is superseded (§20.3). */
export async function promote(tx: DbOrTx, deviceId: string, certId: string): Promise<void> {
  await tx
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: 'superseded' })
    .where(and(eq(deviceCertificates.deviceId, deviceId), ne(deviceCertificates.id, certId), isNull(deviceCertificates.revokedAt)));
  await tx.update(deviceCertificates).set({ pending: false }).where(eq(deviceCertificates.id, certId));
}
