import { and, asc, count, desc, eq, sql } from 'drizzle-orm';
import type { AppPlatform } from '../../domain/apps';
import type { Db, DbOrTx } from '../../infra/db/client';
import { apps, appVersions } from '../../infra/db/schema';

export type AppRow = typeof apps.$inferSelect;
export type AppVersionRow = typeof appVersions.$inferSelect;
export type NewApp = typeof apps.$inferInsert;
export type NewAppVersion = typeof appVersions.$inferInsert;

/** The organisation's apps, each with its number of versions and newest version. */
export async function listApps(db: Db, organisationId: string) {
  const latest = sql<string | null>`(select v.version from app_versions v where v.app_id = ${apps.id} order by v.created_at desc, v.id desc limit 1)`;
  return db
    .select({ app: apps, versions: count(appVersions.id), latestVersion: latest })
    .from(apps)
    .leftJoin(appVersions, eq(appVersions.appId, apps.id))
    .where(eq(apps.organisationId, organisationId))
    .groupBy(apps.id)
    .orderBy(asc(apps.name), asc(apps.id));
}

export async function findApp(db: DbOrTx, organisationId: string, id: string): Promise<AppRow | null> {
  const [row] = await db.select().from(apps).where(and(eq(apps.id, id), eq(apps.organisationId, organisationId)));
  return row ?? null;
}

export async function versionsOf(db: DbOrTx, appId: string): Promise<AppVersionRow[]> {
  return db.select().from(appVersions).where(eq(appVersions.appId, appId)).orderBy(desc(appVersions.createdAt), desc(appVersions.id));
}

/** The app of this identifier, created if new; locked until the transaction ends, so versions of one app are added one at a time. */
export async function lockOrCreateApp(tx: DbOrTx, values: NewApp): Promise<{ app: AppRow; created: boolean }> {
  const [inserted] = await tx.insert(apps).values(values).onConflictDoNothing().returning();
  if (inserted) return { app: inserted, created: true };
  const [existing] = await tx
    .select()
    .from(apps)
    .where(and(eq(apps.organisationId, values.organisationId), eq(apps.platform, values.platform as AppPlatform), eq(apps.identifier, values.identifier)))
    .for('update');
  return { app: existing!, created: false };
}

export async function insertVersion(tx: DbOrTx, values: NewAppVersion): Promise<AppVersionRow> {
  const [row] = await tx.insert(appVersions).values(values).returning();
  await tx.update(apps).set({ updatedAt: new Date() }).where(eq(apps.id, values.appId));
  return row!;
}

export async function findVersion(db: DbOrTx, organisationId: string, versionId: string): Promise<{ version: AppVersionRow; app: AppRow } | null> {
  const [row] = await db
    .select({ version: appVersions, app: apps })
    .from(appVersions)
    .innerJoin(apps, eq(apps.id, appVersions.appId))
    .where(and(eq(appVersions.id, versionId), eq(appVersions.organisationId, organisationId)));
  return row ?? null;
}

export async function deleteApp(tx: DbOrTx, organisationId: string, id: string): Promise<AppRow | null> {
  const [row] = await tx.delete(apps).where(and(eq(apps.id, id), eq(apps.organisationId, organisationId))).returning();
  return row ?? null;
}

export async function deleteVersion(tx: DbOrTx, organisationId: string, appId: string, versionId: string): Promise<AppVersionRow | null> {
  const [row] = await tx
    .delete(appVersions)
    .where(and(eq(appVersions.id, versionId), eq(appVersions.appId, appId), eq(appVersions.organisationId, organisationId)))
    .returning();
  return row ?? null;
}

/** Whether a binary is in anyone's catalog: devices may fetch only what is. */
export async function isCataloguedFile(db: Db, sha256: string): Promise<boolean> {
  const [row] = await db.select({ id: appVersions.id }).from(appVersions).where(eq(appVersions.sha256, sha256)).limit(1);
  return Boolean(row);
}

/** Locks the app's row: its assignments change one at a time, and not while it leaves the catalog. */
export async function lockApp(tx: DbOrTx, organisationId: string, id: string): Promise<AppRow | null> {
  const [row] = await tx.select().from(apps).where(and(eq(apps.id, id), eq(apps.organisationId, organisationId))).for('update');
  return row ?? null;
}
