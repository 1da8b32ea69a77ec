import { and, eq, inArray, isNull, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { commands, deviceCertificates, devices } from '../../infra/db/schema';

export interface PreviousRecord {
  id: string;
  organisationId: string;
  schoolId: string;
  status: 'active' | 'wiped' | 'retired';
  attestation: unknown;
}

/** The record a re-enrolling tablet proved it held, whatever its state. */
export async function findPrevious(db: DbOrTx, deviceId: string): Promise<PreviousRecord | undefined> {
  const [row] = await db
    .select({ id: devices.id, organisationId: devices.organisationId, schoolId: devices.schoolId, status: devices.status, attestation: sql<unknown>`${devices.facts} -> 'attestation'` })
    .from(devices)
    .where(eq(devices.id, deviceId));
  return row;
}

/**
 * The previous record leaves the active list (if it was still there), its certificates are
 * revoked and its pending commands cancelled: none of them is for the new identity. Returns
 * whether the record was active.
 */
export async function retirePrevious(tx: DbOrTx, deviceId: string): Promise<boolean> {
  const retired = await tx
    .update(devices)
    .set({ status: 'retired', updatedAt: sql`now()` })
    .where(and(eq(devices.id, deviceId), eq(devices.status, 'active')))
    .returning({ id: devices.id });
  await tx
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: 're-enrolled' })
    .where(and(eq(deviceCertificates.deviceId, deviceId), isNull(deviceCertificates.revokedAt)));
  await tx
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, errorCode: 're_enrolled', updatedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), inArray(commands.status, ['queued', 'sent', 'acknowledged', 'not_now'])));
  return retired.length > 0;
}
