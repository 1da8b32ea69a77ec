import { sql } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { Pool } from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;
/** A database handle or an open transaction: repositories accept either so services can compose writes. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

export function createDatabase(url: string, poolSize: number): Database {
  const pool = new Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30000 });
  // A lost connection (a restart, a failover) surfaces as an error event, on the pool for an idle
  // connection and on the connection itself while it is checked out: without a listener either
  // would crash the process. The query in flight fails on its own, and the pool reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzle(pool, { schema });
  return { db, pool, close: () => pool.end() };
}

/** A JS array as one PostgreSQL array parameter (drizzle would otherwise expand it into a list). */
export function pgArray(values: readonly (string | null)[]) {
  return sql.param(values);
}

/** Whether a database error (as drizzle wraps it) is a unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return e?.code === '23505' || e?.cause?.code === '23505';
}
