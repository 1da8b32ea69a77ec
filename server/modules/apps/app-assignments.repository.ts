import { and, asc, eq, sql, type SQL } from 'drizzle-orm';
import type { DeviceChannel, Platform } from '../../domain/devices';
import { preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { appAssignments, type ProfileScopeType } from '../../infra/db/schema';
import { withinSchools } from '../access/scope.repository';
import { eligibleDevices, type Eligibility } from '../commands/command-batches.repository';
import { activeDevices, reachesDevice, selectionSql, type DeviceSelection } from '../profiles/desired-state.repository';

export type AppAssignmentRow = typeof appAssignments.$inferSelect;

/**
 * The assignment of the app to the scope, at the version given: created, moved to that version,
 * or left as it was (`change` says which).
 */
export async function upsertAssignment(
  tx: DbOrTx,
  values: { organisationId: string; appId: string; appVersionId: string; scopeType: ProfileScopeType; scopeKey: string; createdBy: string | null },
): Promise<{ row: AppAssignmentRow; change: 'created' | 'version' | 'none' }> {
  const [before] = await tx
    .select()
    .from(appAssignments)
    .where(and(eq(appAssignments.appId, values.appId), eq(appAssignments.scopeType, values.scopeType), eq(appAssignments.scopeKey, values.scopeKey)))
    .for('update');
  if (before?.appVersionId === values.appVersionId) return { row: before, change: 'none' };
  if (before) {
    const [row] = await tx.update(appAssignments).set({ appVersionId: values.appVersionId, updatedAt: new Date() }).where(eq(appAssignments.id, before.id)).returning();
    return { row: row!, change: 'version' };
  }
  const [row] = await tx.insert(appAssignments).values(values).returning();
  return { row: row!, change: 'created' };
}

export async function assignmentsOfApp(db: DbOrTx, appId: string): Promise<AppAssignmentRow[]> {
  return db.select().from(appAssignments).where(eq(appAssignments.appId, appId)).orderBy(asc(appAssignments.createdAt), asc(appAssignments.id));
}

export async function findAssignment(tx: DbOrTx, appId: string, id: string): Promise<AppAssignmentRow | undefined> {
  const [row] = await tx.select().from(appAssignments).where(and(eq(appAssignments.id, id), eq(appAssignments.appId, appId)));
  return row;
}

export async function deleteAssignment(tx: DbOrTx, id: string): Promise<void> {
  await tx.delete(appAssignments).where(eq(appAssignments.id, id));
}

/** Whether an assignment names the app (or this version of it): what keeps it in the catalog. */
export async function isAssigned(tx: DbOrTx, appId: string, versionId?: string): Promise<boolean> {
  const [row] = await tx
    .select({ id: appAssignments.id })
    .from(appAssignments)
    .where(versionId ? eq(appAssignments.appVersionId, versionId) : eq(appAssignments.appId, appId))
    .limit(1);
  return row !== undefined;
}

/**
 * The device's organisation when any app is assigned in it; null otherwise (most enrollments need
 * look no further). Asked at every enrollment: prepared once per connection.
 */
export function organisationWithAssignedAppsStatement(db: Db): (deviceId: string) => Promise<string | null> {
  const statement = preparedStatement<{ organisation_id: string }>(
    db,
    'organisation_with_assigned_apps',
    sql`
    select d.organisation_id from devices d
    where d.id = ${sql.placeholder('deviceId')}::uuid and exists (select 1 from app_assignments a where a.organisation_id = d.organisation_id)`,
  );
  return async (deviceId) => (await statement({ deviceId }))[0]?.organisation_id ?? null;
}

/**
 * `wanted`: for each device of `dev`, the assigned apps of its platform, at the newest version
 * its assignments name; `held`: what was last sent to it, with that command's state.
 */
function wantedApps(organisationId: string): SQL {
  return sql`
    wanted as (
      select distinct on (dev.id, a.app_id) dev.id as device_id, a.app_id, a.app_version_id
      from dev
      join app_assignments a on ${reachesDevice(organisationId)}
      join apps ap on ap.id = a.app_id and ap.platform = dev.platform
      join app_versions av on av.id = a.app_version_id
      order by dev.id, a.app_id, av.created_at desc, av.id desc
    )`;
}

/** What a chunk of devices needs: installs where the sent version differs, removals of apps no longer assigned. */
function changes(organisationId: string, install: Eligibility, remove: Eligibility): SQL {
  return sql`${wantedApps(organisationId)},
    installs as (
      select w.device_id, w.app_id, w.app_version_id
      from wanted w join dev on dev.id = w.device_id
      left join device_assigned_apps da on da.device_id = w.device_id and da.app_id = w.app_id
      where ${eligibleDevices(install, 'dev')} and (da.device_id is null or da.action = 'remove' or da.app_version_id <> w.app_version_id)
    ), removals as (
      select da.device_id, da.app_id, da.app_version_id
      from device_assigned_apps da join dev on dev.id = da.device_id
      where da.action = 'install' and ${eligibleDevices(remove, 'dev')}
        and not exists (select 1 from wanted w where w.device_id = da.device_id and w.app_id = da.app_id)
    )`;
}

export interface AppChunk {
  organisationId: string;
  selection: DeviceSelection;
  /** Devices with ids in (after, upTo]. */
  after: string | null;
  upTo: string;
  install: Eligibility;
  remove: Eligibility;
}

function chunkWhere(chunk: AppChunk): SQL {
  return sql`${selectionSql(chunk.selection)} and (${chunk.after}::uuid is null or d.id > ${chunk.after}::uuid) and d.id <= ${chunk.upTo}::uuid`;
}

/** The app versions a chunk installs and the apps it removes: their command parameters are read from the catalog once each. */
export async function scanAppChunk(tx: DbOrTx, chunk: AppChunk): Promise<{ versionIds: string[]; appIds: string[] }> {
  const result = await tx.execute<{ version_ids: string[]; app_ids: string[] }>(sql`
    with ${activeDevices(chunk.organisationId, chunkWhere(chunk), null)}, ${changes(chunk.organisationId, chunk.install, chunk.remove)}
    select coalesce((select array_agg(distinct app_version_id::text) from installs), '{}') as version_ids,
           coalesce((select array_agg(distinct app_id::text) from removals), '{}') as app_ids`);
  const row = result.rows[0]!;
  return { versionIds: row.version_ids, appIds: row.app_ids };
}

export interface AppCommands {
  /** Derives the commands' ids, so a chunk stored twice stores nothing twice. */
  rolloutId: string;
  batchId: string | null;
  issuedBy: string | null;
  expiresAt: Date;
  installParams: { versionId: string; params: Record<string, unknown> }[];
  removeParams: { appId: string; params: Record<string, unknown> }[];
}

/**
 * One statement for the chunk: an `install_app` for each assigned app a device was not last sent
 * at its version, a `remove_app` for each app it was sent that no assignment reaches any more; a
 * queued command of the desired state for the same app that this one replaces is cancelled. An
 * app whose parameters are missing (left the catalog) is left out.
 */
export async function writeAppChunk(tx: DbOrTx, chunk: AppChunk, c: AppCommands): Promise<{ inserted: number; woken: { id: string; platform: Platform; channel: DeviceChannel | null }[] }> {
  const id = (suffix: SQL) => sql`md5(${c.rolloutId}::text || ':' || ${suffix})::uuid`;
  const result = await tx.execute<{ inserted: number; woken: { id: string; platform: Platform; channel: DeviceChannel | null }[] }>(sql`
    with ${activeDevices(chunk.organisationId, chunkWhere(chunk), null)}, ${changes(chunk.organisationId, chunk.install, chunk.remove)},
    ip as (select x.version_id, x.params from jsonb_to_recordset(${JSON.stringify(c.installParams.map((p) => ({ version_id: p.versionId, params: p.params })))}::jsonb) as x(version_id uuid, params jsonb)),
    rp as (select x.app_id, x.params from jsonb_to_recordset(${JSON.stringify(c.removeParams.map((p) => ({ app_id: p.appId, params: p.params })))}::jsonb) as x(app_id uuid, params jsonb)),
    cmds as (
      select i.device_id, i.app_id, i.app_version_id, 'install' as action, 'install_app' as kind, ip.params || jsonb_build_object('appId', i.app_id) as params,
             ${id(sql`i.device_id::text || ':app:' || i.app_id::text`)} as command_id
      from installs i join ip on ip.version_id = i.app_version_id
      union all
      select r.device_id, r.app_id, r.app_version_id, 'remove', 'remove_app', rp.params, ${id(sql`r.device_id::text || ':app:' || r.app_id::text`)}
      from removals r join rp on rp.app_id = r.app_id
    ), superseded as (
      update commands cm set status = 'cancelled', completed_at = now(), updated_at = now(), error_code = 'superseded', error_message = 'A newer desired state replaced it.'
      from cmds c
      where cm.device_id = c.device_id and cm.kind in ('install_app', 'remove_app') and cm.status = 'queued' and cm.origin = 'profile'
        and cm.params ->> 'appId' = c.app_id::text and cm.id <> c.command_id
      returning cm.id
    ), ins as (
      insert into commands (id, organisation_id, device_id, kind, params, origin, issued_by, batch_id, expires_at, created_at, updated_at)
      select command_id, ${chunk.organisationId}::uuid, device_id, kind, params, 'profile', ${c.issuedBy}::uuid, ${c.batchId}::uuid, ${c.expiresAt}::timestamptz, now(), now()
      from cmds
      on conflict (id) do nothing
      returning device_id
    ), sent as (
      insert into device_assigned_apps (device_id, app_id, organisation_id, app_version_id, action, command_id, updated_at)
      select device_id, app_id, ${chunk.organisationId}::uuid, app_version_id, action, command_id, now() from cmds
      on conflict (device_id, app_id) do update set app_version_id = excluded.app_version_id, action = excluded.action, command_id = excluded.command_id, updated_at = now()
      returning device_id
    )
    select (select count(*)::int from ins) as inserted,
           (select coalesce(json_agg(json_build_object('id', dev.id, 'platform', dev.platform, 'channel', dev.channel)), '[]'::json) from dev where dev.id in (select device_id from ins)) as woken`);
  const row = result.rows[0]!;
  return { inserted: row.inserted, woken: row.woken };
}

/** Where an assigned app stands on a device: from the state of the command last sent for it. */
export type AssignedAppState = 'installed' | 'pending' | 'failed' | 'removing' | 'removed';

export type DeviceAppRow = {
  appId: string;
  name: string | null;
  identifier: string | null;
  /** The version its assignments name now; null when none reaches the device any more. */
  wantedVersionId: string | null;
  wantedVersion: string | null;
  /** What was last sent, and where it stands. */
  sentVersionId: string | null;
  sentVersion: string | null;
  action: 'install' | 'remove' | null;
  commandId: string | null;
  commandStatus: string | null;
  error: { code: string; message: string } | null;
};

/** The assigned apps of one device: wanted (by its assignments now) beside sent (and the command's state). */
export async function deviceApps(db: DbOrTx, organisationId: string, deviceId: string): Promise<DeviceAppRow[]> {
  const result = await db.execute<DeviceAppRow>(sql`
    with ${activeDevices(organisationId, sql`d.id = ${deviceId}::uuid`, null)}, ${wantedApps(organisationId)},
    sent as (select * from device_assigned_apps where device_id = ${deviceId}::uuid)
    select coalesce(w.app_id, s.app_id)::text as "appId", ap.name, ap.identifier,
           w.app_version_id::text as "wantedVersionId", wv.version as "wantedVersion",
           s.app_version_id::text as "sentVersionId", sv.version as "sentVersion", s.action, s.command_id::text as "commandId",
           cm.status as "commandStatus",
           case when cm.error_code is null then null else jsonb_build_object('code', cm.error_code, 'message', cm.error_message) end as error
    from wanted w full join sent s on s.app_id = w.app_id
    left join apps ap on ap.id = coalesce(w.app_id, s.app_id)
    left join app_versions wv on wv.id = w.app_version_id
    left join app_versions sv on sv.id = s.app_version_id
    left join commands cm on cm.id = s.command_id
    order by ap.name nulls last, 1`);
  return result.rows;
}

/**
 * Devices within reach the app's assignments reach (of its platform, active), by the state of the
 * install last sent: installed (succeeded at the version wanted), failed (failed, expired or
 * cancelled), pending (anything else, or nothing sent yet).
 */
export async function appComplianceCounts(db: DbOrTx, organisationId: string, schools: readonly string[] | null, appId: string): Promise<{ compliant: number; pending: number; failed: number }> {
  const result = await db.execute<{ compliant: number; pending: number; failed: number }>(sql`
    with ${activeDevices(organisationId, sql`${withinSchools(sql`d.school_id`, schools)} and d.platform = (select platform from apps where id = ${appId}::uuid)`, null)},
    wanted as (
      select distinct on (dev.id) dev.id as device_id, a.app_version_id
      from dev join app_assignments a on a.app_id = ${appId}::uuid and ${reachesDevice(organisationId)}
      join app_versions av on av.id = a.app_version_id
      order by dev.id, av.created_at desc, av.id desc
    ), j as (
      select case
        when cm.status = 'succeeded' and da.action = 'install' and da.app_version_id = w.app_version_id then 'compliant'
        when cm.status in ('failed', 'expired', 'cancelled') and da.app_version_id = w.app_version_id then 'failed'
        else 'pending' end as state
      from wanted w
      left join device_assigned_apps da on da.device_id = w.device_id and da.app_id = ${appId}::uuid
      left join commands cm on cm.id = da.command_id
    )
    select count(*) filter (where state = 'compliant')::int as compliant,
           count(*) filter (where state = 'failed')::int as failed,
           count(*) filter (where state = 'pending')::int as pending
    from j`);
  return result.rows[0]!;
}
