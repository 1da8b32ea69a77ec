import type { Json, PubsubMessage } from './amapi.port';

/** The resource a notification carries (a Device, an Operation…), or null when its data is not JSON. */
export function resourceOf(message: PubsubMessage): Json | null {
  try {
    const value = JSON.parse(Buffer.from(message.data ?? '', 'base64').toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : null;
  } catch {
    return null;
  }
}

/** `enterprises/E/devices/D[/operations/O]` → `enterprises/E`. */
export const enterpriseOf = (name: unknown): string | null => (typeof name === 'string' ? (/^(enterprises\/[^/]+)\//.exec(name)?.[1] ?? null) : null);
