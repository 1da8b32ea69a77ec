/**
 * Location rules in the domain's words: when a school's tablets may report where they are, the
 * perimeters around schools, and what a plausible position is. Pure functions, no clock of their own.
 */

/** `off`: nothing is collected; `on_demand`: the locate command and lost mode only; `school_hours`: periodic reports inside the school's hours too. */
export const LOCATION_MODES = ['off', 'on_demand', 'school_hours'] as const;
export type LocationMode = (typeof LOCATION_MODES)[number];

export const LOCATION_POLICY_SCOPES = ['organisation', 'commune', 'school'] as const;
export type LocationPolicyScope = (typeof LOCATION_POLICY_SCOPES)[number];

export const GEOFENCE_ALERT_KINDS = ['exit', 'return'] as const;
export type GeofenceAlertKind = (typeof GEOFENCE_ALERT_KINDS)[number];

/** ISO weekdays (1 Monday … 7 Sunday) and a local time range, `HH:MM`, start before end. */
export type WeeklyHours = { days: number[]; start: string; end: string }[];

export interface LocationRules {
  mode: LocationMode;
  intervalMinutes: number | null;
  hours: WeeklyHours;
  excludedDates: { from: string; to: string }[];
  /** The school's IANA time zone: hours and dates are local to it. */
  timeZone: string;
}

export interface Point {
  lat: number;
  lon: number;
}

export type GeofenceShape = { type: 'circle'; center: Point; radiusM: number } | { type: 'polygon'; points: Point[] };

/** A fix more than this far ahead of the server's clock is not a clock drift but a broken device. */
export const FUTURE_FIX_TOLERANCE_MS = 60 * 60_000;

export type ImplausibleFix = 'coordinates' | 'future_fix_time';

/**
 * Why a position cannot be true, or null. Exactly (0, 0) is the position a failed receiver
 * reports, in the Gulf of Guinea where no school tablet is.
 */
export function implausibleFix(fix: { lat: number; lon: number; fixTime: Date }, now: Date): ImplausibleFix | null {
  const { lat, lon } = fix;
  if (!Number.isFinite(lat) || !Number.isFinite(lon) || Math.abs(lat) > 90 || Math.abs(lon) > 180 || (lat === 0 && lon === 0)) return 'coordinates';
  if (Number.isNaN(fix.fixTime.getTime()) || fix.fixTime.getTime() > now.getTime() + FUTURE_FIX_TOLERANCE_MS) return 'future_fix_time';
  return null;
}

interface LocalTime {
  date: string;
  weekday: number;
  minutes: number;
}

const WEEKDAYS: Record<string, number> = { Mon: 1, Tue: 2, Wed: 3, Thu: 4, Fri: 5, Sat: 6, Sun: 7 };
const formatters = new Map<string, Intl.DateTimeFormat>();

function localTime(at: Date, timeZone: string): LocalTime {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit', weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((p) => [p.type, p.value]));
  return { date: `${parts.year}-${parts.month}-${parts.day}`, weekday: WEEKDAYS[parts.weekday!]!, minutes: Number(parts.hour) * 60 + Number(parts.minute) };
}

export function minutesOf(hhmm: string): number {
  const [h, m] = hhmm.split(':').map(Number);
  return h! * 60 + m!;
}

/** Whether `at` falls inside the school's hours, on a day that is not excluded. */
export function insideSchoolHours(rules: Pick<LocationRules, 'hours' | 'excludedDates' | 'timeZone'>, at: Date): boolean {
  const local = localTime(at, rules.timeZone);
  if (rules.excludedDates.some((d) => d.from <= local.date && local.date <= d.to)) return false;
  return rules.hours.some((h) => h.days.includes(local.weekday) && minutesOf(h.start) <= local.minutes && local.minutes < minutesOf(h.end));
}

/** Whether the policy lets a device report a position by itself (not answering a command) at `at`. */
export function periodicReportAllowed(rules: LocationRules | null, at: Date): boolean {
  return rules?.mode === 'school_hours' && insideSchoolHours(rules, at);
}

const EARTH_RADIUS_M = 6_371_008.8;

export function distanceM(a: Point, b: Point): number {
  const rad = Math.PI / 180;
  const dLat = (b.lat - a.lat) * rad;
  const dLon = (b.lon - a.lon) * rad;
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(a.lat * rad) * Math.cos(b.lat * rad) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_RADIUS_M * Math.asin(Math.min(1, Math.sqrt(h)));
}

/** Ray casting on longitude/latitude: exact enough for a perimeter of a few hundred metres. */
export function contains(shape: GeofenceShape, p: Point): boolean {
  if (shape.type === 'circle') return distanceM(shape.center, p) <= shape.radiusM;
  let inside = false;
  const pts = shape.points;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const a = pts[i]!;
    const b = pts[j]!;
    if (a.lat > p.lat !== b.lat > p.lat && p.lon < ((b.lon - a.lon) * (p.lat - a.lat)) / (b.lat - a.lat) + a.lon) inside = !inside;
  }
  return inside;
}

function orientation(p: Point, q: Point, r: Point): number {
  const v = (q.lat - p.lat) * (r.lon - q.lon) - (q.lon - p.lon) * (r.lat - q.lat);
  return v === 0 ? 0 : v > 0 ? 1 : -1;
}

function onSegment(p: Point, q: Point, r: Point): boolean {
  return Math.min(p.lon, r.lon) <= q.lon && q.lon <= Math.max(p.lon, r.lon) && Math.min(p.lat, r.lat) <= q.lat && q.lat <= Math.max(p.lat, r.lat);
}

function segmentsCross(p1: Point, q1: Point, p2: Point, q2: Point): boolean {
  const o1 = orientation(p1, q1, p2);
  const o2 = orientation(p1, q1, q2);
  const o3 = orientation(p2, q2, p1);
  const o4 = orientation(p2, q2, q1);
  if (o1 !== o2 && o3 !== o4) return true;
  return (o1 === 0 && onSegment(p1, p2, q1)) || (o2 === 0 && onSegment(p1, q2, q1)) || (o3 === 0 && onSegment(p2, p1, q2)) || (o4 === 0 && onSegment(p2, q1, q2));
}

/** The first pair of edges of a closed polygon that cross (edge i from point i to i+1), or null. */
export function selfCrossing(points: readonly Point[]): [number, number] | null {
  const n = points.length;
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      // Neighbouring edges share a point by construction.
      if (j === i + 1 || (i === 0 && j === n - 1)) continue;
      if (segmentsCross(points[i]!, points[(i + 1) % n]!, points[j]!, points[(j + 1) % n]!)) return [i, j];
    }
  }
  return null;
}
