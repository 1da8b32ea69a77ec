import { and, eq, gt, isNull, sql } from 'drizzle-orm';
import { preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { deviceCertificates, devices, enrollmentTokens, schools, type windowsCommandReplies, windowsDevices, windowsEnrollmentPins } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';
import { retireFromManagement } from '../devices/devices.repository';

export type PinRow = typeof windowsEnrollmentPins.$inferSelect;
export type NewWindowsDevice = typeof windowsDevices.$inferInsert;
export type NewReply = typeof windowsCommandReplies.$inferInsert;

/** The token (in scope) and the code of its school, which Windows sends as the user name. */
export async function tokenWithSchoolCode(db: DbOrTx, scope: Scope, tokenId: string) {
  const [row] = await db
    .select({ token: enrollmentTokens, schoolCode: schools.code })
    .from(enrollmentTokens)
    .innerJoin(schools, eq(schools.id, enrollmentTokens.schoolId))
    .where(and(eq(enrollmentTokens.id, tokenId), inSchoolScope(scope, enrollmentTokens.organisationId, enrollmentTokens.schoolId)));
  return row;
}

export async function insertPin(db: DbOrTx, row: typeof windowsEnrollmentPins.$inferInsert): Promise<PinRow> {
  const [created] = await db.insert(windowsEnrollmentPins).values(row).returning();
  return created!;
}

/** A PIN not used yet and not expired, with its token's sealed secret. */
export async function openPin(db: DbOrTx, pinHash: string) {
  const [row] = await db
    .select({ pin: windowsEnrollmentPins, tokenCiphertext: enrollmentTokens.tokenCiphertext })
    .from(windowsEnrollmentPins)
    .innerJoin(enrollmentTokens, eq(enrollmentTokens.id, windowsEnrollmentPins.tokenId))
    .where(and(eq(windowsEnrollmentPins.pinHash, pinHash), isNull(windowsEnrollmentPins.usedAt), gt(windowsEnrollmentPins.expiresAt, sql`now()`)));
  return row;
}

/** Takes the PIN for one enrollment; false when another took it first. */
export async function claimPin(db: DbOrTx, id: string): Promise<boolean> {
  const rows = await db.update(windowsEnrollmentPins).set({ usedAt: sql`now()` }).where(and(eq(windowsEnrollmentPins.id, id), isNull(windowsEnrollmentPins.usedAt))).returning({ id: windowsEnrollmentPins.id });
  return rows.length === 1;
}

/** The enrollment failed after the claim: the PIN may serve again. */
export async function releasePin(db: DbOrTx, id: string): Promise<void> {
  await db.update(windowsEnrollmentPins).set({ usedAt: null }).where(and(eq(windowsEnrollmentPins.id, id), isNull(windowsEnrollmentPins.deviceId)));
}

/** The tablet's OMA-DM record; an earlier enrollment of the same DeviceID (a reset tablet) is retired and its id returned. */
export async function recordEnrollment(db: DbOrTx, pinId: string, row: NewWindowsDevice): Promise<string | null> {
  const [earlier] = await db.delete(windowsDevices).where(eq(windowsDevices.windowsDeviceId, row.windowsDeviceId)).returning({ deviceId: windowsDevices.deviceId });
  if (earlier && earlier.deviceId !== row.deviceId) await recordUnenrollment(db, earlier.deviceId);
  await db.insert(windowsDevices).values(row);
  await db.update(windowsEnrollmentPins).set({ deviceId: row.deviceId }).where(eq(windowsEnrollmentPins.id, pinId));
  return earlier && earlier.deviceId !== row.deviceId ? earlier.deviceId : null;
}

export interface WindowsEnrollment {
  deviceId: string;
  organisationId: string;
  schoolId: string;
  windowsDeviceId: string;
  deviceStatus: 'active' | 'wiped' | 'retired';
  /** The identity certificate is revoked (wiped, retired) or unknown. */
  revoked: boolean;
  digestUser: string;
  digestHashEncrypted: string;
}

const enrollmentColumns = {
  deviceId: windowsDevices.deviceId,
  organisationId: devices.organisationId,
  schoolId: devices.schoolId,
  windowsDeviceId: windowsDevices.windowsDeviceId,
  deviceStatus: devices.status,
  revokedAt: deviceCertificates.revokedAt,
  certificateId: deviceCertificates.id,
  digestUser: windowsDevices.digestUser,
  digestHashEncrypted: windowsDevices.digestHashEncrypted,
};

/**
 * The lookups of every OMA-DM message, as prepared statements (one per database handle): neither
 * the SQL nor PostgreSQL's plan is made again, and the messages arriving together share one.
 */
const prepared = new WeakMap<Db, ReturnType<typeof prepareLookups>>();
function prepareLookups(db: Db) {
  const lookup = (column: typeof windowsDevices.certificateSha1 | typeof windowsDevices.windowsDeviceId, name: string) =>
    db
      .select({ ...enrollmentColumns, key: column })
      .from(windowsDevices)
      .innerJoin(devices, eq(devices.id, windowsDevices.deviceId))
      .leftJoin(deviceCertificates, eq(deviceCertificates.fingerprintSha256, windowsDevices.certificateSha256))
      .where(sql`${column} = any(${sql.placeholder('keys')}::text[])`)
      .prepare(name);
  return { byThumbprint: lookup(windowsDevices.certificateSha1, 'windows_enrollments_by_thumbprint'), bySource: lookup(windowsDevices.windowsDeviceId, 'windows_enrollments_by_source') };
}
const lookupsOf = (db: Db) => prepared.get(db) ?? prepared.set(db, prepareLookups(db)).get(db)!;

type LookupRow = Awaited<ReturnType<ReturnType<typeof prepareLookups>['bySource']['execute']>>[number];

function byKey(rows: LookupRow[]): Map<string, WindowsEnrollment> {
  return new Map(rows.map(({ key, revokedAt, certificateId, ...rest }) => [key, { ...rest, revoked: certificateId === null || revokedAt !== null }]));
}

/** Enrollments by upper-case hex SHA-1 of their certificate (both unique), keyed by it. */
export async function enrollmentsByThumbprint(db: Db, sha1s: string[]): Promise<Map<string, WindowsEnrollment>> {
  return byKey(await lookupsOf(db).byThumbprint.execute({ keys: sha1s }));
}

/** Enrollments by the DeviceID their tablets write in SyncHdr Source, keyed by it. */
export async function enrollmentsBySource(db: Db, windowsDeviceIds: string[]): Promise<Map<string, WindowsEnrollment>> {
  return byKey(await lookupsOf(db).bySource.execute({ keys: windowsDeviceIds }));
}

/** Sessions a device opened since the previous write: how many, and the last one's id and time. */
export interface OpenedSessions {
  deviceId: string;
  sessionId: string;
  count: number;
  at: Date;
}

/**
 * Records the sessions opened by many devices in one statement planned once per connection; rows
 * are locked in id order, like every multi-device update.
 */
export function recordSessionsStatement(db: Db): (opened: OpenedSessions[]) => Promise<void> {
  const statement = preparedStatement(
    db,
    'windows_record_sessions',
    sql`
    update windows_devices w set last_session_id = s.session_id, last_session_at = s.at, sessions = w.sessions + s.count, updated_at = now()
    from unnest(${sql.placeholder('deviceIds')}::uuid[], ${sql.placeholder('sessionIds')}::text[], ${sql.placeholder('counts')}::int[], ${sql.placeholder('ats')}::timestamptz[]) as s(device_id, session_id, count, at),
         (select device_id from windows_devices where device_id = any(${sql.placeholder('deviceIds')}::uuid[]) order by device_id for update) locked
    where w.device_id = s.device_id and locked.device_id = s.device_id`,
  );
  return async (opened) => {
    if (opened.length > 0) await statement({ deviceIds: opened.map((o) => o.deviceId), sessionIds: opened.map((o) => o.sessionId), counts: opened.map((o) => o.count), ats: opened.map((o) => o.at) });
  };
}

/**
 * Keeps the Status and Results of the tablets answering together, in one statement planned once
 * per connection: one array per column, whatever the number of rows.
 */
export function insertRepliesStatement(db: Db): (rows: NewReply[]) => Promise<void> {
  const column = (name: string, type: string) => sql`${sql.placeholder(name)}::${sql.raw(type)}[]`;
  const statement = preparedStatement(
    db,
    'windows_insert_replies',
    sql`
    insert into windows_command_replies (device_id, command_id, cmd_ref, element, verb, code, raw, session_id, msg_id)
    select * from unnest(${column('deviceIds', 'uuid')}, ${column('commandIds', 'uuid')}, ${column('cmdRefs', 'text')}, ${column('elements', 'text')}, ${column('verbs', 'text')},
      ${column('codes', 'int')}, ${column('raws', 'text')}, ${column('sessionIds', 'text')}, ${column('msgIds', 'text')})`,
  );
  return async (rows) => {
    if (rows.length === 0) return;
    await statement({
      deviceIds: rows.map((r) => r.deviceId),
      commandIds: rows.map((r) => r.commandId ?? null),
      cmdRefs: rows.map((r) => r.cmdRef),
      elements: rows.map((r) => r.element),
      verbs: rows.map((r) => r.verb ?? null),
      codes: rows.map((r) => r.code ?? null),
      raws: rows.map((r) => r.raw),
      sessionIds: rows.map((r) => r.sessionId),
      msgIds: rows.map((r) => r.msgId),
    });
  };
}

/** The user removed the management account: the device is retired, its certificates revoked, its pending commands cancelled. */
export async function recordUnenrollment(tx: DbOrTx, deviceId: string): Promise<number> {
  await tx.update(windowsDevices).set({ unenrolledAt: sql`now()`, updatedAt: sql`now()` }).where(eq(windowsDevices.deviceId, deviceId));
  return retireFromManagement(tx, deviceId, 'unenrolled');
}

export async function windowsState(db: DbOrTx, deviceId: string) {
  const [row] = await db.select().from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
  return row;
}

export type Removal = Array<{ verb: 'Delete'; locUri: string }>;

/** What undoes a profile on the tablet, kept from its successful install; null forgets it (removed). */
export async function recordProfile(db: DbOrTx, deviceId: string, profileId: string, removal: Removal | null): Promise<void> {
  const value = removal === null ? sql`${windowsDevices.installedProfiles} - ${profileId}::text` : sql`${windowsDevices.installedProfiles} || jsonb_build_object(${profileId}::text, ${JSON.stringify(removal)}::jsonb)`;
  await db.update(windowsDevices).set({ installedProfiles: value, updatedAt: sql`now()` }).where(eq(windowsDevices.deviceId, deviceId));
}

export async function profileRemoval(db: DbOrTx, deviceId: string, profileId: string): Promise<Removal | null> {
  const [row] = await db.select({ profiles: windowsDevices.installedProfiles }).from(windowsDevices).where(eq(windowsDevices.deviceId, deviceId));
  return row?.profiles[profileId] ?? null;
}
