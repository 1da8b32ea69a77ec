import { Client } from 'pg';

/** Tests use the machine's PostgreSQL; TEST_DATABASE_URL points at its maintenance database. */
export const ADMIN_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const TEMPLATE_DB = 'cartable_test_template';

export function urlFor(database: string): string {
  const url = new URL(ADMIN_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

export async function withAdmin<T>(fn: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** A fresh database cloned from the migrated template: fast, and isolated per test file. */
export async function createTestDatabase(): Promise<{ name: string; url: string }> {
  const name = `cartable_t_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  await withAdmin((c) => c.query(`create database ${name} template ${TEMPLATE_DB}`));
  return { name, url: urlFor(name) };
}

export async function dropTestDatabase(name: string): Promise<void> {
  await withAdmin((c) => c.query(`drop database if exists ${name} with (force)`));
}
