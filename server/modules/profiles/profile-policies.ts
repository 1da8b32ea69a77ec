import type { DbOrTx } from '../../infra/db/client';
import { locationOf, profileIdsOf, type ProfileSet } from './desired-state.repository';
import { policiesByVersion, rulesOf } from '../location/location-policies.repository';
import type { ProfileCompilers } from './profile-compilers.port';
import type { NeutralProfile } from './profile.schemas';
import { profileBodies } from './profiles.repository';

const CACHE_LIMIT = 500;

/** The same set, whatever the order its keys came in. */
export function setKey(set: ProfileSet): string {
  return JSON.stringify(Object.entries(set).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * The agent policy of effective sets, compiled once per distinct set (and version of each
 * profile in it): the devices of a school share one set, so thousands of devices cost a handful
 * of compilations. Bounded, oldest entries dropped first.
 */
export function createPolicyCache(compilers: ProfileCompilers) {
  const cache = new Map<string, Record<string, unknown>>();

  return async function policiesOf(db: DbOrTx, sets: readonly ProfileSet[]): Promise<{ profiles: ProfileSet; policy: Record<string, unknown> }[]> {
    const missing = sets.filter((s) => !cache.has(setKey(s)));
    const uncached = new Map<string, Record<string, unknown>>();
    if (missing.length) {
      const ids = [...new Set(missing.flatMap(profileIdsOf))];
      const rows = new Map((await profileBodies(db, ids)).map((p) => [p.id, p]));
      const locations = await policiesByVersion(db, [...new Set(missing.flatMap((s) => locationOf(s)?.version ?? []))]);
      for (const set of missing) {
        const profiles = profileIdsOf(set).flatMap((id) => (rows.has(id) ? [rows.get(id)!.body as unknown as NeutralProfile] : []));
        const location = locationOf(set);
        const locationRow = location ? locations.get(location.version) : undefined;
        const policy = compilers.agentPolicy(profiles, locationRow && location ? rulesOf(locationRow, location.timeZone) : null);
        // Kept only when it is exactly the set's versions (an edit may have landed since the set was read).
        const exact = profileIdsOf(set).every((id) => rows.get(id)?.version === set[id]) && (!location || locationRow !== undefined);
        if (exact) cache.set(setKey(set), policy);
        if (cache.size > CACHE_LIMIT) cache.delete(cache.keys().next().value!);
        uncached.set(setKey(set), policy);
      }
    }
    return sets.map((s) => ({ profiles: s, policy: cache.get(setKey(s)) ?? uncached.get(setKey(s))! }));
  };
}
export type PoliciesOf = ReturnType<typeof createPolicyCache>;
