import { drizzle } from 'drizzle-orm/node-postgres';
import { migrate } from 'drizzle-orm/node-postgres/migrator';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';

const MIGRATION_LOCK = 727274; // fixed key: serialises concurrent starts of several processes

/** The repository's `migrations/`, whether running from sources or from `dist/`. */
export function migrationsDir(): string {
  const candidates = [join(__dirname, '..', '..', '..', 'migrations'), join(__dirname, '..', '..', '..', '..', 'migrations')];
  const found = candidates.find((dir) => existsSync(join(dir, 'meta', '_journal.json')));
  if (!found) throw new Error(`migrations folder not found (looked in ${candidates.join(', ')})`);
  return found;
}

/** Applies committed SQL migrations; idempotent and safe to run from several processes at once. */
export async function runMigrations(url: string): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('select pg_advisory_lock($1)', [MIGRATION_LOCK]);
    await migrate(drizzle(client), { migrationsFolder: migrationsDir() });
  } finally {
    await client.query('select pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}
