import { XMLValidator } from 'fast-xml-parser';
import plist from 'plist';

export type PlistValue = string | number | boolean | Date | Buffer | PlistValue[] | { [key: string]: PlistValue };
export type PlistDict = { [key: string]: PlistValue };

/** A request body as a top-level dict, or null when it is not one (malformed XML, an array, a binary plist). */
export function parsePlistDict(body: Buffer): PlistDict | null {
  if (body.length === 0) return null;
  const text = body.toString('utf8');
  // Devices send XML property lists; anything else (binary plist, JSON) is refused before parsing.
  if (!text.trimStart().startsWith('<')) return null;
  // Checked first: the plist library's XML parser reports malformed input on stderr, one line per request.
  if (XMLValidator.validate(text) !== true) return null;
  try {
    const value = plist.parse(text) as unknown;
    return value !== null && typeof value === 'object' && !Array.isArray(value) && !Buffer.isBuffer(value) && !(value instanceof Date) ? (value as PlistDict) : null;
  } catch {
    return null;
  }
}

export function buildPlist(dict: PlistDict): string {
  return plist.build(dict as plist.PlistObject);
}

export const str = (v: PlistValue | undefined): string | null => (typeof v === 'string' ? v : null);
export const num = (v: PlistValue | undefined): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
export const bool = (v: PlistValue | undefined): boolean | null => (typeof v === 'boolean' ? v : null);
export const data = (v: PlistValue | undefined): Buffer | null => (Buffer.isBuffer(v) ? v : null);
export const dict = (v: PlistValue | undefined): PlistDict | null => (v !== null && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date) ? v : null);

/** The message as JSON for storage: binary data as base64, dates as ISO text, NUL characters (which PostgreSQL refuses) dropped. */
export function toJson(value: PlistValue): unknown {
  if (Buffer.isBuffer(value)) return { $data: value.toString('base64') };
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Array.isArray(value)) return value.map(toJson);
  if (typeof value === 'string') return value.replaceAll('\u0000', '');
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k.replaceAll('\u0000', ''), toJson(v)]));
  return value;
}
