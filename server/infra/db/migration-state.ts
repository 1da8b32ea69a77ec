import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Client } from 'pg';
import { migrationsDir } from './migrate';

/** Compares the committed migration journal with what the database records as applied. */
export async function readMigrationState(client: Client): Promise<{ applied: number; pending: number }> {
  const journal = JSON.parse(readFileSync(join(migrationsDir(), 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] };
  const exists = await client.query("select to_regclass('drizzle.__drizzle_migrations') as t");
  const applied = exists.rows[0]?.t ? Number((await client.query('select count(*)::int as n from drizzle.__drizzle_migrations')).rows[0].n) : 0;
  return { applied, pending: Math.max(0, journal.entries.length - applied) };
}
