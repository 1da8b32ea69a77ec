import { createHash } from 'node:crypto';

export const GENESIS_HASH = '0'.repeat(64);

export interface HashedFields {
  organisationId: string | null;
  occurredAt: Date;
  actorType: 'user' | 'api_token' | 'device' | 'system';
  actorId: string | null;
  actorLabel: string | null;
  role: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  schoolId: string | null;
  communeId: string | null;
  sourceIp: string | null;
  outcome: 'success' | 'denied' | 'failure';
  details: Record<string, unknown>;
}

/** JSON with object keys sorted at every depth: PostgreSQL's jsonb does not keep key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value instanceof Date ? value.toISOString() : value);
}

export function chainHash(prevHash: string, fields: HashedFields): string {
  return createHash('sha256').update(prevHash).update('\n').update(canonicalJson(fields)).digest('hex');
}
