import { and, asc, desc, eq, sql, type SQL } from 'drizzle-orm';
import { pgArray, type DbOrTx } from '../../infra/db/client';
import { campaigns, campaignTemplates, campaignWaves, schools } from '../../infra/db/schema';
import { FINAL_STATUSES } from '../../domain/commands';
import { TEMPORARY_ERROR_CODES, type CampaignTarget, type TargetStatus } from '../../domain/campaigns';
import type { DeviceChannel, Platform } from '../../domain/devices';
import { withinSchools } from '../access/scope.repository';
import type { Eligibility } from '../commands/command-batches.repository';

export type CampaignRow = typeof campaigns.$inferSelect;
export type NewCampaignRow = typeof campaigns.$inferInsert;
export type WaveRow = typeof campaignWaves.$inferSelect;
export type TemplateRow = typeof campaignTemplates.$inferSelect;

const FINAL = sql.raw(FINAL_STATUSES.map((s) => `'${s}'`).join(', '));

export async function insertCampaign(tx: DbOrTx, row: NewCampaignRow, waves: Omit<WaveRow, 'campaignId' | 'startedAt' | 'endedAt' | 'approvedBy' | 'status'>[]): Promise<CampaignRow> {
  const [created] = await tx.insert(campaigns).values(row).returning();
  await tx.insert(campaignWaves).values(waves.map((w) => ({ ...w, campaignId: created!.id })));
  return created!;
}

export async function findCampaign(db: DbOrTx, organisationId: string, id: string): Promise<CampaignRow | null> {
  const [row] = await db.select().from(campaigns).where(and(eq(campaigns.id, id), eq(campaigns.organisationId, organisationId)));
  return row ?? null;
}

/**
 * Fan-out chunks hold a campaign's step lock shared, so that chunks for different schools run side
 * by side; every other step and every change of state holds it exclusively, and so waits for the
 * chunks in progress to commit. An advisory lock because PostgreSQL queues its waiters fairly: a
 * pause waiting for it holds back the chunks that come after it.
 */
const stepKey = (id: string) => sql`hashtextextended(${`cartable:campaign:${id}`}, 0)`;

async function stepLock(tx: DbOrTx, id: string, mode: 'shared' | 'exclusive'): Promise<void> {
  await tx.execute(mode === 'shared' ? sql`select pg_advisory_xact_lock_shared(${stepKey(id)})` : sql`select pg_advisory_xact_lock(${stepKey(id)})`);
}

/** The step lock exclusively if no other step holds it; false at once otherwise. */
async function tryStepLock(tx: DbOrTx, id: string): Promise<boolean> {
  const got = await tx.execute<{ got: boolean }>(sql`select pg_try_advisory_xact_lock(${stepKey(id)}) as got`);
  return got.rows[0]!.got;
}

/** The campaign row locked for a change of state; waits for the fan-out chunks in progress to commit. */
export async function lockCampaign(tx: DbOrTx, organisationId: string, id: string): Promise<CampaignRow | null> {
  await stepLock(tx, id, 'exclusive');
  const [row] = await tx
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.organisationId, organisationId)))
    .for('update');
  return row ?? null;
}

/**
 * The campaign, locked for one step of the engine, if it is still running. Waits for another
 * step in progress (they are short): the state it then reads includes that step's work; or, when
 * told not to wait, answers 'busy' at once.
 */
export async function lockRunning(tx: DbOrTx, id: string, wait: boolean): Promise<CampaignRow | 'busy' | null> {
  if (wait) await stepLock(tx, id, 'exclusive');
  else if (!(await tryStepLock(tx, id))) return 'busy';
  const [row] = await tx
    .select()
    .from(campaigns)
    .where(and(eq(campaigns.id, id), eq(campaigns.status, 'running')))
    .for('update');
  return row ?? null;
}

/**
 * The campaign, if still running, for one fan-out chunk to these schools: the step lock shared,
 * and each school's own lock, which keeps a school's count of devices installing exact while other
 * schools go ahead. 'taken' when another worker holds one of the schools: it is fanning out to
 * them and goes on until they are done, so waiting for it would only queue the workers one behind
 * the other on the same schools.
 */
