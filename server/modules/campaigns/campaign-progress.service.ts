import { NotFoundError } from '../../domain/errors';
import type { TargetStatus } from '../../domain/campaigns';
import type { Db } from '../../infra/db/client';
import type { Caller } from '../commands/command-intent';
import { isOpen, nextOpening } from './campaign-calendar';
import * as repo from './campaigns.repository';
import { visible } from './campaigns.service';

export interface CampaignProgressDeps {
  db: Db;
  now(): Date;
}

/**
 * How long one device of a school takes to install, for estimates only: a planning figure,
 * the real pace shows in the progress counts.
 */
const ROUND_MS = 10 * 60_000;

const iso = (d: Date | null) => (d ? d.toISOString() : null);

/** Reading campaigns: their state, progress per wave and school, failures, and the dry run. */
export function createCampaignProgressService(deps: CampaignProgressDeps) {
  const { db } = deps;

  async function load(caller: Caller, id: string) {
    const c = await repo.findCampaign(db, caller.scope.organisationId, id);
    if (!visible(caller, c)) throw new NotFoundError('Campaign');
    return c;
  }

  function view(c: repo.CampaignRow, waves: repo.WaveRow[], rows: Awaited<ReturnType<typeof repo.countsBy>>) {
    const counts = (wave?: number) => {
      const n = repo.emptyCounts();
      for (const r of rows) if (wave === undefined || r.wave === wave) n[r.status] += r.n;
      return n;
    };
    return {
      id: c.id,
      name: c.name,
      action: c.action,
      subject: c.subject,
      target: c.target,
      status: c.status,
      origin: c.origin,
      startAt: c.startAt.toISOString(),
      deadline: iso(c.deadline),
      windows: c.windows,
      excludedDates: c.excluded,
      perSchoolCap: c.perSchoolCap,
      retry: c.retry,
      offlineDays: c.offlineDays,
      revision: c.revision,
      startedAt: iso(c.startedAt),
      completedAt: iso(c.completedAt),
      createdAt: c.createdAt.toISOString(),
      counts: counts(),
      waves: waves.map((w) => ({ position: w.position, name: w.name, schoolIds: w.schoolIds, minSuccessPct: w.minSuccessPct, maxFailurePct: w.maxFailurePct, promotion: w.promotion, status: w.status, startedAt: iso(w.startedAt), endedAt: iso(w.endedAt), counts: counts(w.position) })),
    };
  }

  /** When a school can start and how long its devices take at the campaign's cap; windows closing midway are not counted. */
  function schedule(c: repo.CampaignRow, schools: { schoolId: string; timezone: string; devices: number }[], from: Date) {
    let start: Date | null = null;
    let end: Date | null = null;
    for (const s of schools) {
      const opening = nextOpening(from, c.windows, c.excluded, { schoolId: s.schoolId, timezone: c.timeZone ?? s.timezone });
      if (!opening) continue;
      const done = new Date(opening.getTime() + Math.ceil(s.devices / c.perSchoolCap) * ROUND_MS);
      if (!start || opening < start) start = opening;
      if (!end || done > end) end = done;
    }
    return { start, end };
  }

  return {
    async list(caller: Caller) {
      const rows = await repo.listCampaigns(db, caller.scope.organisationId, caller.scope.all ? null : caller.scope.schoolIds);
      return rows.map((c) => ({ id: c.id, name: c.name, action: c.action, status: c.status, origin: c.origin, startAt: c.startAt.toISOString(), createdAt: c.createdAt.toISOString() }));
    },

    async get(caller: Caller, id: string) {
      const c = await load(caller, id);
      const [waves, rows] = await Promise.all([repo.wavesOf(db, id), repo.countsBy(db, id)]);
      return view(c, waves, rows);
    },

    async progress(caller: Caller, id: string) {
      const c = await load(caller, id);
      const now = deps.now();
      const [waves, rows, failures, pending] = await Promise.all([repo.wavesOf(db, id), repo.countsBy(db, id), repo.failureReasons(db, id), repo.pendingBySchool(db, c, now)]);
      const v = view(c, waves, rows);
      const names = await repo.schoolNames(db, [...new Set(rows.map((r) => r.schoolId))]);
      const zones = new Map(pending.map((p) => [p.schoolId, p.timezone]));
      const bySchool = new Map<string, { schoolId: string; name: string; wave: number; open: boolean; counts: repo.Counts }>();
      for (const r of rows) {
        let s = bySchool.get(r.schoolId);
        if (!s) {
          const timezone = c.timeZone ?? zones.get(r.schoolId) ?? 'Europe/Paris';
          s = { schoolId: r.schoolId, name: names.get(r.schoolId) ?? '', wave: r.wave, open: isOpen(now, c.windows, c.excluded, { schoolId: r.schoolId, timezone }), counts: repo.emptyCounts() };
          bySchool.set(r.schoolId, s);
        }
        s.counts[r.status as TargetStatus] += r.n;
      }
      const remaining = new Map<string, { schoolId: string; timezone: string; devices: number }>();
      for (const p of pending) {
        const s = remaining.get(p.schoolId) ?? { schoolId: p.schoolId, timezone: p.timezone, devices: 0 };
        s.devices += p.devices;
        remaining.set(p.schoolId, s);
      }
      const live = ['running', 'paused', 'draft'].includes(c.status);
      const eta = live && remaining.size ? schedule(c, [...remaining.values()], new Date(Math.max(now.getTime(), c.startAt.getTime()))).end : null;
      return {
        campaignId: id,
        status: c.status,
        counts: v.counts,
        waves: v.waves.map((w) => ({ position: w.position, status: w.status, counts: w.counts })),
        schools: [...bySchool.values()].sort((a, b) => a.wave - b.wave || a.name.localeCompare(b.name)),
        failures,
        estimatedEnd: iso(eta),
      };
    },

    /** The failure list (or any status): which device, where, why. */
    async devices(caller: Caller, id: string, status: TargetStatus | undefined, limit: number) {
      await load(caller, id);
      return repo.targetDevices(db, id, status, limit);
    },

    /**
     * The dry run: devices per school, wave and platform, which cannot receive the campaign and
     * why, and when each wave is expected to run given the windows, the excluded dates and the cap.
     */
    async preview(caller: Caller, id: string) {
      const c = await load(caller, id);
      const now = deps.now();
      const [waves, pending, skipped] = await Promise.all([repo.wavesOf(db, id), repo.pendingBySchool(db, c, now), repo.skippedByReason(db, id)]);
      const reachable = pending.map((p) => ({ ...p, devices: p.devices - p.offline }));
      const sum = <K extends string>(key: (p: (typeof reachable)[number]) => K) => {
        const m = new Map<K, number>();
        for (const p of reachable) m.set(key(p), (m.get(key(p)) ?? 0) + p.devices);
        return m;
      };
      const schools = new Map<string, { schoolId: string; name: string; wave: number; timezone: string; devices: number }>();
      for (const p of reachable) {
        const s = schools.get(p.schoolId) ?? { schoolId: p.schoolId, name: p.name, wave: p.wave, timezone: p.timezone, devices: 0 };
        s.devices += p.devices;
        schools.set(p.schoolId, s);
      }
      let from = new Date(Math.max(now.getTime(), c.startAt.getTime()));
      const byWave = waves.map((w) => {
        const mine = [...schools.values()].filter((s) => s.wave === w.position && s.devices > 0);
        const { start, end } = schedule(c, mine, from);
        if (end) from = end;
        return { position: w.position, name: w.name, devices: mine.reduce((n, s) => n + s.devices, 0), expectedStart: iso(start), expectedEnd: iso(end) };
      });
      const offline = new Map<string, number>();
      for (const p of pending) if (p.offline) offline.set(p.platform, (offline.get(p.platform) ?? 0) + p.offline);
      return {
        campaignId: id,
        devices: reachable.reduce((n, p) => n + p.devices, 0),
        bySchool: [...schools.values()].map(({ timezone: _tz, ...s }) => s).sort((a, b) => a.wave - b.wave || a.name.localeCompare(b.name)),
        byWave,
        byPlatform: [...sum((p) => p.platform)].map(([platform, devices]) => ({ platform, devices })),
        unreachable: [
          ...skipped.map((s) => ({ reason: s.reason, platform: s.platform, devices: s.devices })),
          ...[...offline].map(([platform, devices]) => ({ reason: `offline_more_than_${c.offlineDays}_days`, platform: platform as 'android', devices })),
        ],
      };
    },
  };
}
export type CampaignProgressService = ReturnType<typeof createCampaignProgressService>;
