import { and, eq, inArray, isNull, sql, type SQL } from 'drizzle-orm';
import { pgArray, preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { commands, deviceCertificates, deviceLocations, devices } from '../../infra/db/schema';
import { FINAL_STATUSES, OPEN_STATUSES } from '../../domain/commands';
import type { LocationFix, Platform } from '../../domain/devices';
import type { CommandRow } from './commands.repository';

const OPEN = sql.raw(OPEN_STATUSES.map((s) => `'${s}'`).join(', '));
const FINAL = sql.raw(FINAL_STATUSES.map((s) => `'${s}'`).join(', '));

/**
 * Agent protocol §24.1, in SQL over `commands c` and `devices d`: true for a command held back
 * from an agent below the minimum version, that is anything but an `install_app` of its own
 * package. `kind` and `packageName` default to the command's; a bulk action passes its own.
 * Always false when no minimum is set. Cancellations and report requests are not commands: they
 * still go out.
 */
export function heldBackFromOutdatedAgent(minAgentVersionCode: number | null, kind: SQL = sql`c.kind`, packageName: SQL = sql`c.params ->> 'packageName'`): SQL {
  if (minAgentVersionCode === null) return sql`false`;
  // coalesce: a device that has not told its version, or its package, is never held back by a null.
  return sql`coalesce(d.platform = 'android' and d.agent_version_code < ${minAgentVersionCode}
    and not coalesce(${kind} = 'install_app' and ${packageName} = (d.facts -> 'agent' ->> 'packageName'), false), false)`;
}

export interface HandedOut extends Record<string, unknown> {
  id: string;
  device_id: string;
  kind: string;
  params: Record<string, unknown>;
  created_at: Date;
  expires_at: Date;
  attempts: number;
}

/** What one hand-out statement gives the devices: their commands, and the cancellations they are to be told of. */
export interface HandOutRows {
  commands: HandedOut[];
  /** Commands the devices were given and that were cancelled since, not yet notified. */
  cancelled: { id: string; device_id: string }[];
}

type HandOutRow = { cancelled: boolean; id: string; device_id: string; kind: string; params: Record<string, unknown>; created_at: string; expires_at: string; attempts: number };

/**
 * Hands out the open commands of several devices in one statement, oldest first, at most `limit`
 * per device, and marks them sent. Commands past their expiry are marked expired on the way and
 * never handed out; a device that is no longer active gets nothing.
 *
 * Within a session only new commands go out, and those whose acknowledgement is overdue; a new
 * session (`newSessions`, per device) also takes back what was sent before (the device may never
 * have seen it) and what the device put off with `not_now`. A command acknowledged long ago
 * without a result is offered again too: the device recognises it and re-sends the result it
 * kept. An agent below the minimum version gets only its own update; the rest stays as it is, and
 * may expire. The commands of a paused campaign are held until it resumes.
 *
 * The same statement reads the commands the devices were given and that were cancelled since,
 * not yet notified: one round trip per batch of check-ins, whether they open a session or not.
 */
export function handOutStatement(db: Db, ackTimeoutSec: number, minAgentVersionCode: number | null): (devices: { deviceIds: string[]; newSessions: boolean[] }, limit: number) => Promise<HandOutRows> {
  const ids = sql`${sql.placeholder('deviceIds')}::uuid[]`;
  const overdue = sql`c.sent_at < now() - make_interval(secs => ${ackTimeoutSec})`;
  const due = sql`(c.status = 'queued' or (s.new_session and c.status in ('sent', 'not_now'))
    or (c.status in ('acknowledged', 'executing') and ${overdue}) or (not s.new_session and c.status = 'sent' and ${overdue}))`;
  // Prepared: planning this statement cost PostgreSQL ten times its execution, at every check-in.
  const statement = preparedStatement<HandOutRow>(
    db,
    'commands_hand_out',
    sql`
    with expired as (
      update commands set status = 'expired', completed_at = now(), updated_at = now()
      where device_id = any(${ids}) and status in (${OPEN}) and expires_at <= now()
      returning id
    ), due as (
      -- Device by device, through its part of the open-commands index. A plan over all the devices'
      -- conditions at once may instead read every queued command of every device (after a bulk
      -- action, each batch of check-ins read all ten thousand) and keep its own devices' few.
      select c.id
      from unnest(${ids}, ${sql.placeholder('newSessions')}::boolean[]) as s(device_id, new_session)
        join devices d on d.id = s.device_id and d.status = 'active'
        cross join lateral (
          select c.id from commands c
          where c.device_id = s.device_id and c.status in (${OPEN}) and c.expires_at > now() and ${due}
            and not ${heldBackFromOutdatedAgent(minAgentVersionCode)}
            and (c.campaign_id is null or not exists (select 1 from campaigns k where k.id = c.campaign_id and k.status = 'paused'))
          order by c.created_at, c.id
          limit ${sql.placeholder('limit')}
        ) c
    ), handed as (
      update commands c set
        status = case when c.status in ('queued', 'sent', 'not_now') then 'sent' else c.status end,
        sent_at = now(), attempts = c.attempts + 1, updated_at = now()
      from due where c.id = due.id
      returning c.id, c.device_id, c.kind, c.params, c.created_at, c.expires_at, c.attempts
    )
    select false as cancelled, id, device_id, kind, params, created_at, expires_at, attempts from handed
    union all
    select true, id, device_id, null, null, null, null, null from commands
    where device_id = any(${ids}) and status = 'cancelled' and sent_at is not null and cancel_notified_at is null`,
  );
  return async ({ deviceIds, newSessions }, limit) => {
    const out: HandOutRows = { commands: [], cancelled: [] };
    for (const r of await statement({ deviceIds, newSessions, limit })) {
      if (r.cancelled) out.cancelled.push({ id: r.id, device_id: r.device_id });
      else out.commands.push({ id: r.id, device_id: r.device_id, kind: r.kind, params: r.params, created_at: new Date(r.created_at), expires_at: new Date(r.expires_at), attempts: r.attempts });
    }
    out.commands.sort((a, b) => a.created_at.getTime() - b.created_at.getTime() || (a.id < b.id ? -1 : 1));
    return out;
  };
}

export async function markCancellationsNotified(db: DbOrTx, deviceId: string, commandIds: string[]): Promise<void> {
  await db
    .update(commands)
    .set({ cancelNotifiedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), inArray(commands.id, commandIds), isNull(commands.cancelNotifiedAt)));
}