export async function lockForChunk(tx: DbOrTx, id: string, schoolIds: readonly string[]): Promise<CampaignRow | 'taken' | null> {
  await stepLock(tx, id, 'shared');
  const [row] = await tx.select().from(campaigns).where(and(eq(campaigns.id, id), eq(campaigns.status, 'running')));
  if (!row) return null;
  const got = await tx.execute<{ all: boolean }>(sql`
    select bool_and(pg_try_advisory_xact_lock(hashtext(${id}), hashtext(s.id::text))) as all
    from unnest(${pgArray(schoolIds)}::uuid[]) as s(id)`);
  return got.rows[0]!.all ? row : 'taken';
}

export async function listCampaigns(db: DbOrTx, organisationId: string, scopeSchoolIds: readonly string[] | null, limit = 200): Promise<CampaignRow[]> {
  const visible = scopeSchoolIds === null ? sql`true` : sql`(${campaigns.scopeSchoolIds} && ${pgArray(scopeSchoolIds)}::uuid[])`;
  return db.select().from(campaigns).where(and(eq(campaigns.organisationId, organisationId), visible)).orderBy(desc(campaigns.createdAt)).limit(limit);
}

export async function runningCampaignIds(db: DbOrTx): Promise<string[]> {
  const rows = await db.select({ id: campaigns.id }).from(campaigns).where(eq(campaigns.status, 'running'));
  return rows.map((r) => r.id);
}

export async function setCampaign(tx: DbOrTx, id: string, values: Partial<Pick<CampaignRow, 'status' | 'startedAt' | 'completedAt' | 'target' | 'revision'>>): Promise<void> {
  await tx
    .update(campaigns)
    .set({ ...values, updatedAt: sql`now()` })
    .where(eq(campaigns.id, id));
}

export function wavesOf(db: DbOrTx, campaignId: string): Promise<WaveRow[]> {
  return db.select().from(campaignWaves).where(eq(campaignWaves.campaignId, campaignId)).orderBy(asc(campaignWaves.position));
}

export async function setWave(tx: DbOrTx, campaignId: string, position: number, values: Partial<Pick<WaveRow, 'status' | 'startedAt' | 'endedAt' | 'approvedBy'>>): Promise<void> {
  await tx
    .update(campaignWaves)
    .set(values)
    .where(and(eq(campaignWaves.campaignId, campaignId), eq(campaignWaves.position, position)));
}

/** The campaign's devices, in SQL over `devices d`: its places add up, platforms and tags narrow. */
function matches(organisationId: string, scopeSchoolIds: readonly string[] | null, target: CampaignTarget): SQL {
  const places: SQL[] = [];
  if (target.schoolIds?.length) places.push(sql`d.school_id = any(${pgArray(target.schoolIds)}::uuid[])`);
  if (target.communeIds?.length) places.push(sql`d.school_id in (select s.id from schools s where s.commune_id = any(${pgArray(target.communeIds)}::uuid[]))`);
  if (target.groupIds?.length) places.push(sql`d.group_id = any(${pgArray(target.groupIds)}::uuid[])`);
  if (target.deviceIds?.length) places.push(sql`d.id = any(${pgArray(target.deviceIds)}::uuid[])`);
  return sql.join(
    [
      sql`d.organisation_id = ${organisationId}`,
      sql`d.status = 'active'`,
      withinSchools(sql`d.school_id`, scopeSchoolIds),
      places.length ? sql`(${sql.join(places, sql` or `)})` : sql`true`,
      target.platforms?.length ? sql`d.platform = any(${pgArray(target.platforms)}::text[])` : sql`true`,
      target.tags?.length ? sql`d.tags && ${pgArray(target.tags)}::text[]` : sql`true`,
      target.installedApp ? sql`exists (select 1 from device_apps a where a.device_id = d.id and a.identifier = ${target.installedApp})` : sql`true`,
    ],
    sql` and `,
  );
}

