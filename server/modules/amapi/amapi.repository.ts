import { and, eq, inArray, isNotNull, isNull, lt, or, sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { amapiDevices, amapiEnrollmentTokens, amapiEnterprises, amapiMessages, amapiOperations, amapiPolicies, commands, devices, enrollmentTokens, organisations, schools } from '../../infra/db/schema';
import { inSchoolScope } from '../access/scope.repository';
import type { Scope } from '../access/principal';

export type BindingRow = typeof amapiEnterprises.$inferSelect;
export type AmapiDeviceRow = typeof amapiDevices.$inferSelect;
export type PolicyRow = typeof amapiPolicies.$inferSelect;

export async function findBinding(db: DbOrTx, organisationId: string): Promise<BindingRow | undefined> {
  const [row] = await db.select().from(amapiEnterprises).where(eq(amapiEnterprises.organisationId, organisationId));
  return row;
}

export async function findBindingByEnterprise(db: DbOrTx, enterpriseName: string): Promise<BindingRow | undefined> {
  const [row] = await db.select().from(amapiEnterprises).where(and(eq(amapiEnterprises.enterpriseName, enterpriseName), eq(amapiEnterprises.state, 'bound')));
  return row;
}

export async function boundBindings(db: DbOrTx): Promise<BindingRow[]> {
  return db.select().from(amapiEnterprises).where(eq(amapiEnterprises.state, 'bound'));
}

export async function saveBinding(db: DbOrTx, row: typeof amapiEnterprises.$inferInsert): Promise<BindingRow> {
  const [saved] = await db
    .insert(amapiEnterprises)
    .values(row)
    .onConflictDoUpdate({ target: amapiEnterprises.organisationId, set: { ...row, updatedAt: sql`now()` } })
    .returning();
  return saved!;
}

export async function updateBinding(db: DbOrTx, organisationId: string, patch: Partial<typeof amapiEnterprises.$inferInsert>): Promise<BindingRow | undefined> {
  const [row] = await db
    .update(amapiEnterprises)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(amapiEnterprises.organisationId, organisationId))
    .returning();
  return row;
}

/** Active tablets of the organisation managed through AMAPI: what Google's per-project quota counts. */
export async function countAmapiDevices(db: DbOrTx, organisationId: string): Promise<number> {
  const [row] = await db
    .select({ n: sql<number>`count(*)::int` })
    .from(devices)
    .where(and(eq(devices.organisationId, organisationId), eq(devices.channel, 'amapi'), eq(devices.status, 'active')));
  return row?.n ?? 0;
}

export async function organisationName(db: DbOrTx, organisationId: string): Promise<string> {
  const [row] = await db.select({ name: organisations.name }).from(organisations).where(eq(organisations.id, organisationId));
  return row?.name ?? '';
}

// ── Enrollment ──────────────────────────────────────────────────────────────────────────

export async function findTokenInScope(db: DbOrTx, scope: Scope, tokenId: string) {
  const [row] = await db
    .select({ token: enrollmentTokens, amapi: amapiEnrollmentTokens })
    .from(enrollmentTokens)
    .leftJoin(amapiEnrollmentTokens, eq(amapiEnrollmentTokens.tokenId, enrollmentTokens.id))
    .where(and(eq(enrollmentTokens.id, tokenId), inSchoolScope(scope, enrollmentTokens.organisationId, enrollmentTokens.schoolId)));
  return row;
}

export async function insertAmapiToken(db: DbOrTx, row: typeof amapiEnrollmentTokens.$inferInsert): Promise<void> {
  await db.insert(amapiEnrollmentTokens).values(row).onConflictDoNothing();
}

/** The Cartable token an enrolling tablet named, if it may still enroll one more tablet. */
export async function usableToken(db: DbOrTx, organisationId: string, tokenId: string) {
  const [row] = await db
    .select({ id: enrollmentTokens.id, schoolId: enrollmentTokens.schoolId, groupId: enrollmentTokens.groupId })
    .from(enrollmentTokens)
    .where(
      and(
        eq(enrollmentTokens.id, tokenId),
        eq(enrollmentTokens.organisationId, organisationId),
        isNull(enrollmentTokens.revokedAt),
        sql`${enrollmentTokens.expiresAt} > now()`,
        or(isNull(enrollmentTokens.maxUses), lt(enrollmentTokens.uses, enrollmentTokens.maxUses)),
      ),
    );
  return row;
}

export async function consumeTokenUse(db: DbOrTx, tokenId: string): Promise<void> {
  await db
    .update(enrollmentTokens)
    .set({ uses: sql`${enrollmentTokens.uses} + 1` })
    .where(eq(enrollmentTokens.id, tokenId));
}

