import { and, eq, sql } from 'drizzle-orm';
import { pgArray, type DbOrTx } from '../../infra/db/client';
import { devicePush } from '../../infra/db/schema';
import type { PushRegistration, WakeUp } from '../../domain/platform-ports';

export async function upsertRegistration(db: DbOrTx, deviceId: string, reg: PushRegistration): Promise<void> {
  await db
    .insert(devicePush)
    .values({ deviceId, provider: reg.provider, token: reg.token, projectId: reg.projectId ?? null })
    .onConflictDoUpdate({ target: devicePush.deviceId, set: { provider: reg.provider, token: reg.token, projectId: reg.projectId ?? null, updatedAt: sql`now()` } });
}

/** Forgets the registration; with a token, only if it is still that one (a newer one may have replaced it meanwhile). */
export async function removeRegistration(db: DbOrTx, deviceId: string, token?: string): Promise<void> {
  await db.delete(devicePush).where(token === undefined ? eq(devicePush.deviceId, deviceId) : and(eq(devicePush.deviceId, deviceId), eq(devicePush.token, token)));
}

/**
 * Takes the wake-ups due among these devices, and marks them sent. One is due when the device
 * has a registration, something pending arrived since its last push (a command, or the
 * cancellation of one it was given), and that push is at least `minIntervalSec` old: so a
 * device woken again and again by the reconciler is pushed once per new thing, not every round.
 */
export async function claimWakeUps(db: DbOrTx, deviceIds: string[], minIntervalSec: number): Promise<WakeUp[]> {
  const result = await db.execute<{ device_id: string; provider: string; token: string; project_id: string | null; earliest: string | null }>(sql`
    with due as (
      select p.device_id from device_push p
      where p.device_id = any(${pgArray(deviceIds)}::uuid[])
        and (p.last_push_at is null or p.last_push_at < now() - make_interval(secs => ${minIntervalSec}))
        and exists (
          select 1 from commands c where c.device_id = p.device_id and (
            (c.status in ('queued', 'sent', 'acknowledged', 'not_now') and c.created_at > coalesce(p.last_push_at, '-infinity'))
            or (c.status = 'cancelled' and c.sent_at is not null and c.cancel_notified_at is null and c.completed_at > coalesce(p.last_push_at, '-infinity'))))
      for update of p skip locked)
    update device_push p set last_push_at = now() from due where p.device_id = due.device_id
    returning p.device_id, p.provider, p.token, p.project_id,
      (select min(c.expires_at) from commands c where c.device_id = p.device_id and c.status in ('queued', 'sent', 'acknowledged', 'not_now')) as earliest`);
  return result.rows.map((r) => ({ deviceId: r.device_id, provider: r.provider, token: r.token, projectId: r.project_id, earliestExpiry: r.earliest ? new Date(r.earliest) : null }));
}