/** The wave of a device from its school: the first wave naming it, else the wave of every other school. */
function waveOf(waves: readonly Pick<WaveRow, 'position' | 'schoolIds'>[]): SQL {
  const named = waves.filter((w) => w.schoolIds);
  const rest = waves.find((w) => !w.schoolIds)?.position ?? null;
  if (named.length === 0) return sql`${rest}::int`;
  return sql`case ${sql.join(
    named.map((w) => sql`when d.school_id = any(${pgArray(w.schoolIds!)}::uuid[]) then ${w.position}::int`),
    sql` `,
  )} else ${rest}::int end`;
}

/** Why a device cannot receive the campaign, or null: its platform cannot take the kind, or the app is another platform's. */
function unreachable(rules: Eligibility, appPlatform: Platform | null): SQL {
  // A channel is part of the route: an Android kind of Cartable's agent is not one Google's Android Device Policy takes.
  const supported = rules.length ? sql.join(rules.map((r) => sql`(d.platform = ${r.platform} and d.channel is not distinct from ${r.channel}::text)`), sql` or `) : sql`false`;
  return sql`case when not (${supported}) then 'platform_unsupported' when ${appPlatform}::text is not null and d.platform <> ${appPlatform}::text then 'app_not_for_platform' end`;
}

export interface Selection {
  campaign: Pick<CampaignRow, 'id' | 'organisationId' | 'scopeSchoolIds' | 'target'>;
  waves: readonly Pick<WaveRow, 'position' | 'schoolIds'>[];
  rules: Eligibility;
  appPlatform: Platform | null;
}

/**
 * Stores the target set in one statement: every matching device with its school, platform and
 * wave, `skipped` with the reason when it cannot receive the campaign. With `enrolledAfter`, only
 * devices that joined since (those already there are left as they are).
 */
export async function insertTargets(tx: DbOrTx, s: Selection, enrolledAfter: Date | null = null): Promise<number> {
  const result = await tx.execute(sql`
    insert into campaign_targets (campaign_id, device_id, school_id, platform, wave, status, reason, joined)
    select ${s.campaign.id}, d.id, d.school_id, d.platform, x.wave, case when x.reason is null then 'pending' else 'skipped' end, x.reason, ${enrolledAfter !== null}
    from devices d cross join lateral (select ${waveOf(s.waves)} as wave, ${unreachable(s.rules, s.appPlatform)} as reason) x
    where ${matches(s.campaign.organisationId, s.campaign.scopeSchoolIds, s.campaign.target)} and x.wave is not null
      and (${enrolledAfter}::timestamptz is null or d.enrolled_at > ${enrolledAfter}::timestamptz)
    on conflict do nothing`);
  return result.rowCount ?? 0;
}

/** A revised target: devices no longer in it that were not sent anything are skipped. */
export async function skipOutsideTarget(tx: DbOrTx, s: Selection): Promise<number> {
  const result = await tx.execute(sql`
    update campaign_targets t set status = 'skipped', reason = 'target_revised', updated_at = now()
    where t.campaign_id = ${s.campaign.id} and t.status = 'pending'
      and not exists (select 1 from devices d where d.id = t.device_id and ${matches(s.campaign.organisationId, s.campaign.scopeSchoolIds, s.campaign.target)})`);
  return result.rowCount ?? 0;
}

/**
 * Moves `sent` devices whose command is final: succeeded, failed, or back to pending after a
 * backoff when the failure is temporary and attempts remain before the deadline.
 */
