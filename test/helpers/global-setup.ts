import { runMigrations } from '../../server/infra/db/migrate';
import { TEMPLATE_ENV, templateName, urlFor, withAdmin } from './databases';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds this run's migrated template database once; each test file clones it. Databases left
 * behind by runs that died are dropped; those of runs still going are left alone.
 */
export default async function globalSetup(): Promise<void> {
  process.env[TEMPLATE_ENV] = templateName(process.pid);
  await withAdmin(async (c) => {
    const rows = await c.query<{ datname: string }>("select datname from pg_database where datname like 'cartable_t%'");
    for (const { datname } of rows.rows) {
      const pid = Number(/^cartable_t(?:emplate)?_(\d+)/.exec(datname)?.[1]);
      if (pid && !alive(pid)) await c.query(`drop database if exists ${datname} with (force)`);
    }
    await c.query(`create database ${process.env[TEMPLATE_ENV]}`);
  });
  await runMigrations(urlFor(process.env[TEMPLATE_ENV]!));
}
