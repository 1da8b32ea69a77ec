import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkProfile } from '../../server/modules/profiles/profile-validation';
import type { NeutralProfile } from '../../server/modules/profiles/profile.schemas';

const FIXTURES = join(__dirname, '..', 'fixtures', 'profiles');

/**
 * Compares a compiler's output with its reviewed golden file. `UPDATE_GOLDEN=1` rewrites the
 * file instead: the diff is then reviewed in the commit like any other change.
 */
export function expectGolden(name: string, actual: string): void {
  const file = join(FIXTURES, 'golden', name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(file, actual);
  if (!existsSync(file)) throw new Error(`no golden file ${file}: run with UPDATE_GOLDEN=1 and review it`);
  expect(actual).toBe(readFileSync(file, 'utf8'));
}

/** A fixture profile, validated as the CLI would. */
export function fixtureProfile(name: string): NeutralProfile {
  const checked = checkProfile(JSON.parse(readFileSync(join(FIXTURES, `${name}.json`), 'utf8')));
  if (!checked.ok) throw new Error(`fixture ${name} is invalid: ${JSON.stringify(checked.problems)}`);
  return checked.profile;
}
