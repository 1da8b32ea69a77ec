import { createHash } from 'node:crypto';
import type { NeutralProfile } from './profile.schemas';

/** The namespace of every name-based UUID Cartable derives for profiles (RFC 9562 version 5). */
const PROFILE_NAMESPACE = Buffer.from('6c0f6a3e5b2d4f0b9a51c2d7e8f90a14', 'hex');

/**
 * A UUID that depends only on the profile, its version and `part`: compiling the same profile
 * version twice gives the same identifiers, so a tablet sees the same payloads, and a new
 * version gives new ones.
 */
export function stableUuid(profile: Pick<NeutralProfile, 'id' | 'version'>, part: string): string {
  const hash = createHash('sha1').update(PROFILE_NAMESPACE).update(`${profile.id}@${profile.version}/${part}`).digest();
  hash[6] = (hash[6]! & 0x0f) | 0x50;
  hash[8] = (hash[8]! & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex').toUpperCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
