import { eq, sql } from 'drizzle-orm';
import type { AppsReport, DeviceEvent, InventoryReport, SessionFacts, StatusReport } from '../../domain/platform-ports';
import { pgArray, preparedStatement, type Db, type DbOrTx } from '../../infra/db/client';
import { commands, deviceEvents, deviceLocations, devices, type Platform } from '../../infra/db/schema';

/** What authentication needs to know about a device and the certificate it presents. */
export interface DeviceAuthRow {
  id: string;
  organisationId: string;
  schoolId: string;
  platform: Platform;
  status: 'active' | 'wiped' | 'retired';
  /** null: no certificate with that fingerprint belongs to the device. */
  certRevoked: boolean | null;
  certId: string | null;
  certRevokeReason: string | null;
  certPending: boolean;
  certNotBefore: Date | null;
  certNotAfter: Date | null;
}

/** A device and the certificate it presents, as a handshake names them. */
export interface AuthKey {
  deviceId: string;
  fingerprintSha256: string;
}

type AuthRowRaw = {
  i: string;
  id: string;
  organisation_id: string;
  school_id: string;
  platform: Platform;
  status: DeviceAuthRow['status'];
  cert_id: string | null;
  revoked_at: string | null;
  revoke_reason: string | null;
  pending: boolean | null;
  not_before: string | null;
  not_after: string | null;
};

/**
 * What authentication needs, for the handshakes of one turn together: when a gateway's tablets
 * come back, thousands a minute run it. Planned once per connection. One output per key, in order.
 */
export function devicesForAuthStatement(db: Db): (keys: AuthKey[]) => Promise<(DeviceAuthRow | undefined)[]> {
  const statement = preparedStatement<AuthRowRaw>(
    db,
    'devices_for_auth',
    sql`select k.i, d.id, d.organisation_id, d.school_id, d.platform, d.status,
               c.id as cert_id, c.revoked_at, c.revoke_reason, c.pending, c.not_before, c.not_after
        from unnest(${sql.placeholder('deviceIds')}::uuid[], ${sql.placeholder('fingerprints')}::text[]) with ordinality as k(device_id, fingerprint, i)
          join devices d on d.id = k.device_id
          left join device_certificates c on c.device_id = d.id and c.fingerprint_sha256 = k.fingerprint`,
  );
  return async (keys) => {
    const rows = await statement({ deviceIds: keys.map((k) => k.deviceId), fingerprints: keys.map((k) => k.fingerprintSha256) });
    const found: (DeviceAuthRow | undefined)[] = keys.map(() => undefined);
    for (const r of rows) {
      found[Number(r.i) - 1] = {
        id: r.id,
        organisationId: r.organisation_id,
        schoolId: r.school_id,
        platform: r.platform,
        status: r.status,
        certId: r.cert_id,
        certRevoked: r.cert_id ? r.revoked_at !== null : null,
        certRevokeReason: r.revoke_reason,
        certPending: r.pending === true,
        certNotBefore: r.not_before === null ? null : new Date(r.not_before),
        certNotAfter: r.not_after === null ? null : new Date(r.not_after),
      };
    }
    return found;
  };
}

/** One statement for every device seen since the last flush. */
export async function touchDevices(db: DbOrTx, seen: { id: string; at: Date }[]): Promise<void> {
  if (seen.length === 0) return;
  const ids = seen.map((s) => s.id);
  const ats = seen.map((s) => s.at.toISOString());
  // Rows are locked in id order, as every statement that updates many devices does: two of them
  // running at once (a flush and a burst of sequence numbers) never wait on each other in a cycle.
  await db.execute(sql`
    update devices d set last_seen_at = greatest(d.last_seen_at, s.at)
    from unnest(${pgArray(ids)}::uuid[], ${pgArray(ats)}::timestamptz[]) as s(id, at),
         (select id from devices where id = any(${pgArray(ids)}::uuid[]) order by id for update) locked
    where d.id = s.id and locked.id = s.id`);
}

/**
 * What devices said at the start of their sessions: capabilities in a column, the rest in
 * facts.session. The handshakes of one turn share the statement, planned once per connection;
 * rows are locked in id order, as every statement that updates many devices does.
 */
export function recordSessionsStatement(db: Db): (sessions: { deviceId: string; session: SessionFacts }[]) => Promise<void> {
  const record = preparedStatement(
    db,
    'device_sessions',
    sql`update devices d set
          capabilities = case when s.capabilities is null then null else array(select jsonb_array_elements_text(s.capabilities)) end,
          facts = d.facts || jsonb_build_object('session', s.session),
          agent_version = coalesce(s.agent_version, d.agent_version),
          agent_version_code = coalesce(s.agent_version_code, d.agent_version_code),
          last_seen_at = now()
        from jsonb_to_recordset(${sql.placeholder('rows')}::jsonb) as s(device_id uuid, capabilities jsonb, session jsonb, agent_version text, agent_version_code integer),
             (select id from devices where id = any(${sql.placeholder('ids')}::uuid[]) order by id for update) locked
        where d.id = s.device_id and locked.id = s.device_id`,
  );
  return async (sessions) => {
    const at = new Date().toISOString();
    const rows = sessions.map(({ deviceId, session }) => ({
      device_id: deviceId,
      capabilities: session.capabilities,
      session: { ...session.facts, transport: session.transport, protocol: session.protocol, at },
      agent_version: session.agentVersion,
      agent_version_code: session.agentVersionCode,
    }));
    await record({ rows: JSON.stringify(rows), ids: sessions.map((s) => s.deviceId) });
  };
}