/**
 * sent → acknowledged for commands the device says, at the start of a session, it already
 * holds: they need not be handed out again. A `not_now` is left to be offered again.
 */
export async function acknowledgeReceived(db: DbOrTx, deviceId: string, commandIds: string[]): Promise<void> {
  await db
    .update(commands)
    .set({ status: 'acknowledged', acknowledgedAt: sql`now()`, updatedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), inArray(commands.id, commandIds), eq(commands.status, 'sent')));
}

/** queued|sent|not_now → acknowledged for (device, command) pairs; duplicates and late acks change nothing. */
export async function acknowledgePairs(db: DbOrTx, deviceIds: string[], commandIds: string[]): Promise<void> {
  await db.execute(sql`
    update commands c set status = 'acknowledged', acknowledged_at = now(), updated_at = now()
    from unnest(${pgArray(commandIds)}::uuid[], ${pgArray(deviceIds)}::uuid[]) as p(command_id, device_id)
    where c.id = p.command_id and c.device_id = p.device_id and c.status in ('queued', 'sent', 'not_now')`);
}

export interface OutcomeRow {
  commandId: string;
  deviceId: string;
  /** The status the command takes. */
  status: 'executing' | 'not_now' | 'succeeded' | 'failed' | 'expired';
  result: Record<string, unknown> | null;
  raw: unknown;
  messageId: string | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** A success that may change the device: left to the caller's transactional path for effect kinds. */
  mayHaveEffects: boolean;
}

const FINAL_SET: ReadonlySet<string> = new Set(FINAL_STATUSES);
const isFinal = (status: string) => FINAL_SET.has(status);

const recordset = (items: OutcomeRow[]) =>
  JSON.stringify(
    items.map((i) => ({
      id: i.commandId,
      device_id: i.deviceId,
      status: i.status,
      final: isFinal(i.status),
      result: i.result,
      raw: i.raw ?? null,
      message_id: i.messageId,
      error_code: i.errorCode,
      error_message: i.errorMessage,
      effects: i.mayHaveEffects,
    })),
  );
const RECORD_COLUMNS = sql`p(id uuid, device_id uuid, status text, final boolean, result jsonb, raw jsonb, message_id uuid, error_code text, error_message text, effects boolean)`;

/**
 * Outcomes of many devices in one statement: applied to open commands only (a final status is
 * never overwritten). A success of a kind listed in `effectKinds` is left to the caller's
 * transactional path. Returns the ids it applied.
 */
export async function applyOutcomes(db: DbOrTx, items: OutcomeRow[], effectKinds: string[]): Promise<Set<string>> {
  const result = await db.execute<{ id: string }>(applyOutcomesSql(sql`${recordset(items)}`, effectKinds));
  return new Set(result.rows.map((r) => r.id));
}

