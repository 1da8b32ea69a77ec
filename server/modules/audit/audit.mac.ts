import { createHash, createHmac, randomBytes } from 'node:crypto';

/** The "previous MAC" of a chain's first event. */
export const GENESIS = '0'.repeat(64);
/** Events without an organisation (sign-in attempts on unknown accounts) form a chain of their own. */
export const UNSCOPED_CHAIN = '00000000-0000-0000-0000-000000000000';
export const chainIdOf = (organisationId: string | null): string => organisationId ?? UNSCOPED_CHAIN;

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

/** What erasure may blank: the only fields that name or locate a person, or that hold free text. */
export interface PersonalFields {
  actorLabel: string | null;
  sourceIp: string | null;
  details: Record<string, unknown>;
}

export const newSalt = (): string => randomBytes(16).toString('base64url');

/**
 * Salted, so that once erasure has blanked the salt with the fields, the digest left behind no
 * longer lets anyone test a guess (an e-mail address, an IP address) against it.
 */
export function personalDigest(salt: string, fields: PersonalFields): string {
  return createHash('sha256').update(salt).update('\n').update(canonicalJson(fields)).digest('hex');
}

/** Everything an event's MAC covers: its place in its chain and its content, personal fields by digest. */
export interface SealedFields {
  chainId: string;
  seq: number;
  prevHash: string;
  organisationId: string | null;
  occurredAt: Date;
  actorType: string;
  actorId: string | null;
  role: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  schoolId: string | null;
  communeId: string | null;
  outcome: string;
  personalDigest: string;
}

export function eventMac(key: Buffer, f: SealedFields): string {
  const fields: SealedFields = {
    chainId: f.chainId,
    seq: f.seq,
    prevHash: f.prevHash,
    organisationId: f.organisationId,
    occurredAt: f.occurredAt,
    actorType: f.actorType,
    actorId: f.actorId,
    role: f.role,
    action: f.action,
    targetType: f.targetType,
    targetId: f.targetId,
    schoolId: f.schoolId,
    communeId: f.communeId,
    outcome: f.outcome,
    personalDigest: f.personalDigest,
  };
  return createHmac('sha256', key).update('cartable audit event v1\n').update(canonicalJson(fields)).digest('hex');
}

/** A chain's head at a moment, as the CA signs it. */
export interface CheckpointStatement {
  chainId: string;
  organisationId: string | null;
  headSeq: number;
  headHash: string;
  signedAt: Date;
}

/** The bytes the CA signs; the label keeps a checkpoint signature from passing for anything else the CA signs. */
export function checkpointPayload(c: CheckpointStatement): Buffer {
  const statement = { chainId: c.chainId, organisationId: c.organisationId, headSeq: c.headSeq, headHash: c.headHash, signedAt: c.signedAt };
  return Buffer.from(`cartable audit checkpoint v1\n${canonicalJson(statement)}`, 'utf8');
}