export async function syncOutcomes(tx: DbOrTx, c: CampaignRow, now: Date): Promise<number> {
  const temporary = sql`(k.status = 'expired' or k.error_code = any(${pgArray([...TEMPORARY_ERROR_CODES])}::text[]))`;
  const retryAt = sql`${now}::timestamptz + make_interval(secs => ${c.retry.backoffSec} * power(2, t.attempts - 1))`;
  const retry = sql`(${temporary} and t.attempts < ${c.retry.maxAttempts} and (${c.deadline}::timestamptz is null or ${retryAt} < ${c.deadline}::timestamptz))`;
  const result = await tx.execute(sql`
    update campaign_targets t set
      status = case when k.status = 'succeeded' then 'succeeded' when ${retry} then 'pending' else 'failed' end,
      next_attempt_at = case when k.status <> 'succeeded' and ${retry} then ${retryAt} end,
      reason = case when k.status = 'succeeded' then null when k.status in ('expired', 'cancelled') then k.status else coalesce(k.error_code, 'failed') end,
      updated_at = now()
    from commands k
    where t.campaign_id = ${c.id} and t.status = 'sent' and k.id = t.command_id and k.status in (${FINAL})`);
  return result.rowCount ?? 0;
}

export async function skipPending(tx: DbOrTx, campaignId: string, reason: string, fromWave = 0): Promise<number> {
  const result = await tx.execute(sql`
    update campaign_targets set status = 'skipped', reason = ${reason}, updated_at = now()
    where campaign_id = ${campaignId} and status = 'pending' and wave >= ${fromWave}`);
  return result.rowCount ?? 0;
}

/**
 * Cancels the campaign's commands no device has acknowledged; a device that was given one is told.
 * A campaign's open commands are those of its `sent` devices (a device gets its next attempt only
 * once the previous command is final), so they are reached from the targets and the commands
 * table needs no index of its own on the campaign (one index entry less per fanned-out command).
 */
export async function cancelOpenCommands(tx: DbOrTx, campaignId: string): Promise<number> {
  const result = await tx.execute(sql`
    with cancelled as (
      update commands k set status = 'cancelled', completed_at = now(), updated_at = now()
      from campaign_targets t
      where t.campaign_id = ${campaignId} and t.status = 'sent' and k.id = t.command_id and k.status in ('queued', 'sent', 'not_now')
      returning t.device_id
    )
    update campaign_targets t set status = 'skipped', reason = 'cancelled', updated_at = now()
    from cancelled c where t.campaign_id = ${campaignId} and t.device_id = c.device_id`);
  return result.rowCount ?? 0;
}

export type Counts = Record<TargetStatus, number>;
export const emptyCounts = (): Counts => ({ pending: 0, sent: 0, succeeded: 0, failed: 0, skipped: 0 });

export async function countsBy(db: DbOrTx, campaignId: string): Promise<{ wave: number; schoolId: string; status: TargetStatus; n: number }[]> {
  const rows = await db.execute<{ wave: number; school_id: string; status: TargetStatus; n: number }>(sql`
    select wave, school_id, status, count(*)::int as n from campaign_targets where campaign_id = ${campaignId} group by 1, 2, 3`);
  return rows.rows.map((r) => ({ wave: r.wave, schoolId: r.school_id, status: r.status, n: r.n }));
}

export async function failureReasons(db: DbOrTx, campaignId: string): Promise<{ reason: string; devices: number }[]> {
  const rows = await db.execute<{ reason: string; devices: number }>(sql`
    select coalesce(reason, 'unknown') as reason, count(*)::int as devices from campaign_targets
    where campaign_id = ${campaignId} and status in ('failed', 'skipped') group by 1 order by 2 desc`);
  return rows.rows;
}

export async function targetDevices(db: DbOrTx, campaignId: string, status: TargetStatus | undefined, limit: number) {
  const rows = await db.execute<{ device_id: string; name: string; school_id: string; platform: Platform; wave: number; status: TargetStatus; attempts: number; reason: string | null }>(sql`
    select t.device_id, d.name, t.school_id, t.platform, t.wave, t.status, t.attempts, t.reason
    from campaign_targets t join devices d on d.id = t.device_id
    where t.campaign_id = ${campaignId} and (${status ?? null}::text is null or t.status = ${status ?? null}::text)
    order by t.wave, t.school_id, d.name limit ${limit}`);
  return rows.rows.map((r) => ({ deviceId: r.device_id, name: r.name, schoolId: r.school_id, platform: r.platform, wave: r.wave, status: r.status, attempts: r.attempts, reason: r.reason }));
}

