/** The instant a wall-clock time of a calendar day (YYYY-MM-DD, HH:MM) stands for in a time zone. */
export function zonedInstant(day: string, time: string, timeZone: string): Date {
  const asUtc = new Date(`${day}T${time}:00Z`);
  const name = new Intl.DateTimeFormat('en-GB', { timeZone, timeZoneName: 'longOffset' }).formatToParts(asUtc).find((p) => p.type === 'timeZoneName')?.value ?? 'GMT';
  const match = /GMT([+-])(\d{2}):(\d{2})/.exec(name);
  const offsetMinutes = match ? (match[1] === '-' ? -1 : 1) * (Number(match[2]) * 60 + Number(match[3])) : 0;
  return new Date(asUtc.getTime() - offsetMinutes * 60_000);
}

/** The last minute of a day: a token "valid until the 12th" still works on the 12th. */
export const endOfDay = (day: string, timeZone: string) => zonedInstant(day, '23:59', timeZone);
export const startOfDay = (day: string, timeZone: string) => zonedInstant(day, '00:00', timeZone);
