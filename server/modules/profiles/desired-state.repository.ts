import { eq, sql, type SQL } from 'drizzle-orm';
import { pgArray, statementName, type Db, type DbOrTx } from '../../infra/db/client';
import { deviceDesiredStates, deviceProfiles, devices, type ProfileScopeType } from '../../infra/db/schema';
import type { DeviceChannel, Platform } from '../../domain/devices';
import { withinSchools } from '../access/scope.repository';
import { eligibleDevices, type Eligibility } from '../commands/command-batches.repository';

/**
 * An effective set: `{ profileId: version }`, and the location policy in force when it is not `off`,
 * under a reserved key naming the school's time zone (`location@Europe/Paris`: version of the
 * policy), so a change of either gives the device a new desired state.
 */
export type ProfileSet = Record<string, number>;

export const LOCATION_KEY_PREFIX = 'location@';

/** The profile ids of a set, without its location entry. */
export function profileIdsOf(set: ProfileSet): string[] {
  return Object.keys(set).filter((k) => !k.startsWith(LOCATION_KEY_PREFIX));
}

/** The location entry of a set: the policy's version and the school's time zone. */
export function locationOf(set: ProfileSet): { version: number; timeZone: string } | null {
  const key = Object.keys(set).find((k) => k.startsWith(LOCATION_KEY_PREFIX));
  return key ? { version: set[key]!, timeZone: key.slice(LOCATION_KEY_PREFIX.length) } : null;
}

/** Which devices a rollout looks at: an assignment's scope, those holding a profile, or one device. */
export type DeviceSelection = { scopeType: ProfileScopeType; scopeKey: string } | { holding: string } | { deviceId: string };

export function selectionSql(selection: DeviceSelection): SQL {
  if ('deviceId' in selection) return sql`d.id = ${selection.deviceId}::uuid`;
  if ('holding' in selection) return sql`exists (select 1 from device_desired_states h where h.device_id = d.id and h.profiles ? ${selection.holding})`;
  const key = selection.scopeKey;
  switch (selection.scopeType) {
    case 'organisation':
      return sql`true`;
    case 'commune':
      return sql`s.commune_id = ${key}::uuid`;
    case 'school':
      return sql`d.school_id = ${key}::uuid`;
    case 'group':
      return sql`d.group_id = ${key}::uuid`;
    case 'platform':
      return sql`d.platform = ${key}`;
    case 'tag':
      return sql`${key} = any(d.tags)`;
  }
}

/** `dev`: the active devices of `where`, in id order. */
export function activeDevices(organisationId: string | SQL, where: SQL, limit: number | null): SQL {
  return sql`
    dev as (
      select d.id, d.platform, d.channel, d.capabilities, d.school_id, d.group_id, d.tags, s.commune_id
      from devices d join schools s on s.id = d.school_id
      where d.organisation_id = ${organisationId} and d.status = 'active' and ${where}
      order by d.id ${limit === null ? sql`` : sql`limit ${limit}`}
    )`;
}

/** Whether the assignment `a` (of a profile or an app) reaches the device `dev`. */
export function reachesDevice(organisationId: string | SQL): SQL {
  return sql`a.organisation_id = ${organisationId} and (
           a.scope_type = 'organisation'
        or (a.scope_type = 'commune' and a.scope_key = dev.commune_id::text)
        or (a.scope_type = 'school' and a.scope_key = dev.school_id::text)
        or (a.scope_type = 'group' and a.scope_key = dev.group_id::text)
        or (a.scope_type = 'platform' and a.scope_key = dev.platform)
        or (a.scope_type = 'tag' and a.scope_key = any(dev.tags)))`;
}

/**
 * The common table expressions of the effective set, for the active devices of `where`:
 * `dev` (the devices), `eff` (each with its set, computed in one join of devices × assignments)
 * and `changed` (those whose set differs from their stored desired state).
 */
