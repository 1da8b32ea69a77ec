import type { Db, DbOrTx } from '../../infra/db/client';
import { SYSTEM_ACTOR } from '../access/principal';
import { recordAudit } from '../audit/audit.service';
import type { PlatformRegistry } from '../commands/platform-registry';
import { isOpen, nextOpening } from './campaign-calendar';
import { commandParams, resolveSubject } from './campaign-subject';
import { Problems } from './campaign-plan';
import * as repo from './campaigns.repository';

export type CampaignEvent = 'campaign.wave_promoted' | 'campaign.wave_failed' | 'campaign.finished';

export interface CampaignEngineDeps {
  db: Db;
  platforms: Pick<PlatformRegistry, 'wake' | 'eligibility'>;
  installParams(organisationId: string, appVersionId: string, expiresAt: Date): Promise<Record<string, unknown>>;
  now(): Date;
  /** A delayed advance at the next window opening (deterministic id: scheduling twice is harmless). */
  schedule(campaignId: string, at: Date): Promise<void>;
  /** Signed webhooks of a campaign's milestones, recorded in the transaction that reaches them (a stable id: once each). */
  emit(tx: DbOrTx, organisationId: string, event: { type: CampaignEvent; id: string; data: Record<string, unknown> }): Promise<unknown>;
  observe?(campaignId: string, counts: repo.Counts, created: number): void;
  chunkSize?: number;
}

const MAX_COMMAND_TTL_MS = 7 * 24 * 3600_000;
const ACTIVE_WAVES = new Set(['running', 'awaiting_approval', 'passed']);
/**
 * Chunks for disjoint sets of schools go out this many at a time: PostgreSQL then inserts on two
 * cores. Each holds a pooled connection for its transaction.
 */
const FAN_OUT_STREAMS = 2;
/** Bounds the school locks one chunk takes (PostgreSQL's lock table is shared and finite). */
const MAX_SCHOOLS_PER_CHUNK = 64;

/** Open schools in groups of about one chunk of work each (a school's work: its pending devices, up to its cap). */
function schoolGroups(schools: readonly { schoolId: string; pending: number }[], cap: number, chunkSize: number): string[][] {
  const groups: string[][] = [];
  let group: string[] = [];
  let work = 0;
  for (const s of schools) {
    group.push(s.schoolId);
    work += Math.min(s.pending, cap);
    if (work >= chunkSize || group.length === MAX_SCHOOLS_PER_CHUNK) {
      groups.push(group);
      group = [];
      work = 0;
    }
  }
  if (group.length) groups.push(group);
  return groups;
}

function tally(rows: Awaited<ReturnType<typeof repo.countsBy>>, wave?: number): repo.Counts {
  const counts = repo.emptyCounts();
  for (const r of rows) if (wave === undefined || r.wave === wave) counts[r.status] += r.n;
  return counts;
}

/**
 * The engine: each advance of a running campaign first settles what happened (command outcomes,
 * retries, the deadline, devices that joined, wave promotion or failure, the end), then fans out
 * chunk by chunk to the schools whose window is open, within each school's free slots. Every
 * step is a transaction under the campaign's lock (shared by chunks to different schools), so any
 * number of workers can advance the same campaign, and a kill or a Redis flush at any point loses
 * or repeats nothing.
 */