export async function updateStatus(db: DbOrTx, deviceId: string, s: StatusReport): Promise<void> {
  await db
    .update(devices)
    .set({
      batteryLevel: s.batteryLevel,
      charging: s.charging,
      storageFreeBytes: s.storageFreeBytes,
      facts: s.network
        ? sql`${devices.facts} || jsonb_build_object('status', ${JSON.stringify(s.facts)}::jsonb, 'network', coalesce(${devices.facts} -> 'network', '{}'::jsonb) || ${JSON.stringify(s.network)}::jsonb)`
        : sql`${devices.facts} || jsonb_build_object('status', ${JSON.stringify(s.facts)}::jsonb)`,
      lastSeenAt: sql`now()`,
    })
    .where(eq(devices.id, deviceId));
}

/** The neutral columns, and each reported section of facts replaced whole. */
export async function updateInventory(db: DbOrTx, deviceId: string, inv: InventoryReport): Promise<void> {
  await db
    .update(devices)
    .set({
      serial: inv.serial,
      imei: inv.imei,
      manufacturer: inv.manufacturer,
      model: inv.model,
      osVersion: inv.osVersion,
      agentVersion: inv.agentVersion ?? sql`${devices.agentVersion}`,
      managementMode: inv.managementMode,
      storageTotalBytes: inv.storageTotalBytes,
      storageFreeBytes: inv.storageFreeBytes,
      facts: sql`${devices.facts} || ${JSON.stringify(inv.facts)}::jsonb`,
      inventoryAt: sql`now()`,
      lastSeenAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(eq(devices.id, deviceId));
}

/** Upserts apps in one statement; a full list also deletes what it no longer names. */
export async function upsertApps(tx: DbOrTx, deviceId: string, apps: AppsReport['apps'], mode: { full: boolean; removed: string[] }): Promise<void> {
  const identifiers = apps.map((a) => a.identifier);
  if (mode.full) {
    await tx.execute(sql`delete from device_apps where device_id = ${deviceId} and not (identifier = any(${pgArray(identifiers)}::text[]))`);
  } else if (mode.removed.length > 0) {
    await tx.execute(sql`delete from device_apps where device_id = ${deviceId} and identifier = any(${pgArray(mode.removed)}::text[])`);
  }
  if (apps.length === 0) return;
  await tx.execute(sql`
    insert into device_apps (device_id, identifier, name, version, version_code, installer, system, updated_at)
    select ${deviceId}::uuid, a.identifier, a.name, a.version, a.version_code, a.installer, a.system, now()
    from unnest(${pgArray(identifiers)}::text[], ${pgArray(apps.map((a) => a.name))}::text[], ${pgArray(apps.map((a) => a.version))}::text[],
                ${pgArray(apps.map((a) => (a.versionCode === null ? null : String(a.versionCode))))}::bigint[], ${pgArray(apps.map((a) => a.installer))}::text[], ${pgArray(apps.map((a) => String(a.system)))}::boolean[])
      as a(identifier, name, version, version_code, installer, system)
    on conflict (device_id, identifier) do update set
      name = excluded.name, version = excluded.version, version_code = excluded.version_code,
      installer = excluded.installer, system = excluded.system, updated_at = now()`);
}

/** A re-sent report inserts nothing twice: each event is keyed by its message and its place in it. */
export async function insertEvents(db: DbOrTx, deviceId: string, messageId: string, events: DeviceEvent[]): Promise<void> {
  if (events.length === 0) return;
  await db
    .insert(deviceEvents)
    .values(events.map((e, position) => ({ deviceId, kind: e.kind, at: e.at, data: e.data, timeUnverified: e.timeUnverified, messageId, position })))
    .onConflictDoNothing({ target: [deviceEvents.deviceId, deviceEvents.messageId, deviceEvents.position], where: sql`message_id is not null` });
}

/** What allows a position besides the location policy: lost mode, or a locate command in flight. */
export async function locationSource(db: DbOrTx, deviceId: string): Promise<{ source: 'lost_mode' | 'locate'; commandId: string | null } | null> {
  const [row] = await db
    .select({
      lostMode: devices.lostMode,
      locateId: sql<string | null>`(select c.id from ${commands} c where c.device_id = ${devices.id} and c.kind = 'locate' and c.status in ('sent', 'acknowledged', 'executing') order by c.created_at desc limit 1)`,
    })
    .from(devices)
    .where(eq(devices.id, deviceId));
  if (!row) return null;
  if (row.lostMode) return { source: 'lost_mode', commandId: null };
  if (row.locateId) return { source: 'locate', commandId: row.locateId };
  return null;
}

export type NewLocation = typeof deviceLocations.$inferInsert;

/** The new row's id; null when the same report was stored before. */
export async function insertLocationReturningId(db: DbOrTx, location: NewLocation): Promise<number | null> {
  const [row] = await db
    .insert(deviceLocations)
    .values(location)
    .onConflictDoNothing({ target: [deviceLocations.deviceId, deviceLocations.messageId], where: sql`message_id is not null` })
    .returning({ id: deviceLocations.id });
  return row?.id ?? null;
}