function effectiveSets(organisationId: string | SQL, where: SQL, limit: number | null): SQL {
  return sql`${activeDevices(organisationId, where, limit)}, matched as (
      select distinct dev.id as device_id, p.id as profile_id, p.version
      from dev
      join profile_assignments a on ${reachesDevice(organisationId)}
      join profiles p on p.id = a.profile_id
    ), located as (
      select dev.id as device_id, ${LOCATION_KEY_PREFIX}::text || sc.timezone as profile_id, lp.version
      from dev join schools sc on sc.id = dev.school_id
      cross join lateral (
        select l.mode, l.version from location_policies l
        where l.organisation_id = ${organisationId} and (
             (l.scope_type = 'school' and l.scope_id = dev.school_id)
          or (l.scope_type = 'commune' and l.scope_id = dev.commune_id)
          or l.scope_type = 'organisation')
        order by case l.scope_type when 'school' then 0 when 'commune' then 1 else 2 end
        limit 1
      ) lp
      where lp.mode <> 'off'
    ), sets as (
      select device_id, jsonb_object_agg(profile_id, version) as profiles
      from (select device_id, profile_id::text as profile_id, version from matched union all select * from located) entries
      group by device_id
    ), eff as (
      select dev.id, dev.platform, dev.channel, dev.capabilities, coalesce(sets.profiles, '{}'::jsonb) as profiles from dev left join sets on sets.device_id = dev.id
    ), changed as (
      select eff.* from eff left join device_desired_states ds on ds.device_id = eff.id
      where eff.profiles is distinct from coalesce(ds.profiles, '{}'::jsonb)
    )`;
}

