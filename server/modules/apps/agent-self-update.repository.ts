import { sql } from 'drizzle-orm';
import type { DbOrTx } from '../../infra/db/client';
import { OPEN_STATUSES } from '../../domain/commands';

const OPEN = sql.raw(OPEN_STATUSES.map((s) => `'${s}'`).join(', '));

export interface SelfUpdateDevice extends Record<string, unknown> {
  id: string;
  organisation_id: string;
  school_id: string;
  platform: string;
  status: string;
  agent_version_code: number | null;
  capabilities: string[] | null;
  agent_package: string | null;
}

/**
 * The device as a self-update needs it. With `lock`, its row stays locked until the transaction
 * ends: two sessions of one tablet at once (a socket and an HTTPS session) decide one at a time,
 * which is what keeps a device to one pending self-update.
 */
export async function selfUpdateDevice(db: DbOrTx, deviceId: string, lock: boolean): Promise<SelfUpdateDevice | null> {
  const result = await db.execute<SelfUpdateDevice>(sql`
    select id, organisation_id, school_id, platform, status, agent_version_code, capabilities, facts -> 'agent' ->> 'packageName' as agent_package
    from devices where id = ${deviceId} ${lock ? sql`for update` : sql``}`);
  return result.rows[0] ?? null;
}

/** An open, unexpired install_app of the agent's own package, whoever queued it. */
export async function openSelfUpdate(db: DbOrTx, deviceId: string, agentPackage: string): Promise<{ id: string; version_code: number } | null> {
  const result = await db.execute<{ id: string; version_code: number }>(sql`
    select id, (params ->> 'versionCode')::float8 as version_code from commands
    where device_id = ${deviceId} and kind = 'install_app' and params ->> 'packageName' = ${agentPackage}
      and status in (${OPEN}) and expires_at > now()
    order by created_at desc limit 1`);
  return result.rows[0] ?? null;
}

export interface TargetVersion extends Record<string, unknown> {
  app_version_id: string;
  version: string;
  version_code: number;
  sha256: string;
  size_bytes: number | null;
  signing_cert_sha256: string;
}

/** The newest APK of the package in the organisation's catalog that reaches the minimum, complete enough for install_app. */
export async function targetVersion(db: DbOrTx, organisationId: string, packageName: string, minVersionCode: number): Promise<TargetVersion | null> {
  const result = await db.execute<TargetVersion>(sql`
    select v.id as app_version_id, v.version, v.version_code::float8 as version_code, v.sha256, v.size_bytes::float8 as size_bytes, v.signing_cert_sha256
    from app_versions v join apps a on a.id = v.app_id
    where a.organisation_id = ${organisationId} and a.platform = 'android' and a.kind = 'apk' and a.identifier = ${packageName}
      and v.version_code >= ${minVersionCode} and v.sha256 is not null and v.signing_cert_sha256 is not null
    order by v.version_code desc, v.created_at desc limit 1`);
  return result.rows[0] ?? null;
}

/**
 * The latest system self-update to this catalog version that ended without updating the agent
 * (`failed`, or `cancelled` by someone): it is not queued again on its own.
 */
export async function endedSelfUpdate(db: DbOrTx, deviceId: string, appVersionId: string): Promise<{ id: string; status: string } | null> {
  const result = await db.execute<{ id: string; status: string }>(sql`
    select id, status from commands
    where device_id = ${deviceId} and kind = 'install_app' and origin = 'system' and params ->> 'appVersionId' = ${appVersionId}
      and status in ('failed', 'cancelled')
    order by created_at desc limit 1`);
  return result.rows[0] ?? null;
}
