import { ForbiddenError, InvalidInputError, NotFoundError } from '../../domain/errors';
import { PLATFORMS } from '../../domain/devices';
import type { DbOrTx } from '../../infra/db/client';
import type { ProfileScopeType } from '../../infra/db/schema';
import type { Scope } from '../access/principal';
import { placeOf } from './profiles.repository';

/** Where a profile or an app is assigned, as a caller names it. */
export interface ScopeBody {
  scopeType: ProfileScopeType;
  scopeId?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const TAG = /^[\p{L}\p{N}][\p{L}\p{N} ._:-]{0,62}$/u;
const PLACES: readonly ProfileScopeType[] = ['commune', 'school', 'group'];

/** The stored key of a scope: the place's id (lower case), the platform, the tag, or '' for the organisation. */
export function scopeKeyOf(body: ScopeBody): string {
  const type = body.scopeType;
  const key = type === 'organisation' ? '' : (body.scopeId ?? '');
  if (type !== 'organisation' && key === '') throw new InvalidInputError(`scopeId is required for a ${type} assignment`, 'invalid_scope');
  if (type === 'organisation' && body.scopeId !== undefined) throw new InvalidInputError('An organisation assignment takes no scopeId', 'invalid_scope');
  if (PLACES.includes(type) && !UUID.test(key)) throw new InvalidInputError(`scopeId of a ${type} is its id`, 'invalid_scope');
  if (type === 'platform' && !(PLATFORMS as readonly string[]).includes(key)) throw new InvalidInputError(`scopeId of a platform is one of ${PLATFORMS.join(', ')}`, 'invalid_scope');
  if (type === 'tag' && !TAG.test(key)) throw new InvalidInputError('A tag is 1 to 63 letters, digits, spaces or ._:-', 'invalid_scope');
  return UUID.test(key) ? key.toLowerCase() : key;
}

/** Whether a grant reaches a scope: schools and groups of its schools, its communes; the rest needs the whole organisation. */
export async function reaches(tx: DbOrTx, scope: Scope, type: ProfileScopeType, key: string): Promise<boolean> {
  if (scope.all) return true;
  if (type === 'school') return scope.schoolIds.includes(key);
  if (type === 'commune') return scope.communeIds.includes(key);
  if (type === 'group') {
    const place = await placeOf(tx, scope.organisationId, 'group', key);
    return place !== null && scope.schoolIds.includes(place.schoolId!);
  }
  return false;
}

/**
 * The place of a scope the caller may assign to (for the audit event's school and commune). A
 * place of another organisation, or out of the caller's reach, reads as unknown.
 */
export async function assignablePlace(tx: DbOrTx, scope: Scope, type: ProfileScopeType, key: string): Promise<{ schoolId: string | null; communeId: string | null }> {
  const place = await placeOf(tx, scope.organisationId, type, key);
  if (!place || (PLACES.includes(type) && !(await reaches(tx, scope, type, key)))) throw new NotFoundError(type[0]!.toUpperCase() + type.slice(1));
  if (!(await reaches(tx, scope, type, key))) throw new ForbiddenError(`Assigning to a ${type} needs a grant on the whole organisation`, 'scope_beyond_reach');
  return place;
}
