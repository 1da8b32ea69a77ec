import { and, eq, sql } from 'drizzle-orm';
import type { AppsReport, DeviceEvent, InventoryReport, SessionFacts, StatusReport } from '../../domain/platform-ports';
import { pgArray, preparedStatement, statementName, type Db, type DbOrTx } from '../../infra/db/client';
import { commands, deviceCertificates, deviceEvents, deviceLocations, devices, type Platform } from '../../infra/db/schema';

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

/**
 * What authentication needs, planned once per connection: every handshake runs it, thousands a
 * minute when a gateway's tablets come back.
 */
export function deviceForAuthStatement(db: Db): (deviceId: string, fingerprintSha256: string) => Promise<DeviceAuthRow | undefined> {
  const query = db
    .select({
      id: devices.id,
      organisationId: devices.organisationId,
      schoolId: devices.schoolId,
      platform: devices.platform,
      status: devices.status,
      certId: deviceCertificates.id,
      certRevokedAt: deviceCertificates.revokedAt,
      certRevokeReason: deviceCertificates.revokeReason,
      certPending: deviceCertificates.pending,
      certNotBefore: deviceCertificates.notBefore,
      certNotAfter: deviceCertificates.notAfter,
    })
    .from(devices)
    .leftJoin(deviceCertificates, and(eq(deviceCertificates.deviceId, devices.id), eq(deviceCertificates.fingerprintSha256, sql.placeholder('fingerprint'))))
    .where(eq(devices.id, sql.placeholder('deviceId')));
  const statement = query.prepare(statementName('device_for_auth', query.toSQL()));
  return async (deviceId, fingerprint) => {
    const [row] = await statement.execute({ deviceId, fingerprint });
    if (!row) return undefined;
    const { certRevokedAt, certPending, ...device } = row;
    return { ...device, certRevoked: device.certId ? certRevokedAt !== null : null, certPending: certPending === true };
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
 * What a device said at the start of a session: its capabilities in a column, the rest in
 * facts.session. Planned once per connection, as above.
 */
export function recordSessionStatement(db: Db): (deviceId: string, session: SessionFacts) => Promise<void> {
  const record = preparedStatement(
    db,
    'device_session',
    sql`update devices set
          capabilities = ${sql.placeholder('capabilities')}::text[],
          facts = facts || jsonb_build_object('session', ${sql.placeholder('session')}::jsonb),
          agent_version = coalesce(${sql.placeholder('agentVersion')}::text, agent_version),
          agent_version_code = coalesce(${sql.placeholder('agentVersionCode')}::integer, agent_version_code),
          last_seen_at = now()
        where id = ${sql.placeholder('deviceId')}::uuid`,
  );
  return async (deviceId, session) => {
    await record({
      deviceId,
      capabilities: session.capabilities,
      session: JSON.stringify({ ...session.facts, transport: session.transport, protocol: session.protocol, at: new Date().toISOString() }),
      agentVersion: session.agentVersion,
      agentVersionCode: session.agentVersionCode,
    });
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
