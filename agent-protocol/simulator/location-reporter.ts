import { createMessage, type LocationReporting } from '../src';
import type { SimulatedAgent } from './simulated-agent';

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };

/** §27.4 read by a tablet: the local date, weekday and minute of `at` in the policy's time zone. */
function local(at: Date, timeZone: string): { date: string; weekday: number; minutes: number } {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' }).formatToParts(at).map((p) => [p.type, p.value]),
  );
  return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday: WEEKDAYS[parts.weekday!]!, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

const minutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether the policy lets the tablet report by itself at `at`: `school_hours`, inside the hours, not on an excluded date. */
export function periodicReportDue(reporting: LocationReporting | undefined, at: Date): boolean {
  if (reporting?.mode !== 'school_hours') return false;
  const now = local(at, reporting.timeZone ?? 'UTC');
  if ((reporting.excludedDates ?? []).some((d) => d.from <= now.date && now.date <= d.to)) return false;
  return (reporting.hours ?? []).some((h) => h.days.includes(now.weekday) && minutes(h.start) <= now.minutes && now.minutes < minutes(h.end));
}

/**
 * Periodic location as a tablet does it under its policy: nothing under `off` (no
 * `locationReporting`) nor `on_demand`; under `school_hours` one fix per `intervalMinutes`, only
 * inside the hours. `tick()` is called by a timer, or by a test driving its own clock.
 */
export class LocationReporter {
  private lastReportAt: number | null = null;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly agent: SimulatedAgent,
    private readonly clock: () => Date,
  ) {}

  /** Queues a `report.location` when one is due now; returns whether it did. */
  tick(): boolean {
    const reporting = this.agent.state?.policy?.policy.locationReporting as LocationReporting | undefined;
    const now = this.clock();
    if (!periodicReportDue(reporting, now)) return false;
    const intervalMs = (reporting!.intervalMinutes ?? 15) * 60_000;
    if (this.lastReportAt !== null && now.getTime() - this.lastReportAt < intervalMs) return false;
    this.lastReportAt = now.getTime();
    this.agent.queue(createMessage('report.location', { ...this.agent.profile.location(), fixTime: now.toISOString() }));
    return true;
  }

  start(everyMs: number): void {
    this.stop();
    this.timer = setInterval(() => this.tick(), everyMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}