/** Chunks of one organisation's desired states are computed one at a time: two changes never race on a device's version. */
export async function lockOrganisationStates(tx: DbOrTx, organisationId: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`desired-state:${organisationId}`}))`);
}

export async function relaxCommit(tx: DbOrTx): Promise<void> {
  await tx.execute(sql`set local synchronous_commit = off`);
}

/**
 * The next chunk of devices after `cursor`: its last device id, how many devices it held, and the
 * distinct effective sets among those whose set changed (few: devices of a school share theirs).
 */
export async function scanChunk(tx: DbOrTx, organisationId: string, selection: DeviceSelection, cursor: string | null, size: number): Promise<{ last: string | null; scanned: number; sets: ProfileSet[] }> {
  const where = sql`${selectionSql(selection)} and (${cursor}::uuid is null or d.id > ${cursor}::uuid)`;
  const result = await tx.execute<{ last: string | null; scanned: number; sets: ProfileSet[] }>(sql`
    with ${effectiveSets(organisationId, where, size)}
    select (select id::text from dev order by id desc limit 1) as last,
           (select count(*)::int from dev) as scanned,
           (select coalesce(jsonb_agg(distinct profiles), '[]'::jsonb) from changed) as sets`);
  return result.rows[0]!;
}

export interface ChunkWrite {
  organisationId: string;
  selection: DeviceSelection;
  /** Devices with ids in (after, upTo]. */
  after: string | null;
  upTo: string;
  /** The agent policy of each changed set; a device whose set is not here is left for the change that moved it. */
  policies: { profiles: ProfileSet; policy: Record<string, unknown> }[];
  /** Absent: desired states only (a device about to receive its state in an answer). */
  commands?: ChunkCommands;
}

export interface ChunkCommands {
  /** Derives the commands' ids, so a chunk stored twice stores nothing twice. */
  rolloutId: string;
  /** What `GET /commands?batchId=` groups them by; null for one device's own convergence. */
  batchId: string | null;
  issuedBy: string | null;
  expiresAt: Date;
  /** Platforms that take the whole desired state as one `apply_policy`. */
  rules: Eligibility;
  /** Platforms that take each profile as its own `install_profile` / `remove_profile`. */
  profileRules: Eligibility;
  /** Of those, the platforms asked for their installed profiles (`profile_list`) after the changes. */
  listRules: Eligibility;
}

/**
 * The commands of devices that take profiles one by one: an install for each profile of the set
 * the device was not last sent at this version, a removal for each profile it was sent that left
 * the set, a `profile_list` after them where the platform has one. `device_profiles` records what
 * was sent; a queued command for the same profile that this one replaces is cancelled.
 */
function profileCommandCtes(organisationId: string, c: ChunkCommands): SQL {
  const id = (suffix: SQL) => sql`md5(${c.rolloutId}::text || ':' || ${suffix})::uuid`;
  return sql`,
    pt as (select t.id, t.profiles from target t where ${eligibleDevices(c.profileRules, 't')}),
    wanted as (
      -- The location entry of a set is no profile: never cast, whatever order the plan takes.
      select pt.id as device_id, (case when e.key not like ${`${LOCATION_KEY_PREFIX}%`} then e.key::uuid end) as profile_id, e.value::int as version
      from pt cross join jsonb_each_text(pt.profiles) e
      where e.key not like ${`${LOCATION_KEY_PREFIX}%`}
    ),
    p_install as (
      select w.device_id, p.id as profile_id, p.slug, p.version, p.body, ${id(sql`w.device_id::text || ':' || p.id::text`)} as command_id
      from wanted w join profiles p on p.id = w.profile_id and p.version = w.version
      left join device_profiles dp on dp.device_id = w.device_id and dp.profile_id = w.profile_id
      where dp.device_id is null or dp.version <> w.version or dp.status = 'removing'
    ), p_remove as (
      select dp.device_id, dp.profile_id, dp.slug, dp.version, ${id(sql`dp.device_id::text || ':' || dp.profile_id::text`)} as command_id
      from device_profiles dp join pt on pt.id = dp.device_id
      where not (pt.profiles ? dp.profile_id::text) and dp.status <> 'removing'
    ), p_cmds as (
      select device_id, profile_id, command_id from p_install union all select device_id, profile_id, command_id from p_remove
    ), p_superseded as (
      update commands cm set status = 'cancelled', completed_at = now(), updated_at = now(), error_code = 'superseded', error_message = 'A newer desired state replaced it.'
      from p_cmds pc
      where cm.device_id = pc.device_id and cm.kind in ('install_profile', 'remove_profile') and cm.status = 'queued'
        and cm.params ->> 'profileUuid' = pc.profile_id::text and cm.id <> pc.command_id
      returning cm.id
    ), p_ins as (
      insert into commands (id, organisation_id, device_id, kind, params, origin, issued_by, batch_id, expires_at, created_at, updated_at)
      select command_id, ${organisationId}::uuid, device_id, 'install_profile', jsonb_build_object('profileUuid', profile_id, 'version', version, 'profile', body),
             'profile', ${c.issuedBy}::uuid, ${c.batchId}::uuid, ${c.expiresAt}::timestamptz, now(), now()
      from p_install
      union all
      select command_id, ${organisationId}::uuid, device_id, 'remove_profile', jsonb_build_object('profileUuid', profile_id, 'profileId', slug),
             'profile', ${c.issuedBy}::uuid, ${c.batchId}::uuid, ${c.expiresAt}::timestamptz, now(), now()
      from p_remove
      on conflict (id) do nothing
      returning device_id
    ), p_rows as (
      insert into device_profiles (device_id, profile_id, organisation_id, slug, version, status, command_id, error, updated_at)
      select device_id, profile_id, ${organisationId}::uuid, slug, version, 'pending', command_id, null::jsonb, now() from p_install
      union all
      select device_id, profile_id, ${organisationId}::uuid, slug, version, 'removing', command_id, null::jsonb, now() from p_remove
      on conflict (device_id, profile_id) do update set slug = excluded.slug, version = excluded.version, status = excluded.status, command_id = excluded.command_id, error = null, updated_at = now()
      returning device_id
    ), p_list as (
      insert into commands (id, organisation_id, device_id, kind, params, origin, issued_by, batch_id, expires_at, created_at, updated_at)
      select ${id(sql`t.id::text || ':profile_list'`)}, ${organisationId}::uuid, t.id, 'profile_list', '{}'::jsonb,
             'profile', ${c.issuedBy}::uuid, ${c.batchId}::uuid, ${c.expiresAt}::timestamptz, now() + interval '1 millisecond', now()
      from target t
      where t.id in (select device_id from p_cmds) and ${eligibleDevices(c.listRules, 't')}
      on conflict (id) do nothing
      returning device_id
    )`;
}

/**
 * One statement for the chunk: each device whose set changed gets a new desired-state version
 * (one number from the sequence for the chunk). A device that takes a whole policy has its queued
 * `apply_policy` commands superseded and gets a new one, with an id derived from (rollout,
 * device); a device that takes profiles one by one gets the installs and removals its new set needs.
 */
export async function writeChunk(tx: DbOrTx, chunk: ChunkWrite): Promise<{ changed: number; inserted: number; version: number | null; woken: { id: string; platform: Platform; channel: DeviceChannel | null }[] }> {
  const where = sql`${selectionSql(chunk.selection)} and (${chunk.after}::uuid is null or d.id > ${chunk.after}::uuid) and d.id <= ${chunk.upTo}::uuid`;
  const c = chunk.commands;
  const commandCtes = c
    ? sql`, superseded as (
        -- Driven from the chunk's devices through the device index: planned as a join, a queue of
        -- earlier chunks' commands grown faster than the statistics made each chunk rescan it.
        update commands set status = 'cancelled', completed_at = now(), updated_at = now(), error_code = 'superseded', error_message = 'A newer desired state replaced it.'
        where device_id = any(array(select id from target)) and kind = 'apply_policy' and status = 'queued'
        returning id
      ), ins as (
        insert into commands (id, organisation_id, device_id, kind, params, origin, issued_by, batch_id, expires_at, created_at, updated_at)
        select md5(${c.rolloutId}::text || ':' || t.id::text)::uuid, ${chunk.organisationId}, t.id, 'apply_policy',
               jsonb_build_object('version', v.version, 'policy', t.policy), 'profile', ${c.issuedBy}::uuid, ${c.batchId}::uuid, ${c.expiresAt}, now(), now()
        from target t cross join v
        where ${eligibleDevices(c.rules, 't')}
        on conflict (id) do nothing
        returning device_id
      )${profileCommandCtes(chunk.organisationId, c)}`
    : sql`, ins as (select null::uuid as device_id where false), superseded as (select 1 where false),
        p_ins as (select null::uuid as device_id where false), p_superseded as (select 1 where false), p_rows as (select 1 where false), p_list as (select 1 where false)`;
  const result = await tx.execute<{ changed: number; inserted: number; version: string | null; woken: { id: string; platform: Platform; channel: DeviceChannel | null }[] }>(sql`
    with ${effectiveSets(chunk.organisationId, where, null)},
    pol as (select x.profiles, x.policy from jsonb_to_recordset(${JSON.stringify(chunk.policies)}::jsonb) as x(profiles jsonb, policy jsonb)),
    target as (select ch.id, ch.platform, ch.channel, ch.capabilities, ch.profiles, pol.policy from changed ch join pol on pol.profiles = ch.profiles),
    v as materialized (select nextval('desired_state_version_seq') as version where exists (select 1 from target)),
    up as (
      insert into device_desired_states (device_id, organisation_id, version, profiles, desired_at)
      select t.id, ${chunk.organisationId}, v.version, t.profiles, now() from target t cross join v
      on conflict (device_id) do update set version = excluded.version, profiles = excluded.profiles, desired_at = excluded.desired_at
      returning device_id
    )${commandCtes}
    select (select count(*)::int from up) as changed,
           (select count(*)::int from ins) + (select count(*)::int from p_ins) as inserted,
           (select version::text from v) as version,
           (select coalesce(json_agg(json_build_object('id', t.id, 'platform', t.platform, 'channel', t.channel)), '[]'::json) from target t
             where t.id in (select device_id from ins) or t.id in (select device_id from p_ins)) as woken,
           (select count(*) from superseded) + (select count(*) from p_superseded) as superseded,
           (select count(*) from p_rows) + (select count(*) from p_list) as piecewise`);
  const row = result.rows[0]!;
  return { changed: row.changed, inserted: row.inserted, version: row.version === null ? null : Number(row.version), woken: row.woken };
}

export type DesiredStateRow = typeof deviceDesiredStates.$inferSelect;

export async function findDesiredState(db: DbOrTx, deviceId: string): Promise<DesiredStateRow | undefined> {
  const [row] = await db.select().from(deviceDesiredStates).where(eq(deviceDesiredStates.deviceId, deviceId));
  return row;
}

/** The device, within the scope, with what the desired-state view needs; undefined when out of reach. */
export async function deviceForView(db: DbOrTx, organisationId: string, schools: readonly string[] | null, id: string) {
  const [row] = await db
    .select({ id: devices.id, platform: devices.platform, capabilities: devices.capabilities, status: devices.status })
    .from(devices)
    .where(sql`${devices.id} = ${id} and ${devices.organisationId} = ${organisationId} and ${withinSchools(devices.schoolId, schools)}`);
  return row;
}

/**
 * In one statement, what a device's session needs of its desired state: its organisation, its
 * stored state, and whether its effective set changed since (then the caller stores a new one).
 * Read at every enrollment and every session: prepared once per connection, as planning it
 * costs PostgreSQL about twenty times its execution.
 */
export function peekDeviceStatement(db: Db): (deviceId: string) => Promise<{ organisationId: string; row: DesiredStateRow | undefined; changed: boolean } | undefined> {
  const deviceId = sql.placeholder('deviceId');
  const organisationId = sql`(select o.organisation_id from devices o where o.id = ${deviceId}::uuid)`;
  const query = db
    .select({
      organisationId: devices.organisationId,
      row: deviceDesiredStates,
      changed: sql<boolean>`(with ${effectiveSets(organisationId, sql`d.id = ${deviceId}::uuid`, 1)} select exists (select 1 from changed))`,
    })
    .from(devices)
    .leftJoin(deviceDesiredStates, eq(deviceDesiredStates.deviceId, devices.id))
    .where(eq(devices.id, deviceId));
  const statement = query.prepare(statementName('desired_state_peek', query.toSQL()));
  return async (id) => {
    const [found] = await statement.execute({ deviceId: id });
    return found ? { organisationId: found.organisationId, row: found.row ?? undefined, changed: found.changed } : undefined;
  };
}

export async function deviceOrganisation(db: DbOrTx, deviceId: string): Promise<{ organisationId: string } | undefined> {
  const [row] = await db.select({ organisationId: devices.organisationId }).from(devices).where(eq(devices.id, deviceId));
  return row;
}

/** `policy_applied`: a version is never taken back by an older report arriving late. */
export async function recordApplied(db: DbOrTx, deviceId: string, version: number, nonCompliance: { fieldPath: string; reason: string }[]): Promise<void> {
  await db.execute(sql`
    update device_desired_states set applied_version = ${version}, applied_at = now(), non_compliance = ${JSON.stringify(nonCompliance)}::jsonb, reported_at = now()
    where device_id = ${deviceId} and (applied_version is null or applied_version <= ${version})`);
}

export async function recordRejected(db: DbOrTx, deviceId: string, version: number, errors: unknown[]): Promise<void> {
  await db.execute(sql`
    update device_desired_states set rejected_version = ${version}, rejection_errors = ${JSON.stringify(errors)}::jsonb, reported_at = now()
    where device_id = ${deviceId} and (rejected_version is null or rejected_version <= ${version})`);
}

/** `hello.appliedStateVersion`: what the agent holds, when it says more than its last report did. */
export async function recordAnnounced(db: DbOrTx, deviceId: string, version: number): Promise<void> {
  await db.execute(sql`
    update device_desired_states set applied_version = ${version}, applied_at = coalesce(applied_at, now())
    where device_id = ${deviceId} and (applied_version is null or applied_version < ${version})`);
}

/**
 * Devices within the scope holding the profile, by state of their current desired version:
 * compliant (applied, nothing it could not apply), failed (rejected, or applied with
 * non-compliant fields), pending (not applied yet). A device of a platform that takes profiles one
 * by one (not in `policyPlatforms`) is judged on that profile alone: installed at the version of its
 * set, or failed at it.
 */
export async function complianceCounts(db: DbOrTx, organisationId: string, schools: readonly string[] | null, profileId: string, policyPlatforms: readonly string[]): Promise<{ compliant: number; pending: number; failed: number }> {
  const result = await db.execute<{ compliant: number; pending: number; failed: number }>(sql`
    with s as (
      select d.platform = any(${pgArray(policyPlatforms)}::text[]) as whole,
             (ds.rejected_version is not null and ds.rejected_version >= ds.version) as rejected,
             (ds.applied_version is not null and ds.applied_version >= ds.version) as applied,
             jsonb_array_length(ds.non_compliance) > 0 as partial,
             dp.status as piece, coalesce(dp.version = (ds.profiles ->> ${profileId})::int, false) as piece_current
      from device_desired_states ds join devices d on d.id = ds.device_id
      left join device_profiles dp on dp.device_id = ds.device_id and dp.profile_id = ${profileId}::uuid
      where ds.organisation_id = ${organisationId} and ds.profiles ? ${profileId} and d.status = 'active' and ${withinSchools(sql`d.school_id`, schools)}
    ), j as (
      select case
        when whole and applied and not partial and not rejected then 'compliant'
        when whole and (rejected or (applied and partial)) then 'failed'
        when whole then 'pending'
        when piece = 'installed' and piece_current then 'compliant'
        when piece = 'failed' and piece_current then 'failed'
        else 'pending' end as state
      from s
    )
    select count(*) filter (where state = 'compliant')::int as compliant,
           count(*) filter (where state = 'failed')::int as failed,
           count(*) filter (where state = 'pending')::int as pending
    from j`);
  return result.rows[0]!;
}

/**
 * A device's answer to the install or removal of a profile, matched by the command that carries
 * the current one: an answer to a command since replaced changes nothing.
 */
export async function recordProfileOutcome(db: DbOrTx, deviceId: string, commandId: string, outcome: { succeeded: true } | { succeeded: false; error: { code: string; message: string } }): Promise<void> {
  if (outcome.succeeded) {
    await db.execute(sql`
      with removed as (delete from device_profiles where device_id = ${deviceId} and command_id = ${commandId} and status = 'removing' returning 1)
      update device_profiles set status = 'installed', error = null, verified_at = null, updated_at = now()
      where device_id = ${deviceId} and command_id = ${commandId} and status = 'pending'`);
    return;
  }
  await db.execute(sql`
    update device_profiles set status = 'failed', error = ${JSON.stringify(outcome.error)}::jsonb, updated_at = now()
    where device_id = ${deviceId} and command_id = ${commandId} and status in ('pending', 'removing')`);
}

/**
 * What the device lists as installed (by profile slug): installed profiles it lists are verified,
 * those it no longer lists (removed on the tablet) fail, so they show as not compliant.
 */
export async function recordProfileList(db: DbOrTx, deviceId: string, slugs: readonly string[]): Promise<void> {
  const listed = JSON.stringify(slugs);
  await db.execute(sql`
    update device_profiles set
      verified_at = case when ${listed}::jsonb ? slug then now() else verified_at end,
      status = case when ${listed}::jsonb ? slug then status else 'failed' end,
      error = case when ${listed}::jsonb ? slug then error else ${JSON.stringify({ code: 'not_on_device', message: 'The device no longer lists this profile among its installed profiles' })}::jsonb end,
      updated_at = now()
    where device_id = ${deviceId} and status = 'installed'`);
}

export type DeviceProfileRow = typeof deviceProfiles.$inferSelect;

export async function deviceProfilesOf(db: DbOrTx, deviceId: string): Promise<DeviceProfileRow[]> {
  return db.select().from(deviceProfiles).where(eq(deviceProfiles.deviceId, deviceId));
}