function applyOutcomesSql(rows: SQL, effectKinds: string[]): SQL {
  return sql`
    update commands c set
      status = p.status,
      acknowledged_at = coalesce(c.acknowledged_at, now()),
      completed_at = case when p.final then now() else null end,
      result = coalesce(p.result, c.result),
      result_raw = p.raw, result_message_id = p.message_id,
      error_code = p.error_code, error_message = p.error_message, updated_at = now()
    from jsonb_to_recordset(${rows}::jsonb) as ${RECORD_COLUMNS}
    where c.id = p.id and c.device_id = p.device_id and c.status in (${OPEN})
      and not (p.effects and c.kind = any(${pgArray(effectKinds)}::text[]))
    returning c.id`;
}

/**
 * `applyOutcomes` as a statement planned once per connection, outside any transaction: the
 * outcomes of many devices arriving together, one round trip, no planning.
 */
export function applyOutcomesStatement(db: Db, effectKinds: string[]): (items: OutcomeRow[]) => Promise<Set<string>> {
  const statement = preparedStatement<{ id: string }>(db, 'commands_apply_outcomes', applyOutcomesSql(sql`${sql.placeholder('rows')}`, effectKinds));
  return async (items) => new Set((await statement({ rows: recordset(items) })).map((r) => r.id));
}

/**
 * Results that arrive once the command is already final (cancelled, expired, or a second answer)
 * are kept beside it, first one only; a re-send of the message that made it final is ignored.
 */
export async function recordLateOutcomes(db: DbOrTx, items: OutcomeRow[]): Promise<void> {
  await db.execute(sql`
    update commands c set
      late_result = jsonb_build_object('status', p.status, 'result', p.result, 'raw', p.raw, 'messageId', p.message_id, 'at', now(),
        'error', case when p.error_code is null then null else jsonb_build_object('code', p.error_code, 'message', p.error_message) end),
      updated_at = now()
    from jsonb_to_recordset(${recordset(items)}::jsonb) as ${RECORD_COLUMNS}
    where c.id = p.id and c.device_id = p.device_id and c.status in (${FINAL}) and c.late_result is null
      and c.result_message_id is distinct from p.message_id and p.status in ('succeeded', 'failed', 'executing')`);
}

/** Which of these commands are of one of these kinds. */
export async function commandsOfKinds(db: DbOrTx, ids: string[], kinds: string[]): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const rows = await db.select({ id: commands.id }).from(commands).where(and(inArray(commands.id, ids), inArray(commands.kind, kinds as CommandRow['kind'][])));
  return new Set(rows.map((r) => r.id));
}

/** The command locked for the transactional path, if it belongs to the device. */
export async function lockCommandOfDevice(tx: DbOrTx, deviceId: string, commandId: string): Promise<CommandRow | null> {
  const [row] = await tx
    .select()
    .from(commands)
    .where(and(eq(commands.id, commandId), eq(commands.deviceId, deviceId)))
    .for('update');
  return row ?? null;
}

/** The wipe is confirmed: the device leaves the active list and every certificate it holds is refused. */
export async function markDeviceWiped(db: DbOrTx, deviceId: string): Promise<{ revoked: number; platform: Platform }> {
  const [device] = await db
    .update(devices)
    .set({ status: 'wiped', wipedAt: sql`now()`, lostMode: false, lostModeMessage: null, updatedAt: sql`now()` })
    .where(eq(devices.id, deviceId))
    .returning({ platform: devices.platform });
  const revoked = await db
    .update(deviceCertificates)
    .set({ revokedAt: sql`now()`, revokeReason: 'wiped' })
    .where(and(eq(deviceCertificates.deviceId, deviceId), isNull(deviceCertificates.revokedAt)))
    .returning({ id: deviceCertificates.id });
  // Whatever was still waiting for the device can never be delivered now.
  await db
    .update(commands)
    .set({ status: 'cancelled', completedAt: sql`now()`, errorCode: 'device_wiped', updatedAt: sql`now()` })
    .where(and(eq(commands.deviceId, deviceId), sql`${commands.status} in (${OPEN})`));
  return { revoked: revoked.length, platform: device!.platform };
}

export async function setLostMode(db: DbOrTx, deviceId: string, on: boolean, message: string | null): Promise<void> {
  await db.update(devices).set({ lostMode: on, lostModeMessage: on ? message : null, updatedAt: sql`now()` }).where(eq(devices.id, deviceId));
}

export async function insertLocateFix(db: DbOrTx, deviceId: string, commandId: string, fix: LocationFix): Promise<number> {
  const [row] = await db.insert(deviceLocations).values({ deviceId, commandId, source: 'locate', ...fix }).returning({ id: deviceLocations.id });
  return row!.id;
}
