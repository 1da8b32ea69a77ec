import type { Db } from '../../infra/db/client';
import { ForbiddenError } from '../../domain/errors';
import { SYSTEM_ACTOR, type Actor, type Scope } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { AuditArchiveService } from '../audit/audit-archive.service';
import * as repo from './retention.repository';
import { cutoff, DAY_MS, effectiveRetention, RETENTION_KEYS, RETENTION_TYPES, type RetentionPatch, type RetentionSettings, type RetentionType } from './retention.policy';

export interface PurgeCounts {
  positions: number;
  lostModePositions: number;
  commands: number;
  deviceEvents: number;
  auditEvents: number;
  retiredDevices: number;
}

export interface ReportLine {
  type: RetentionType;
  label: string;
  days: number;
  held: number;
  oldest: string | null;
  /** Past its period now: the next run purges it. */
  due: number;
  /** When the oldest item held passes its period (null when nothing is held, or it is already due). */
  nextPurgeAt: string | null;
}

/**
 * The retention engine: per organisation, purges what is past its period, chunk by chunk, and
 * writes an audit event with the counts. Every step is "delete what is older than", so a run
 * cut short by a crash is simply finished by the next one.
 */
export function createRetentionService(deps: { db: Db; archive: AuditArchiveService; chunkRows: number }) {
  const { db, archive, chunkRows } = deps;

  async function drain(step: (limit: number) => Promise<number>): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await step(chunkRows);
      total += n;
      if (n < chunkRows) return total;
    }
  }

  async function purgeOrganisation(org: string, periods: RetentionSettings, now: Date): Promise<PurgeCounts> {
    const before = (k: RetentionType) => cutoff(now, periods[k]);
    const counts: PurgeCounts = {
      positions: (await drain((n) => repo.purgePositions(db, org, before('positionsDays'), n))) + (await drain((n) => repo.purgeGeofenceAlerts(db, org, before('positionsDays'), n))),
      lostModePositions: await drain((n) => repo.purgeLostModePositions(db, org, before('lostModePositionsDaysAfterFound'), n)),
      commands: await drain((n) => repo.purgeCommands(db, org, before('commandsDays'), n)),
      deviceEvents: await drain((n) => repo.purgeDeviceEvents(db, org, before('deviceEventsDays'), n)),
      retiredDevices: 0,
      auditEvents: 0,
    };
    for (;;) {
      const ids = await repo.retiredDevicesToErase(db, org, before('retiredDevicesDays'), chunkRows);
      for (const id of ids) await db.transaction((tx) => repo.eraseDevice(tx, id));
      counts.retiredDevices += ids.length;
      if (ids.length < chunkRows) break;
    }
    const archived = await archive.purgeBefore(before('auditEventsDays'), [org]);
    counts.auditEvents = archived.reduce((n, a) => n + a.events, 0);
    await recordAudit(db, {
      organisationId: org,
      actor: SYSTEM_ACTOR,
      action: 'retention.purge',
      outcome: 'success',
      details: { counts, periods, archives: archived.map((a) => a.file), ranAt: now.toISOString() },
    });
    return counts;
  }

  return {
    async settings(organisationId: string): Promise<RetentionSettings> {
      return effectiveRetention(await repo.retentionSettingsOf(db, organisationId));
    },

    /** Organisation-wide: a grant limited to some schools cannot change how long everything is kept. */
    async updateSettings(scope: Scope, actor: Actor, patch: RetentionPatch): Promise<RetentionSettings> {
      if (!scope.all) throw new ForbiddenError('Only an organisation-wide administrator can change retention periods');
      return db.transaction(async (tx) => {
        const before = effectiveRetention(await repo.retentionSettingsOf(tx, scope.organisationId));
        const next = { ...before, ...Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) } as RetentionSettings;
        await repo.setRetentionSettings(tx, scope.organisationId, next);
        await recordAudit(tx, { organisationId: scope.organisationId, actor, action: 'organisation.retention.update', target: { type: 'organisation', id: scope.organisationId }, outcome: 'success', details: { before, after: next } });
        return next;
      });
    },

    /** One run over every organisation, then the chain of events without organisation at the default period. */
    async run(now = new Date()): Promise<Record<string, PurgeCounts>> {
      const out: Record<string, PurgeCounts> = {};
      for (const org of await repo.listOrganisations(db)) out[org.id] = await purgeOrganisation(org.id, effectiveRetention(org.settings.retention), now);
      await archive.purgeBefore(cutoff(now, RETENTION_TYPES.auditEventsDays.default), [null]);
      return out;
    },

    /** What each organisation holds, what the next run purges, and when the rest falls due. */
    async report(now = new Date()) {
      const out = [];
      for (const org of await repo.listOrganisations(db)) {
        const periods = effectiveRetention(org.settings.retention);
        const c = (k: RetentionType) => cutoff(now, periods[k]);
        const rows = await repo.held(db, org.id, {
          positions: c('positionsDays'),
          lostFound: c('lostModePositionsDaysAfterFound'),
          commands: c('commandsDays'),
          events: c('deviceEventsDays'),
          audit: c('auditEventsDays'),
          retired: c('retiredDevicesDays'),
        });
        const lines: ReportLine[] = RETENTION_KEYS.map((type) => {
          const row = rows.find((r) => r.type === type) ?? { held: 0, oldest: null, due: 0 };
          const dueAt = row.oldest ? new Date(row.oldest.getTime() + periods[type] * DAY_MS) : null;
          return {
            type,
            label: RETENTION_TYPES[type].label,
            days: periods[type],
            held: row.held,
            oldest: row.oldest?.toISOString() ?? null,
            due: row.due,
            nextPurgeAt: dueAt && dueAt > now ? dueAt.toISOString() : null,
          };
        });
        out.push({ organisationId: org.id, name: org.name, periods, lines });
      }
      return { at: now.toISOString(), organisations: out };
    },
  };
}
export type RetentionService = ReturnType<typeof createRetentionService>;
