import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

/** `profiles/` beside the sources (`server/cli`) or beside the build (`dist/server/cli`). */
const CANDIDATES = [join(__dirname, '..', '..', 'profiles'), join(__dirname, '..', '..', '..', 'profiles')];

/** The reviewed school templates of `profiles/`, as parsed JSON with their file names. */
export function readTemplates(): { file: string; body: unknown }[] {
  const dir = CANDIDATES.find((d) => existsSync(d));
  if (!dir) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: `profiles/${f}`, body: JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown }));
}
