/**
 * Where iPads reach Cartable, under CARTABLE_PUBLIC_URL. The SCEP URL carries no query string:
 * Apple's SCEP client appends its own without checking for one.
 */
export const APPLE_PATHS = {
  scep: '/apple/scep',
  /** Commands and their results (the profile's ServerURL). */
  mdm: '/apple/mdm',
  /** Check-in messages (the profile's CheckInURL). */
  checkin: '/apple/checkin',
  enroll: '/apple/enroll',
} as const;

export function appleUrl(publicUrl: string, path: string): string {
  return `${publicUrl.replace(/\/+$/, '')}${path}`;
}
