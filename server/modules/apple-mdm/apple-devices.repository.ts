import { and, eq, inArray, isNotNull, isNull, sql } from 'drizzle-orm';
import { preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { appleDevices, commands, deviceCertificates, devices } from '../../infra/db/schema';
import { retireFromManagement } from '../devices/devices.repository';

/** The certificate a request was signed with, the enrollment it was issued for, and where that device stands. */
export interface CertificateEnrollment {
  certificateId: string;
  deviceId: string;
  organisationId: string;
  schoolId: string;
  deviceStatus: 'active' | 'wiped' | 'retired';
  revoked: boolean;
  /** The UDID the device gave at Authenticate; null before. */
  udid: string | null;
  enrollmentState: 'authenticated' | 'enrolled' | 'checked_out' | null;
  /** The certificate was issued by SCEP and no device uses it yet: Authenticate creates the device. */
  pendingScep?: PendingScepEnrollment;
}

/** What the SCEP responder recorded when it issued an identity certificate, before any check-in. */
export interface PendingScepEnrollment {
  id: string;
  organisationId: string;
  schoolId: string;
  groupId: string | null;
  /** The id reserved for the device (its certificate's CN). */
  deviceId: string;
  serialHex: string;
  fingerprintSha256: string;
  spkiSha256: string | null;
  certPem: string;
  notBefore: Date;
  notAfter: Date;
  claimedAt: Date | null;
}

/** The device row and certificate of an enrollment SCEP issued, made at its first Authenticate. */
export async function createFromScep(tx: DbOrTx, e: PendingScepEnrollment, name: string): Promise<void> {
  await tx.insert(devices).values({ id: e.deviceId, organisationId: e.organisationId, schoolId: e.schoolId, groupId: e.groupId, platform: 'ios', name, manufacturer: 'Apple' });
  await tx.insert(deviceCertificates).values({
    deviceId: e.deviceId,
    serialHex: e.serialHex,
    fingerprintSha256: e.fingerprintSha256,
    notBefore: e.notBefore,
    notAfter: e.notAfter,
    spkiSha256: e.spkiSha256,
    certPem: e.certPem,
  });
}

/**
 * The certificate → enrollment mapping the SCEP responder writes (the device row of the
 * enrollment, with its certificate), read by the SHA-256 fingerprints of the DER certificates.
 * Every iPad request reads its own: the statement is prepared once, and requests arriving
 * together share it.
 */
export function enrollmentsOfCertificatesStatement(db: Db): (fingerprintsSha256: string[]) => Promise<Map<string, CertificateEnrollment>> {
  const statement = preparedStatement<{
    fingerprint_sha256: string;
    certificate_id: string;
    device_id: string;
    organisation_id: string;
    school_id: string;
    status: CertificateEnrollment['deviceStatus'];
    revoked: boolean;
    udid: string | null;
    enrollment_state: CertificateEnrollment['enrollmentState'];
  }>(
    db,
    'apple_enrollments_of_certificates',
    sql`
    select c.fingerprint_sha256, c.id as certificate_id, d.id as device_id, d.organisation_id, d.school_id, d.status,
           c.revoked_at is not null as revoked, a.udid, a.enrollment_state
    from ${deviceCertificates} c
    join ${devices} d on d.id = c.device_id
    left join ${appleDevices} a on a.device_id = d.id
    where c.fingerprint_sha256 = any(${sql.placeholder('fingerprints')}::text[]) and d.platform = 'ios'`,
  );
  return async (fingerprints) => {
    const rows = await statement({ fingerprints });
    return new Map(
      rows.map((r) => [
        r.fingerprint_sha256,
        { certificateId: r.certificate_id, deviceId: r.device_id, organisationId: r.organisation_id, schoolId: r.school_id, deviceStatus: r.status, revoked: r.revoked, udid: r.udid, enrollmentState: r.enrollment_state },
      ]),
    );
  };
}

export interface AuthenticateRow {
  udid: string;
  topic: string;
  serial: string | null;
  imei: string | null;
  model: string | null;
  osVersion: string | null;
  name: string | null;
  facts: Record<string, unknown>;
}

/** Authenticate: the device's MDM state starts over (no push until TokenUpdate), its identifiers are recorded. */
export async function recordAuthenticate(tx: DbOrTx, deviceId: string, a: AuthenticateRow): Promise<void> {
  await tx
    .insert(appleDevices)
    .values({ deviceId, udid: a.udid, topic: a.topic })
    .onConflictDoUpdate({
      target: appleDevices.deviceId,
      set: { udid: a.udid, topic: a.topic, enrollmentState: 'authenticated', tokenHex: null, pushMagic: null, tokenInvalidAt: null, authenticatedAt: sql`now()`, checkedOutAt: null, updatedAt: sql`now()` },
    });
  await tx
    .update(devices)
    .set({
      udid: a.udid,
      serial: a.serial ?? sql`${devices.serial}`,
      imei: a.imei ?? sql`${devices.imei}`,
      manufacturer: 'Apple',
      model: a.model ?? sql`${devices.model}`,
      osVersion: a.osVersion ?? sql`${devices.osVersion}`,
      name: a.name ?? sql`${devices.name}`,
      // Unsupervised until DeviceInformation says otherwise: supervision-only commands are refused up front.
      capabilities: sql`coalesce(${devices.capabilities}, '{}'::text[])`,
      facts: sql`${devices.facts} || jsonb_build_object('apple', coalesce(${devices.facts} -> 'apple', '{}'::jsonb) || ${JSON.stringify(a.facts)}::jsonb)`,
      lastSeenAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(eq(devices.id, deviceId));
}

export async function recordTokenUpdate(
  db: DbOrTx,
  deviceId: string,
  t: { topic: string; tokenHex: string; pushMagic: string; unlockTokenEncrypted: string | null; awaitingConfiguration: boolean },
): Promise<{ first: boolean }> {
  const [before] = await db.select({ state: appleDevices.enrollmentState, tokenUpdatedAt: appleDevices.tokenUpdatedAt }).from(appleDevices).where(eq(appleDevices.deviceId, deviceId));
  await db
    .update(appleDevices)
    .set({
      topic: t.topic,
      tokenHex: t.tokenHex,
      pushMagic: t.pushMagic,
      // A TokenUpdate without an UnlockToken keeps the one given before.
      unlockTokenEncrypted: t.unlockTokenEncrypted ?? sql`${appleDevices.unlockTokenEncrypted}`,
      awaitingConfiguration: t.awaitingConfiguration,
      enrollmentState: 'enrolled',
      tokenInvalidAt: null,
      tokenUpdatedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(eq(appleDevices.deviceId, deviceId));
  return { first: before?.state !== 'enrolled' };
}

/** CheckOut: the device removed its MDM profile; it is retired and its certificates revoked. */
export async function recordCheckOut(tx: DbOrTx, deviceId: string): Promise<number> {
  await tx.update(appleDevices).set({ enrollmentState: 'checked_out', checkedOutAt: sql`now()`, tokenHex: null, pushMagic: null, updatedAt: sql`now()` }).where(eq(appleDevices.deviceId, deviceId));
  return retireFromManagement(tx, deviceId, 'checked_out');
}

/** DeviceInformation's IsSupervised: supervision-only commands become possible, or stop being so. */
export async function setSupervised(db: DbOrTx, deviceId: string, supervised: boolean): Promise<void> {
  await db.update(appleDevices).set({ supervised, updatedAt: sql`now()` }).where(eq(appleDevices.deviceId, deviceId));
  await db
    .update(devices)
    .set({
      managementMode: supervised ? 'supervised' : 'unsupervised',
      capabilities: supervised ? sql`array(select distinct unnest(coalesce(${devices.capabilities}, '{}'::text[]) || array['supervised']))` : sql`array_remove(coalesce(${devices.capabilities}, '{}'::text[]), 'supervised')`,
    })
    .where(eq(devices.id, deviceId));
}

export interface PushTarget {
  deviceId: string;
  organisationId: string;
  topic: string;
  tokenHex: string;
  pushMagic: string;
}

/**
 * Enrolled devices APNs can reach (a token that was not refused, on an active device) and due a
 * push: never pushed, a command queued since the last push, or the last push older than
 * `minIntervalSec` (the reconciler asks every few seconds for devices whose commands wait).
 */
export async function pushTargets(db: DbOrTx, deviceIds: string[], minIntervalSec: number): Promise<PushTarget[]> {
  if (deviceIds.length === 0) return [];
  const rows = await db
    .select({ deviceId: appleDevices.deviceId, organisationId: devices.organisationId, topic: appleDevices.topic, tokenHex: appleDevices.tokenHex, pushMagic: appleDevices.pushMagic })
    .from(appleDevices)
    .innerJoin(devices, eq(devices.id, appleDevices.deviceId))
    .where(
      and(
        inArray(appleDevices.deviceId, deviceIds),
        eq(appleDevices.enrollmentState, 'enrolled'),
        isNull(appleDevices.tokenInvalidAt),
        isNotNull(appleDevices.tokenHex),
        isNotNull(appleDevices.pushMagic),
        eq(devices.status, 'active'),
        sql`(${appleDevices.lastPushAt} is null
          or ${appleDevices.lastPushAt} < now() - make_interval(secs => ${minIntervalSec})
          or exists (select 1 from ${commands} c where c.device_id = ${appleDevices.deviceId} and c.status = 'queued' and c.created_at > ${appleDevices.lastPushAt}))`,
      ),
    );
  return rows as PushTarget[];
}

export async function markPushed(db: DbOrTx, deviceIds: string[]): Promise<void> {
  if (deviceIds.length > 0) await db.update(appleDevices).set({ lastPushAt: sql`now()` }).where(inArray(appleDevices.deviceId, deviceIds));
}

/** APNs refused the token: only that token, so a TokenUpdate that raced the push is kept. */
export async function markTokenInvalid(db: DbOrTx, deviceId: string, tokenHex: string): Promise<void> {
  await db.update(appleDevices).set({ tokenInvalidAt: sql`now()`, updatedAt: sql`now()` }).where(and(eq(appleDevices.deviceId, deviceId), eq(appleDevices.tokenHex, tokenHex)));
}

export async function appleState(db: DbOrTx, deviceId: string) {
  const [row] = await db.select().from(appleDevices).where(eq(appleDevices.deviceId, deviceId));
  return row ?? null;
}
