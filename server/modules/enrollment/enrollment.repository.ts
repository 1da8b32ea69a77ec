import { and, desc, eq, sql } from 'drizzle-orm';
import { isUniqueViolation, pgArray, preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { ConflictError } from '../../domain/errors';
import { deviceCertificates, devices, enrollmentTokens, groups, organisations, schools, type OrganisationSettings, type Platform } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { inSchoolScope } from '../access/scope.repository';

export type TokenRow = typeof enrollmentTokens.$inferSelect;
export type NewTokenRow = typeof enrollmentTokens.$inferInsert;
export type NewDeviceRow = typeof devices.$inferInsert;
export type NewCertificateRow = typeof deviceCertificates.$inferInsert;
export type AgentPackage = NonNullable<OrganisationSettings['agentPackage']>;

const tokenScope = (scope: Scope) => inSchoolScope(scope, enrollmentTokens.organisationId, enrollmentTokens.schoolId);

/** The school (and group, when given) if both exist inside the scope. */
export async function findSchoolInScope(db: DbOrTx, scope: Scope, schoolId: string, groupId?: string | null): Promise<{ id: string; name: string; communeId: string } | undefined> {
  const [school] = await db
    .select({ id: schools.id, name: schools.name, communeId: schools.communeId })
    .from(schools)
    .where(and(eq(schools.id, schoolId), inSchoolScope(scope, schools.organisationId, schools.id)));
  if (!school || !groupId) return school;
  const [group] = await db.select({ id: groups.id }).from(groups).where(and(eq(groups.id, groupId), eq(groups.schoolId, schoolId)));
  return group ? school : undefined;
}

export async function insertToken(db: DbOrTx, row: NewTokenRow): Promise<TokenRow> {
  const [created] = await db.insert(enrollmentTokens).values(row).returning();
  return created!;
}

export function listTokens(db: DbOrTx, scope: Scope, filter: { schoolId?: string; limit: number; offset: number }): Promise<TokenRow[]> {
  const where = [tokenScope(scope)];
  if (filter.schoolId) where.push(eq(enrollmentTokens.schoolId, filter.schoolId));
  return db.select().from(enrollmentTokens).where(and(...where)).orderBy(desc(enrollmentTokens.createdAt)).limit(filter.limit).offset(filter.offset);
}

export async function findToken(db: DbOrTx, scope: Scope, id: string): Promise<TokenRow | undefined> {
  const [row] = await db.select().from(enrollmentTokens).where(and(eq(enrollmentTokens.id, id), tokenScope(scope)));
  return row;
}

export async function revokeToken(db: DbOrTx, scope: Scope, id: string): Promise<TokenRow | undefined> {
  const [row] = await db
    .update(enrollmentTokens)
    .set({ revokedAt: sql`coalesce(${enrollmentTokens.revokedAt}, now())` })
    .where(and(eq(enrollmentTokens.id, id), tokenScope(scope)))
    .returning();
  return row;
}

/** Takes one use of a live token atomically; undefined when it is unknown, expired, revoked or used up. */
export async function findTokenByHash(db: DbOrTx, tokenHash: string): Promise<TokenRow | undefined> {
  const [row] = await db.select().from(enrollmentTokens).where(eq(enrollmentTokens.tokenHash, tokenHash));
  return row;
}

/** A device enrolled in the last hour with this token and this key: a retry whose answer was lost. */
export async function findRecentEnrollment(db: DbOrTx, tokenId: string, spkiSha256: string): Promise<{ id: string; previousDeviceId: string | null } | undefined> {
  const [row] = await db
    .select({ id: devices.id, previousDeviceId: devices.previousDeviceId })
    .from(devices)
    .where(
      and(
        eq(devices.status, 'active'),
        sql`${devices.enrolledAt} > now() - interval '1 hour'`,
        sql`${devices.facts}->'enrollment'->>'tokenId' = ${tokenId}`,
        sql`${devices.facts}->'enrollment'->>'spkiSha256' = ${spkiSha256}`,
      ),
    )
    .limit(1);
  return row;
}

/**
 * Factory-reset tablets enrolling again: the previous record of each serial is retired and its
 * certificates revoked, so the old identity is refused from now on, in one statement. Only a
 * record of the token's own school qualifies (a token must not reach another school's tablets),
 * and only one silent for `silentSec`: a reset tablet's old agent is gone, whereas a serial
 * claimed while its device still talks to us is an impostor or a mistake.
 */
export async function retireSilentBySerials(tx: DbOrTx, match: { schoolId: string; platform: Platform; serials: string[]; silentSec: number }): Promise<{ id: string; serial: string }[]> {
  if (match.serials.length === 0) return [];
  const retire = tx
    .update(devices)
    .set({ status: 'retired', updatedAt: sql`now()` })
    .where(
      and(
        eq(devices.schoolId, match.schoolId),
        eq(devices.platform, match.platform),
        sql`${devices.serial} = any(${pgArray(match.serials)}::text[])`,
        eq(devices.status, 'active'),
        sql`(${devices.lastSeenAt} is null or ${devices.lastSeenAt} < now() - make_interval(secs => ${match.silentSec}))`,
      ),
    )
    .returning({ id: devices.id, serial: devices.serial })
    .getSQL();
  const result = await tx.execute<{ id: string; serial: string }>(sql`
    with retired as (${retire}),
         revoked as (
           update ${deviceCertificates} set revoked_at = now(), revoke_reason = 're-enrolled'
            where device_id in (select id from retired) and revoked_at is null)
    select id, serial from retired`);
  return result.rows;
}

/** What an enrollment records of its device; the other columns take their defaults. */
export type AdmittedDevice = Required<
  Pick<
    NewDeviceRow,
    'id' | 'organisationId' | 'schoolId' | 'groupId' | 'platform' | 'name' | 'serial' | 'imei' | 'udid' | 'manufacturer' | 'model' | 'osVersion' | 'agentVersion' | 'managementMode' | 'storageTotalBytes' | 'capabilities' | 'previousDeviceId' | 'facts'
  >
>;
export type AdmittedCertificate = Required<Pick<NewCertificateRow, 'deviceId' | 'serialHex' | 'fingerprintSha256' | 'notBefore' | 'notAfter'>>;

/**
 * Takes one use of the token per device and records the devices with their certificates, in one
 * statement issued as late as possible: the token's row (every tablet of a cart enrolls with the
 * same token) stays locked from here to COMMIT only. Its used count is 1, or 0 when the token has
 * not that many uses left (another enrollment took them meanwhile; the caller then rolls back).
 * The rows travel as two JSON documents, so the text is the same for any number of tablets and
 * is prepared once per connection: building and planning a row of parameters per column cost
 * more than the insert.
 */
export function admitDevicesStatement(db: Db): (tx: DbOrTx, tokenId: string, rows: AdmittedDevice[], certificates: AdmittedCertificate[]) => Promise<boolean> {
  const query = sql`
    with used as (
      update enrollment_tokens set uses = uses + ${sql.placeholder('count')}::int
      where id = ${sql.placeholder('tokenId')}::uuid and revoked_at is null and expires_at > now()
        and (max_uses is null or uses + ${sql.placeholder('count')}::int <= max_uses)
      returning id
    ), device as (
      insert into devices (id, organisation_id, school_id, group_id, platform, name, serial, imei, udid, manufacturer, model, os_version, agent_version, management_mode, storage_total_bytes, capabilities, previous_device_id, facts)
      select id, organisation_id, school_id, group_id, platform, name, serial, imei, udid, manufacturer, model, os_version, agent_version, management_mode, storage_total_bytes, capabilities, previous_device_id, facts
      from jsonb_to_recordset(${sql.placeholder('devices')}::jsonb) as r(
        id uuid, organisation_id uuid, school_id uuid, group_id uuid, platform text, name text, serial text, imei text, udid text, manufacturer text, model text,
        os_version text, agent_version text, management_mode text, storage_total_bytes bigint, capabilities text[], previous_device_id uuid, facts jsonb)
    ), certificate as (
      insert into device_certificates (device_id, serial_hex, fingerprint_sha256, not_before, not_after)
      select device_id, serial_hex, fingerprint_sha256, not_before, not_after
      from jsonb_to_recordset(${sql.placeholder('certificates')}::jsonb) as c(device_id uuid, serial_hex text, fingerprint_sha256 text, not_before timestamptz, not_after timestamptz)
    )
    select count(*)::int as used from used`;
  const statement = preparedStatement<{ used: number }>(db, 'enrollment_admit', query);
  return async (tx, tokenId, rows, certificates) => {
    const values = {
      tokenId,
      count: rows.length,
      devices: JSON.stringify(
        rows.map((d) => ({
          id: d.id,
          organisation_id: d.organisationId,
          school_id: d.schoolId,
          group_id: d.groupId,
          platform: d.platform,
          name: d.name,
          serial: d.serial,
          imei: d.imei,
          udid: d.udid,
          manufacturer: d.manufacturer,
          model: d.model,
          os_version: d.osVersion,
          agent_version: d.agentVersion,
          management_mode: d.managementMode,
          storage_total_bytes: d.storageTotalBytes,
          capabilities: d.capabilities,
          previous_device_id: d.previousDeviceId,
          facts: d.facts,
        })),
      ),
      certificates: JSON.stringify(certificates.map((c) => ({ device_id: c.deviceId, serial_hex: c.serialHex, fingerprint_sha256: c.fingerprintSha256, not_before: c.notBefore, not_after: c.notAfter }))),
    };
    try {
      return (await statement(values, tx))[0]!.used === 1;
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError('An active device with this serial number is still in contact with the server, or belongs to another school: retire it first.', 'serial_in_use');
      throw error;
    }
  };
}

export async function insertCertificate(tx: DbOrTx, row: NewCertificateRow): Promise<void> {
  await tx.insert(deviceCertificates).values(row);
}

export async function getAgentPackage(db: DbOrTx, organisationId: string): Promise<AgentPackage | undefined> {
  const [row] = await db.select({ settings: organisations.settings }).from(organisations).where(eq(organisations.id, organisationId));
  return row?.settings.agentPackage;
}

export async function setAgentPackage(db: DbOrTx, organisationId: string, agentPackage: AgentPackage): Promise<boolean> {
  const rows = await db
    .update(organisations)
    .set({ settings: sql`${organisations.settings} || jsonb_build_object('agentPackage', ${JSON.stringify(agentPackage)}::jsonb)`, updatedAt: sql`now()` })
    .where(eq(organisations.id, organisationId))
    .returning({ id: organisations.id });
  return rows.length === 1;
}