export function createCampaignEngine(deps: CampaignEngineDeps) {
  const { db } = deps;
  const chunkSize = deps.chunkSize ?? 5000;

  /** Moves waves on from their counts; returns the events to emit once committed. */
  async function settleWaves(tx: DbOrTx, c: repo.CampaignRow, now: Date) {
    const emit = (type: CampaignEvent, key: string, data: Record<string, unknown>) => deps.emit(tx, c.organisationId, { type, id: `${c.id}.${key}`, data });
    const waves = await repo.wavesOf(tx, c.id);
    const rows = await repo.countsBy(tx, c.id);
    const audit = (details: Record<string, unknown>) => recordAudit(tx, { organisationId: c.organisationId, actor: SYSTEM_ACTOR, action: 'campaign.promote', target: { type: 'campaign', id: c.id }, outcome: 'success', details });
    let failed = false;
    for (const w of waves) {
      if (w.status === 'passed') continue;
      if (w.status === 'failed' || w.status === 'cancelled') {
        failed = true;
        break;
      }
      if (w.status === 'waiting') {
        await repo.setWave(tx, c.id, w.position, { status: 'running', startedAt: now });
        w.status = 'running';
      }
      if (w.status === 'awaiting_approval') break;
      const n = tally(rows, w.position);
      const counted = n.pending + n.sent + n.succeeded + n.failed;
      const payload = { campaignId: c.id, name: c.name, wave: w.position, waveName: w.name, counts: n };
      const failedPct = counted ? (100 * n.failed) / counted : 0;
      const succeededPct = counted ? (100 * n.succeeded) / counted : 100;
      if (failedPct > w.maxFailurePct || (n.pending + n.sent === 0 && succeededPct < w.minSuccessPct)) {
        await repo.setWave(tx, c.id, w.position, { status: 'failed', endedAt: now });
        await emit('campaign.wave_failed', `wave${w.position}.failed`, payload);
        failed = true;
        break;
      }
      if (succeededPct < w.minSuccessPct) break;
      if (w.promotion === 'approval') {
        await repo.setWave(tx, c.id, w.position, { status: 'awaiting_approval' });
        break;
      }
      await repo.setWave(tx, c.id, w.position, { status: 'passed', endedAt: now });
      w.status = 'passed';
      await audit({ wave: w.position, by: 'thresholds', succeededPct: Math.round(succeededPct), failedPct: Math.round(failedPct) });
      await emit('campaign.wave_promoted', `wave${w.position}.promoted`, payload);
    }
    const total = tally(rows);
    const pastDeadline = c.deadline !== null && now >= c.deadline;
    const allPassed = waves.every((w) => w.status === 'passed');
    let status: 'running' | 'completed' | 'failed' = 'running';
    if (failed) {
      status = 'failed';
      await repo.skipPending(tx, c.id, 'wave_failed');
    } else if (total.sent === 0 && (total.pending === 0 ? allPassed || pastDeadline : pastDeadline)) status = 'completed';
    if (status !== 'running') {
      await repo.setCampaign(tx, c.id, { status, completedAt: now });
      await emit('campaign.finished', 'finished', { campaignId: c.id, name: c.name, status, counts: total });
    }
    return { waves, status, counts: total };
  }

  /** Settles the campaign's state (after another step in progress, or 'busy' when told not to wait); null when it is not running. */
  async function settle(campaignId: string, wait: boolean) {
    return db.transaction(async (tx) => {
      const c = await repo.lockRunning(tx, campaignId, wait);
      if (c === null || c === 'busy') return c;
      const now = deps.now();
      if (now < c.startAt) return { c, now, waves: [], status: 'waiting' as const, counts: repo.emptyCounts() };
      await repo.syncOutcomes(tx, c, now);
      if (c.deadline && now >= c.deadline) await repo.skipPending(tx, c.id, 'deadline');
      else {
        const subject = await resolveSubject(tx, c.organisationId, c.action, c.subject, new Problems());
        await repo.insertTargets(tx, { campaign: c, waves: await repo.wavesOf(tx, c.id), rules: deps.platforms.eligibility(c.action), appPlatform: subject?.appPlatform ?? null }, c.createdAt);
      }
      return { c, now, ...(await settleWaves(tx, c, now)) };
    });
  }

  async function fanOut(c: repo.CampaignRow, waves: readonly number[], now: Date): Promise<number> {
    const schools = await repo.schoolsWithWork(db, c.id, waves);
    const calendar = (s: { schoolId: string; timezone: string }) => ({ schoolId: s.schoolId, timezone: c.timeZone ?? s.timezone });
    const open = schools.filter((s) => isOpen(now, c.windows, c.excluded, calendar(s)));
    const closed = schools.filter((s) => !open.includes(s));
    const openings = closed.map((s) => nextOpening(now, c.windows, c.excluded, calendar(s))).filter((d): d is Date => d !== null);
    // Best effort: the tick finds the opening anyway, a little later, if Redis cannot take the job now.
    if (openings.length) await deps.schedule(c.id, new Date(Math.min(...openings.map((d) => d.getTime())))).catch(() => undefined);
    if (open.length === 0) return 0;
    const expiresAt = new Date(Math.min(now.getTime() + MAX_COMMAND_TTL_MS, c.deadline?.getTime() ?? Infinity));
    const params = await commandParams(db, deps.installParams, c, expiresAt);
    if (!params) return 0;
    let created = 0;
    const toSchools = async (schoolIds: string[]) => {
      for (;;) {
        const devices = await db.transaction(async (tx) => {
          const locked = await repo.lockForChunk(tx, c.id, schoolIds);
          if (locked === null || locked === 'taken') return locked;
          return repo.fanOutChunk(tx, { campaign: locked, kind: c.action, params, expiresAt, schoolIds, waves, now, size: chunkSize });
        });
        // Paused or cancelled meanwhile: nothing more goes out; or another worker is on these schools.
        if (!Array.isArray(devices)) return;
        created += devices.length;
        // Not awaited: waking is best effort (the reconciler wakes what it misses) and must not hold the next chunk.
        void deps.platforms.wake(devices).catch(() => undefined);
        if (devices.length < chunkSize) return;
      }
    };
    const groups = schoolGroups(open, c.perSchoolCap, chunkSize);
    const stream = async () => {
      for (let g = groups.shift(); g; g = groups.shift()) await toSchools(g);
    };
    await Promise.all(Array.from({ length: FAN_OUT_STREAMS }, stream));
    return created;
  }

  /**
   * `wait: false` (the tick) leaves the campaign to a step already in progress: a fan-out under
   * way goes on until its schools are served, and waiting for it would only stop its chunks while
   * this step settles (a settle holds the campaign's lock exclusively). The next tick settles.
   */
  async function advance(campaignId: string, options: { wait?: boolean } = {}): Promise<{ created: number; status: string }> {
    const settled = await settle(campaignId, options.wait ?? true);
    if (settled === 'busy') return { created: 0, status: 'busy' };
    if (!settled) return { created: 0, status: 'idle' };
    const { c, now } = settled;
    if (settled.status === 'waiting') {
      await deps.schedule(c.id, c.startAt).catch(() => undefined);
      return { created: 0, status: 'waiting' };
    }
    let created = 0;
    if (settled.status === 'running') {
      const active = settled.waves.filter((w) => ACTIVE_WAVES.has(w.status)).map((w) => w.position);
      created = await fanOut(c, active, now);
    }
    deps.observe?.(c.id, settled.counts, created);
    return { created, status: settled.status };
  }

  return {
    advance,

    /** Every running campaign, one after the other: what the repeatable tick runs. */
    async tick(): Promise<number> {
      let created = 0;
      for (const id of await repo.runningCampaignIds(db)) created += (await advance(id, { wait: false })).created;
      return created;
    },
  };
}
export type CampaignEngine = ReturnType<typeof createCampaignEngine>;