/** Pending devices per school and platform, and how many of them have been offline for longer than the campaign accepts. */
export async function pendingBySchool(db: DbOrTx, c: Pick<CampaignRow, 'id' | 'offlineDays'>, now: Date) {
  const rows = await db.execute<{ school_id: string; name: string; timezone: string; wave: number; platform: Platform; devices: number; offline: number }>(sql`
    select t.school_id, s.name, s.timezone, t.wave, t.platform, count(*)::int as devices,
           count(*) filter (where coalesce(d.last_seen_at, d.enrolled_at) <= ${now}::timestamptz - make_interval(days => ${c.offlineDays}))::int as offline
    from campaign_targets t join devices d on d.id = t.device_id join schools s on s.id = t.school_id
    where t.campaign_id = ${c.id} and t.status in ('pending', 'sent')
    group by 1, 2, 3, 4, 5`);
  return rows.rows.map((r) => ({ schoolId: r.school_id, name: r.name, timezone: r.timezone, wave: r.wave, platform: r.platform, devices: r.devices, offline: r.offline }));
}

export async function skippedByReason(db: DbOrTx, campaignId: string) {
  const rows = await db.execute<{ reason: string; platform: Platform; devices: number }>(sql`
    select coalesce(reason, 'unknown') as reason, platform, count(*)::int as devices from campaign_targets
    where campaign_id = ${campaignId} and status = 'skipped' group by 1, 2 order by 3 desc`);
  return rows.rows;
}

/** Schools with devices waiting in the given waves, with the time zone their windows are read in. */
export async function schoolsWithWork(db: DbOrTx, campaignId: string, waves: readonly number[]): Promise<{ schoolId: string; timezone: string; pending: number }[]> {
  const rows = await db.execute<{ school_id: string; timezone: string; pending: number }>(sql`
    select s.id as school_id, s.timezone, w.pending from schools s
    join (
      select t.school_id, count(*)::int as pending from campaign_targets t
      where t.campaign_id = ${campaignId} and t.status = 'pending' and t.wave = any(${pgArray(waves.map(String))}::int[])
      group by t.school_id
    ) w on w.school_id = s.id
    order by s.id`);
  return rows.rows.map((r) => ({ schoolId: r.school_id, timezone: r.timezone, pending: r.pending }));
}

export async function schoolNames(db: DbOrTx, ids: readonly string[]): Promise<Map<string, string>> {
  if (ids.length === 0) return new Map();
  const rows = await db.execute<{ id: string; name: string }>(sql`select id, name from schools where id = any(${pgArray(ids)}::uuid[])`);
  return new Map(rows.rows.map((r) => [r.id, r.name]));
}

export async function pilotSchoolIds(db: DbOrTx, organisationId: string): Promise<string[]> {
  const rows = await db.select({ id: schools.id }).from(schools).where(and(eq(schools.organisationId, organisationId), eq(schools.pilot, true)));
  return rows.map((r) => r.id);
}

/** Which of these ids name a row of the table within the organisation (and the scope, for schools). */
export async function knownIds(db: DbOrTx, table: 'schools' | 'communes' | 'groups' | 'devices' | 'apps', organisationId: string, ids: readonly string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.execute<{ id: string }>(sql`select id from ${sql.identifier(table)} where organisation_id = ${organisationId} and id = any(${pgArray(ids)}::uuid[])`);
  return new Set(rows.rows.map((r) => r.id));
}

export interface ChunkInput {
  campaign: CampaignRow;
  kind: string;
  params: Record<string, unknown>;
  expiresAt: Date;
  schoolIds: readonly string[];
  waves: readonly number[];
  now: Date;
  size: number;
}

