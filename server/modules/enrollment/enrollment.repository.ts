import { and, desc, eq, sql } from 'drizzle-orm';
import { isUniqueViolation, pgArray, type DbOrTx } from '../../infra/db/client';
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

/**
 * Takes one use of the token per device and records the devices with their certificates, in one
 * statement issued as late as possible: the token's row (every tablet of a cart enrolls with the
 * same token) stays locked from here to COMMIT only. False when the token has not that many uses
 * left (another enrollment took them meanwhile); the caller then rolls back. An active device
 * holding the same serial (the unique index decides) is a conflict.
 */
export async function consumeTokenAndInsertDevices(tx: DbOrTx, tokenId: string, rows: NewDeviceRow[], certificates: NewCertificateRow[]): Promise<boolean> {
  const count = rows.length;
  const use = tx
    .update(enrollmentTokens)
    .set({ uses: sql`${enrollmentTokens.uses} + ${count}` })
    .where(
      and(
        eq(enrollmentTokens.id, tokenId),
        sql`${enrollmentTokens.revokedAt} is null`,
        sql`${enrollmentTokens.expiresAt} > now()`,
        sql`(${enrollmentTokens.maxUses} is null or ${enrollmentTokens.uses} + ${count} <= ${enrollmentTokens.maxUses})`,
      ),
    )
    .returning({ id: enrollmentTokens.id })
    .getSQL();
  try {
    const result = await tx.execute<{ used: number }>(sql`
      with used as (${use}),
           device as (${tx.insert(devices).values(rows).getSQL()}),
           certificate as (${tx.insert(deviceCertificates).values(certificates).getSQL()})
      select count(*)::int as used from used`);
    return result.rows[0]!.used === 1;
  } catch (error) {
    if (isUniqueViolation(error)) throw new ConflictError('An active device with this serial number is still in contact with the server, or belongs to another school: retire it first.', 'serial_in_use');
    throw error;
  }
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
