import { runMigrations } from '../../server/infra/db/migrate';
import { TEMPLATE_DB, urlFor, withAdmin } from './databases';

/** Builds the migrated template database once per run; each test file clones it. */
export default async function globalSetup(): Promise<void> {
  await withAdmin(async (c) => {
    const stale = await c.query<{ datname: string }>("select datname from pg_database where datname like 'cartable_t_%'");
    for (const row of stale.rows) await c.query(`drop database if exists ${row.datname} with (force)`);
    await c.query(`drop database if exists ${TEMPLATE_DB} with (force)`);
    await c.query(`create database ${TEMPLATE_DB}`);
  });
  await runMigrations(urlFor(TEMPLATE_DB));
}