/**
 * One chunk of the fan-out, under the campaign's step lock (shared) and its schools' locks
 * (`lockForChunk`), in one statement: in each open school, as many pending devices as it has
 * free slots (the cap minus its devices with a command open), each given its command (an id
 * derived from campaign, device and attempt, so a replay inserts nothing twice) and marked sent.
 * Fewer rows than `size` means every open school got what it could take.
 */
export async function fanOutChunk(tx: DbOrTx, input: ChunkInput): Promise<{ id: string; platform: Platform; channel: DeviceChannel | null }[]> {
  const c = input.campaign;
  const commandId = sql`md5(${c.id}::text || ':' || p.device_id::text || ':' || (p.attempts + 1)::text)::uuid`;
  const result = await tx.execute<{ id: string; platform: Platform; channel: DeviceChannel | null }>(sql`
    with picked as (
      select p.target_row, p.device_id, p.attempts, p.platform, p.channel, ${commandId} as command_id
      from unnest(${pgArray(input.schoolIds)}::uuid[]) as o(school_id)
      -- Per school, so that each count reads only that school's rows (its part of the work index).
      cross join lateral (
        select count(*)::int as n from campaign_targets
        where campaign_id = ${c.id} and school_id = o.school_id and status = 'sent'
      ) b
      cross join lateral (
        select t.ctid as target_row, t.device_id, t.attempts, d.platform, d.channel from campaign_targets t
        join devices d on d.id = t.device_id and d.status = 'active' and coalesce(d.last_seen_at, d.enrolled_at) > ${input.now}::timestamptz - make_interval(days => ${c.offlineDays})
        where t.campaign_id = ${c.id} and t.school_id = o.school_id and t.status = 'pending' and t.wave = any(${pgArray(input.waves.map(String))}::int[])
          and (t.next_attempt_at is null or t.next_attempt_at <= ${input.now}::timestamptz)
        order by t.device_id
        limit greatest(0, least(${input.size}, ${c.perSchoolCap} - b.n))
      ) p
      limit ${input.size}
    ), ins as (
      -- No issued_by: the campaign issues them (its creator is on the campaign and in the audit).
      insert into commands (id, organisation_id, device_id, kind, params, origin, campaign_id, expires_at, created_at, updated_at)
      select p.command_id, ${c.organisationId}, p.device_id, ${input.kind}, ${JSON.stringify(input.params)}::jsonb, 'campaign', ${c.id}, ${input.expiresAt}, now(), now()
      from picked p
      on conflict (id) do nothing
    ), upd as (
      update campaign_targets t set status = 'sent', attempts = p.attempts + 1, command_id = p.command_id, next_attempt_at = null, updated_at = now()
      -- The row version the pick read: no step changes a school's targets while its lock is held,
      -- and one changed anyway (its device deleted) is left as it is, to be picked again if still there.
      from picked p where t.ctid = p.target_row
    )
    select p.device_id as id, p.platform, p.channel from picked p`);
  return result.rows;
}

/** The app and its newest version, as an automatic update names them. */
export async function appIdentity(db: DbOrTx, organisationId: string, appId: string) {
  const rows = await db.execute<{ name: string; identifier: string; platform: Platform; version: string }>(sql`
    select a.name, a.identifier, a.platform, v.version from apps a join app_versions v on v.app_id = a.id
    where a.id = ${appId} and a.organisation_id = ${organisationId} order by v.created_at desc limit 1`);
  return rows.rows[0] ?? null;
}

export async function findTemplate(db: DbOrTx, organisationId: string): Promise<TemplateRow | null> {
  const [row] = await db.select().from(campaignTemplates).where(eq(campaignTemplates.organisationId, organisationId));
  return row ?? null;
}

export async function upsertTemplate(tx: DbOrTx, row: typeof campaignTemplates.$inferInsert): Promise<void> {
  await tx
    .insert(campaignTemplates)
    .values(row)
    .onConflictDoUpdate({ target: campaignTemplates.organisationId, set: { plan: row.plan, autoUpdateAppIds: row.autoUpdateAppIds, updatedBy: row.updatedBy, updatedAt: sql`now()` } });
}