/** Google tokens whose Cartable token can no longer enroll (revoked, expired, used up): to delete at Google. */
export async function retiredAmapiTokens(db: DbOrTx, organisationId: string): Promise<{ tokenId: string; googleName: string }[]> {
  return db
    .select({ tokenId: amapiEnrollmentTokens.tokenId, googleName: amapiEnrollmentTokens.googleName })
    .from(amapiEnrollmentTokens)
    .innerJoin(enrollmentTokens, eq(enrollmentTokens.id, amapiEnrollmentTokens.tokenId))
    .where(
      and(
        eq(enrollmentTokens.organisationId, organisationId),
        or(isNotNull(enrollmentTokens.revokedAt), sql`${enrollmentTokens.expiresAt} <= now()`, and(isNotNull(enrollmentTokens.maxUses), sql`${enrollmentTokens.uses} >= ${enrollmentTokens.maxUses}`)),
      ),
    );
}

export async function deleteAmapiToken(db: DbOrTx, tokenId: string): Promise<void> {
  await db.delete(amapiEnrollmentTokens).where(eq(amapiEnrollmentTokens.tokenId, tokenId));
}

// ── Devices ─────────────────────────────────────────────────────────────────────────────

export async function findByGoogleNames(db: DbOrTx, names: string[]) {
  if (!names.length) return undefined;
  const [row] = await db
    .select({ amapi: amapiDevices, status: devices.status, schoolId: devices.schoolId, organisationId: devices.organisationId })
    .from(amapiDevices)
    .innerJoin(devices, eq(devices.id, amapiDevices.deviceId))
    .where(inArray(amapiDevices.googleName, names))
    .orderBy(sql`${devices.enrolledAt} desc`)
    .limit(1);
  return row;
}

export async function findAmapiDevice(db: DbOrTx, deviceId: string) {
  const [row] = await db
    .select({ amapi: amapiDevices, status: devices.status, organisationId: devices.organisationId, schoolName: schools.name })
    .from(amapiDevices)
    .innerJoin(devices, eq(devices.id, amapiDevices.deviceId))
    .innerJoin(schools, eq(schools.id, devices.schoolId))
    .where(eq(amapiDevices.deviceId, deviceId));
  return row;
}

/**
 * A tablet Google enrolled: an active device of the same serial (the tablet enrolled before,
 * by Cartable's agent or Google) is retired, so the inventory holds the tablet once.
 */
export async function insertEnrolledDevice(tx: DbOrTx, device: typeof devices.$inferInsert, googleName: string, lastPublishTime: Date): Promise<string> {
  if (device.serial) {
    await tx
      .update(devices)
      .set({ status: 'retired', updatedAt: sql`now()` })
      .where(and(eq(devices.organisationId, device.organisationId), eq(devices.platform, 'android'), eq(devices.serial, device.serial), eq(devices.status, 'active')));
  }
  const [row] = await tx.insert(devices).values(device).returning({ id: devices.id });
  await tx.insert(amapiDevices).values({ deviceId: row!.id, organisationId: device.organisationId, googleName, lastPublishTime });
  return row!.id;
}

export async function updateAmapiDevice(db: DbOrTx, deviceId: string, patch: Partial<typeof amapiDevices.$inferInsert>): Promise<void> {
  await db
    .update(amapiDevices)
    .set({ ...patch, updatedAt: sql`now()` })
    .where(eq(amapiDevices.deviceId, deviceId));
}

/** Claims the right to apply a report published at `publishTime`: false when a newer one was applied already. */
export async function claimPublishTime(db: DbOrTx, deviceId: string, publishTime: Date): Promise<boolean> {
  const rows = await db
    .update(amapiDevices)
    .set({ lastPublishTime: publishTime, updatedAt: sql`now()` })
    .where(and(eq(amapiDevices.deviceId, deviceId), or(isNull(amapiDevices.lastPublishTime), lt(amapiDevices.lastPublishTime, publishTime))))
    .returning({ id: amapiDevices.deviceId });
  return rows.length > 0;
}

export async function activeAmapiDevices(db: DbOrTx, organisationId: string): Promise<{ deviceId: string; googleName: string }[]> {
  return db
    .select({ deviceId: amapiDevices.deviceId, googleName: amapiDevices.googleName })
    .from(amapiDevices)
    .innerJoin(devices, eq(devices.id, amapiDevices.deviceId))
    .where(and(eq(amapiDevices.organisationId, organisationId), eq(devices.status, 'active')));
}

// ── Policies ────────────────────────────────────────────────────────────────────────────

export async function findOrInsertPolicy(db: DbOrTx, row: { organisationId: string; name: string; contentSha256: string; policy: Record<string, unknown> }): Promise<PolicyRow> {
  await db.insert(amapiPolicies).values(row).onConflictDoNothing();
  const [found] = await db
    .select()
    .from(amapiPolicies)
    .where(and(eq(amapiPolicies.organisationId, row.organisationId), eq(amapiPolicies.contentSha256, row.contentSha256)));
  return found!;
}

