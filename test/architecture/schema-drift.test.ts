import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDrizzleJson, generateMigration, type DrizzleSnapshotJSON } from 'drizzle-kit/api';
import * as schema from '../../server/infra/db/schema';

const MIGRATIONS = join(__dirname, '..', '..', 'migrations');

/** The snapshot drizzle-kit wrote with the newest migration: what the migrations build. */
function latestSnapshot(): DrizzleSnapshotJSON {
  const journal = JSON.parse(readFileSync(join(MIGRATIONS, 'meta', '_journal.json'), 'utf8')) as { entries: Array<{ idx: number; tag: string }> };
  const last = journal.entries.at(-1)!;
  return JSON.parse(readFileSync(join(MIGRATIONS, 'meta', `${String(last.idx).padStart(4, '0')}_snapshot.json`), 'utf8')) as DrizzleSnapshotJSON;
}

describe('database schema and migrations', () => {
  it('agree: `drizzle-kit generate` would write no new migration', async () => {
    const built = latestSnapshot();
    const declared = generateDrizzleJson(schema as Record<string, unknown>, built.id);
    const statements = await generateMigration(built, declared);
    // A failure lists the SQL a missing migration would hold: run `npm run db:generate -- --name <what_changed>`.
    expect(statements).toEqual([]);
  });
});
