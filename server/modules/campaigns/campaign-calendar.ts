import ICAL from 'ical.js';
import { WEEKDAYS, type CampaignWindow, type ExcludedRange, type Weekday } from '../../domain/campaigns';

/** A moment as a school sees it on its wall clock. */
export interface LocalTime {
  date: string;
  weekday: Weekday;
  /** Minutes since local midnight. */
  minutes: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatterOf(timeZone: string): Intl.DateTimeFormat {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', weekday: 'short', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  return f;
}

/** Whether the runtime knows the IANA time zone. */
export function isTimeZone(timeZone: string): boolean {
  try {
    formatterOf(timeZone);
    return true;
  } catch {
    return false;
  }
}

export function localTime(at: Date, timeZone: string): LocalTime {
  const parts: Record<string, string> = {};
  for (const p of formatterOf(timeZone).formatToParts(at)) parts[p.type] = p.value;
  return {
    date: `${parts.year}-${parts.month}-${parts.day}`,
    weekday: parts.weekday!.toLowerCase().slice(0, 3) as Weekday,
    minutes: Number(parts.hour) * 60 + Number(parts.minute),
  };
}

/** "17:30" → 1050; "24:00" is the end of the day. */
export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

const previousDay = (d: Weekday): Weekday => WEEKDAYS[(WEEKDAYS.indexOf(d) + 6) % 7]!;

export function inWindows(windows: readonly CampaignWindow[], t: LocalTime): boolean {
  return windows.some((w) => {
    const start = minutesOf(w.start);
    const end = minutesOf(w.end);
    if (!w.nextDay) return w.days.includes(t.weekday) && t.minutes >= start && t.minutes < end;
    return (w.days.includes(t.weekday) && t.minutes >= start) || (w.days.includes(previousDay(t.weekday)) && t.minutes < end);
  });
}

export function excludedOn(excluded: readonly ExcludedRange[], date: string, schoolId: string): ExcludedRange | undefined {
  return excluded.find((r) => r.from <= date && date <= r.to && (!r.schoolIds || r.schoolIds.includes(schoolId)));
}

export interface SchoolCalendar {
  schoolId: string;
  timezone: string;
}

/** Whether the campaign may send to this school at this moment: inside a window, not on an excluded date. */
export function isOpen(at: Date, windows: readonly CampaignWindow[], excluded: readonly ExcludedRange[], school: SchoolCalendar): boolean {
  const t = localTime(at, school.timezone);
  return inWindows(windows, t) && !excludedOn(excluded, t.date, school.schoolId);
}

const MINUTE = 60_000;
const COARSE = 15 * MINUTE;
const HORIZON = 400 * 24 * 60 * MINUTE;

/**
 * The first minute at or after `from` when the school is open, within about a year; null when
 * none. Scans in quarter hours, then back to the minute: windows are whole minutes, and a
 * window shorter than a quarter hour is not worth a campaign.
 */
export function nextOpening(from: Date, windows: readonly CampaignWindow[], excluded: readonly ExcludedRange[], school: SchoolCalendar): Date | null {
  let at = Math.ceil(from.getTime() / MINUTE) * MINUTE;
  if (isOpen(new Date(at), windows, excluded, school)) return new Date(at);
  const end = at + HORIZON;
  while (at < end) {
    const next = at + COARSE - (at % COARSE);
    if (isOpen(new Date(next), windows, excluded, school)) {
      for (let m = at + MINUTE; m <= next; m += MINUTE) if (isOpen(new Date(m), windows, excluded, school)) return new Date(m);
    }
    at = next;
  }
  return null;
}

/** Ranges of local dates from an iCalendar file (school holidays, closures); throws a readable message when it does not parse. */
export function parseExclusions(ics: string, schoolIds?: string[]): ExcludedRange[] {
  let component: ICAL.Component;
  try {
    component = new ICAL.Component(ICAL.parse(ics));
  } catch (err) {
    throw new Error(`not an iCalendar file: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (component.name !== 'vcalendar') throw new Error('not an iCalendar file: no VCALENDAR');
  const ranges: ExcludedRange[] = [];
  const add = (start: ICAL.Time, end: ICAL.Time | null, summary: string) => {
    const from = start.toString().slice(0, 10);
    // An all-day DTEND is the day after the last one; a timed event ends on its own date.
    let last = end ? end.clone() : start.clone();
    if (end && end.isDate && end.compare(start) > 0) last.adjust(-1, 0, 0, 0);
    if (last.compare(start) < 0) last = start.clone();
    ranges.push({ from, to: last.toString().slice(0, 10), ...(summary ? { summary } : {}), ...(schoolIds ? { schoolIds } : {}) });
  };
  for (const sub of component.getAllSubcomponents('vevent')) {
    const event = new ICAL.Event(sub);
    if (!event.startDate) throw new Error('not an iCalendar file: an event has no DTSTART');
    const summary = (event.summary ?? '').slice(0, 200);
    if (!event.isRecurring()) {
      add(event.startDate, event.endDate, summary);
      continue;
    }
    const days = event.endDate ? Math.max(0, Math.round(event.endDate.subtractDate(event.startDate).toSeconds() / 86400)) : 0;
    const it = event.iterator();
    for (let i = 0, next = it.next(); next && i < 500; i++, next = it.next()) {
      const end = next.clone();
      end.adjust(days, 0, 0, 0);
      add(next, event.endDate ? end : null, summary);
    }
  }
  return ranges;
}
