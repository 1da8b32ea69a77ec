import { InvalidInputError } from '../../domain/errors';
import type { CampaignWindow, ExcludedRange, RetryPolicy } from '../../domain/campaigns';
import { isTimeZone, minutesOf, parseExclusions } from './campaign-calendar';
import type { CreateCampaignBody, TemplateBody } from './campaigns.schemas';

export interface Problem {
  path: string;
  message: string;
}

/** Collects every problem of an input with its path, then refuses it whole. */
export class Problems {
  readonly list: Problem[] = [];
  add(path: string, message: string): void {
    this.list.push({ path, message });
  }
  throwIfAny(what: string): void {
    if (this.list.length) throw new InvalidInputError(`The ${what} has ${this.list.length} problem(s): ${this.list.map((p) => `${p.path} ${p.message}`).join('; ')}`, `invalid_${what}`, { errors: this.list });
  }
}

export type PlanInput = Pick<CreateCampaignBody, 'windows' | 'timeZone' | 'excludedDates' | 'calendars' | 'waves' | 'perSchoolCap' | 'retry' | 'offlineDays'>;

export interface WavePlan {
  position: number;
  name: string;
  /** null: every school no earlier wave took. */
  schoolIds: string[] | null;
  minSuccessPct: number;
  maxFailurePct: number;
  promotion: 'auto' | 'approval';
}

export interface CheckedPlan {
  windows: CampaignWindow[];
  timeZone: string | null;
  excluded: ExcludedRange[];
  waves: WavePlan[];
  perSchoolCap: number;
  retry: RetryPolicy;
  offlineDays: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 3, backoffSec: 600 };
export const DEFAULT_OFFLINE_DAYS = 30;
/** Pilot schools first, then the rest, as the organisation's rollout goes ("par palier"). */
const DEFAULT_THRESHOLDS = { minSuccessPct: 90, maxFailurePct: 5 };

/**
 * The semantic checks a schema cannot express, each problem with its field's path: windows that
 * end before they start or overlap themselves, an unknown time zone, a calendar that does not
 * parse, inverted date ranges, unknown or misplaced wave schools.
 */
export function checkPlan(input: PlanInput, problems: Problems, context: { pilotSchoolIds: readonly string[]; knownSchoolIds: ReadonlySet<string> }): CheckedPlan {
  input.windows.forEach((w, i) => {
    const start = minutesOf(w.start);
    const end = minutesOf(w.end);
    if (!w.nextDay && end <= start) problems.add(`/windows/${i}/end`, `ends before it starts (${w.end} is not after ${w.start}); set nextDay for a window that ends the next day`);
    if (w.nextDay && end > start) problems.add(`/windows/${i}/end`, `overlaps itself: from ${w.start} to ${w.end} the next day is longer than a day`);
  });
  if (input.timeZone !== undefined && !isTimeZone(input.timeZone)) problems.add('/timeZone', `unknown time zone "${input.timeZone}"`);

  const excluded: ExcludedRange[] = [];
  (input.excludedDates ?? []).forEach((r, i) => {
    if (r.to < r.from) problems.add(`/excludedDates/${i}/to`, 'ends before it starts');
    r.schoolIds?.forEach((id, j) => {
      if (!context.knownSchoolIds.has(id)) problems.add(`/excludedDates/${i}/schoolIds/${j}`, 'unknown school');
    });
    excluded.push(r);
  });
  (input.calendars ?? []).forEach((cal, i) => {
    cal.schoolIds?.forEach((id, j) => {
      if (!context.knownSchoolIds.has(id)) problems.add(`/calendars/${i}/schoolIds/${j}`, 'unknown school');
    });
    try {
      excluded.push(...parseExclusions(cal.ics, cal.schoolIds));
    } catch (err) {
      problems.add(`/calendars/${i}/ics`, err instanceof Error ? err.message : 'does not parse');
    }
  });

  const waves: WavePlan[] = [];
  const inputs = input.waves ?? (context.pilotSchoolIds.length ? [{ pilot: true, ...DEFAULT_THRESHOLDS }, { ...DEFAULT_THRESHOLDS }] : [{ ...DEFAULT_THRESHOLDS }]);
  inputs.forEach((w, i) => {
    const path = `/waves/${i}`;
    if (w.pilot && w.schoolIds) problems.add(`${path}/pilot`, 'give either pilot or schoolIds, not both');
    if (w.pilot && context.pilotSchoolIds.length === 0) problems.add(`${path}/pilot`, 'the organisation has no pilot school');
    const schoolIds = w.pilot ? [...context.pilotSchoolIds] : (w.schoolIds ?? null);
    w.schoolIds?.forEach((id, j) => {
      if (!context.knownSchoolIds.has(id)) problems.add(`${path}/schoolIds/${j}`, 'unknown school');
    });
    if (schoolIds === null && i !== inputs.length - 1) problems.add(path, 'a wave of every remaining school must be the last');
    waves.push({
      position: i + 1,
      // Default names in the organisation's language: they are shown as they are stored.
      name: w.name ?? (w.pilot ? 'Écoles pilotes' : schoolIds === null ? (i === 0 ? 'Toutes les écoles' : 'Autres écoles') : `Vague ${i + 1}`),
      schoolIds,
      minSuccessPct: w.minSuccessPct,
      maxFailurePct: w.maxFailurePct,
      promotion: w.promotion ?? 'auto',
    });
  });

  return {
    windows: input.windows,
    timeZone: input.timeZone ?? null,
    excluded,
    waves,
    perSchoolCap: input.perSchoolCap,
    retry: input.retry ?? DEFAULT_RETRY,
    offlineDays: input.offlineDays ?? DEFAULT_OFFLINE_DAYS,
  };
}

/** The plan part of a template, as stored: what a campaign started from it takes. */
export function planOfTemplate(body: TemplateBody): PlanInput {
  const { autoUpdateAppIds: _ignored, ...plan } = body;
  return plan;
}