export async function recordPolicyPatch(db: DbOrTx, id: string, outcome: { googleVersion: number } | { error: string }): Promise<void> {
  await db
    .update(amapiPolicies)
    .set('error' in outcome ? { lastError: outcome.error } : { googleVersion: outcome.googleVersion, patchedAt: sql`now()`, lastError: null })
    .where(eq(amapiPolicies.id, id));
}

export async function findPolicyByName(db: DbOrTx, name: string): Promise<PolicyRow | undefined> {
  const [row] = await db.select().from(amapiPolicies).where(eq(amapiPolicies.name, name));
  return row;
}

// ── Operations ──────────────────────────────────────────────────────────────────────────

/**
 * Stored before Google is called: the command is never lost, and a second dispatch sees the
 * first. `first` is false when an earlier attempt began: its call may have reached Google even
 * though no operation was recorded (the process died, or the answer was lost on the way back).
 */
export async function reserveOperation(db: DbOrTx, commandId: string, deviceId: string) {
  const [inserted] = await db.insert(amapiOperations).values({ commandId, deviceId }).onConflictDoNothing().returning();
  if (inserted) return { ...inserted, first: true };
  const [row] = await db.select().from(amapiOperations).where(eq(amapiOperations.commandId, commandId));
  return { ...row!, first: false };
}

/** The first operation recorded for a command stays its operation. */
export async function recordOperation(db: DbOrTx, commandId: string, operationName: string): Promise<void> {
  await db
    .update(amapiOperations)
    .set({ operationName, issuedAt: sql`now()` })
    .where(and(eq(amapiOperations.commandId, commandId), isNull(amapiOperations.operationName)));
}

/** Operations already claimed by the device's commands: a listing's other operations are candidates for a lost answer. */
export async function knownOperationNames(db: DbOrTx, deviceId: string): Promise<Set<string>> {
  const rows = await db
    .select({ name: amapiOperations.operationName })
    .from(amapiOperations)
    .where(and(eq(amapiOperations.deviceId, deviceId), isNotNull(amapiOperations.operationName)));
  return new Set(rows.map((r) => r.name!));
}

export async function findOperationByName(db: DbOrTx, operationName: string) {
  const [row] = await db.select().from(amapiOperations).where(eq(amapiOperations.operationName, operationName));
  return row;
}

/** Operations of open commands, least recently checked first. */
export async function openOperations(db: DbOrTx, organisationId: string, limit: number) {
  return db
    .select({ commandId: amapiOperations.commandId, deviceId: amapiOperations.deviceId, operationName: amapiOperations.operationName, expiresAt: commands.expiresAt })
    .from(amapiOperations)
    .innerJoin(commands, eq(commands.id, amapiOperations.commandId))
    .where(and(eq(commands.organisationId, organisationId), isNotNull(amapiOperations.operationName), inArray(commands.status, ['sent', 'acknowledged', 'executing'])))
    .orderBy(sql`${amapiOperations.checkedAt} asc nulls first`)
    .limit(limit);
}

export async function markChecked(db: DbOrTx, commandId: string): Promise<void> {
  await db.update(amapiOperations).set({ checkedAt: sql`now()` }).where(eq(amapiOperations.commandId, commandId));
}

// ── Notifications ───────────────────────────────────────────────────────────────────────

/** True the first time a message id is seen. */
export async function claimMessage(db: DbOrTx, messageId: string): Promise<boolean> {
  const rows = await db.insert(amapiMessages).values({ messageId }).onConflictDoNothing().returning({ id: amapiMessages.messageId });
  return rows.length > 0;
}

export async function forgetMessage(db: DbOrTx, messageId: string): Promise<void> {
  await db.delete(amapiMessages).where(eq(amapiMessages.messageId, messageId));
}

/** Pub/Sub keeps a message at most 31 days: an id older than that cannot come again. */
export async function purgeMessages(db: DbOrTx): Promise<number> {
  const rows = await db.delete(amapiMessages).where(sql`${amapiMessages.receivedAt} < now() - interval '32 days'`).returning({ id: amapiMessages.messageId });
  return rows.length;
}

/** The school of a command's device: lost mode shows whose tablet it is. */
export async function schoolOfCommand(db: DbOrTx, commandId: string): Promise<string | null> {
  const [row] = await db
    .select({ name: schools.name })
    .from(commands)
    .innerJoin(devices, eq(devices.id, commands.deviceId))
    .innerJoin(schools, eq(schools.id, devices.schoolId))
    .where(eq(commands.id, commandId));
  return row?.name ?? null;
}
