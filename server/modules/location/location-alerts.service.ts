import type { Db } from '../../infra/db/client';
import type { Mail } from '../../infra/mailer';
import { recordAudit } from '../audit/audit.service';
import type { Caller } from '../commands/command-intent';
import { schoolsOf, type Scope } from '../access/principal';
import * as repo from './geofences.repository';
import { locationSettings } from './location-policies.repository';
import type { AlertsPage, PositionsView } from './location.schemas';

const SUBJECT = { exit: 'Tablette hors du périmètre de l’école', return: 'Tablette revenue dans le périmètre de l’école' } as const;

/**
 * Geofence alerts: listed for people (positions only for a reader allowed to see them, each read
 * audited), and mailed without any position: a mailbox is not a place where positions are kept.
 */
export function createLocationAlertsService(deps: { db: Db; mailer: { enabled: boolean; send(mail: Mail): Promise<void> }; consoleUrl: string }) {
  const { db, mailer } = deps;

  /** A sensitive read: the positions shown and to whom, in the trail with the read itself. */
  async function auditPositionRead(caller: Caller, deviceIds: string[], details: Record<string, unknown>) {
    await db.transaction((tx) =>
      Promise.all(
        deviceIds.map((deviceId) =>
          recordAudit(tx, { organisationId: caller.scope.organisationId, actor: caller.actor, action: 'device.location.read', target: { type: 'device', id: deviceId }, outcome: 'success', details }),
        ),
      ),
    );
  }

  return {
    /** `positionScope`: where the caller may read positions (null: nowhere). */
    async list(caller: Caller, positionScope: Scope | null, options: { limit: number; schoolId?: string }): Promise<AlertsPage> {
      const rows = await repo.listAlerts(db, caller.scope, options);
      const readable = positionScope ? new Set(schoolsOf(positionScope) ?? rows.map((r) => r.schoolId)) : new Set<string>();
      const wanted = rows.filter((r) => readable.has(r.schoolId) && r.locationId !== null);
      const positions = await repo.positionsByIds(db, wanted.map((r) => r.locationId!));
      const shown = wanted.filter((r) => positions.has(r.locationId!));
      if (shown.length) await auditPositionRead(caller, [...new Set(shown.map((r) => r.deviceId))], { via: 'geofence_alerts', alerts: shown.map((r) => r.id) });
      return {
        positionsShown: positionScope !== null,
        items: rows.map((r) => {
          const p = r.locationId !== null && readable.has(r.schoolId) ? positions.get(r.locationId) : undefined;
          return {
            id: r.id,
            kind: r.kind,
            at: r.at.toISOString(),
            deviceId: r.deviceId,
            deviceName: r.deviceName,
            schoolId: r.schoolId,
            schoolName: r.schoolName,
            ...(positionScope ? { position: p ? { lat: p.lat, lon: p.lon, accuracyM: p.accuracyM, fixTime: p.fixTime.toISOString() } : null } : {}),
          };
        }),
      };
    },

    /** The latest position of each device in the caller's reach (the map); every device shown is an audited read. */
    async positions(caller: Caller, schoolId?: string): Promise<PositionsView> {
      const rows = await repo.latestPositions(db, caller.scope, schoolId);
      if (rows.length) await auditPositionRead(caller, rows.map((r) => r.deviceId), { via: 'map', schoolId: schoolId ?? null });
      return { items: rows.map((r) => ({ deviceId: r.deviceId, deviceName: r.deviceName, schoolId: r.schoolId, lat: r.lat, lon: r.lon, accuracyM: r.accuracyM, fixTime: r.fixTime.toISOString(), source: r.source })) };
    },

    /** Mails an alert to the organisation's recipients; safe to run twice (a retried job may send a second copy, never a wrong one). */
    async notify(alertId: string): Promise<{ sent: number }> {
      const alert = await repo.findAlert(db, alertId);
      if (!alert || !mailer.enabled) return { sent: 0 };
      const { alertEmails } = await locationSettings(db, alert.organisationId);
      if (!alertEmails.length) return { sent: 0 };
      const when = alert.at.toLocaleString('fr-FR', { timeZone: 'Europe/Paris' });
      const what = alert.kind === 'exit' ? 'a été signalée hors du périmètre de l’école pendant le temps scolaire' : 'est revenue dans le périmètre de l’école';
      await mailer.send({
        to: alertEmails,
        subject: `${SUBJECT[alert.kind]} : ${alert.deviceName ?? alert.deviceId} (${alert.schoolName})`,
        text: [
          `La tablette « ${alert.deviceName ?? alert.deviceId} » de l’école ${alert.schoolName} ${what} (${when}).`,
          '',
          'Ce message ne contient pas de position. Les personnes autorisées la consultent dans la console (lecture enregistrée dans le journal d’audit) :',
          `${deps.consoleUrl}/location/alerts`,
        ].join('\n'),
      });
      return { sent: alertEmails.length };
    },
  };
}
export type LocationAlertsService = ReturnType<typeof createLocationAlertsService>;
