import { createHash } from 'node:crypto';
import { sql, type SQL } from 'drizzle-orm';
import { drizzle, type NodePgDatabase } from 'drizzle-orm/node-postgres';
import { PgDialect } from 'drizzle-orm/pg-core';
import { Pool, type QueryResult } from 'pg';
import * as schema from './schema';

export type Db = NodePgDatabase<typeof schema>;
/** A database handle or an open transaction: repositories accept either so services can compose writes. */
export type DbOrTx = Db | Parameters<Parameters<Db['transaction']>[0]>[0];

export interface Database {
  db: Db;
  pool: Pool;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  /** How long to wait for a free connection of the pool (5 s when not given). */
  connectTimeoutMs?: number;
  /**
   * Key of the audit trail's MACs, derived from the master secret. A handle without it cannot
   * write audit events (and says so), which keeps unkeyed events out of the trail.
   */
  auditKey?: Buffer;
  /** Told how long each audit chain lock was held, from acquired to committed, in seconds. */
  observeAuditLock?: (seconds: number) => void;
}

interface CommitHooks {
  /** Runs after everything the caller did in the transaction, right before COMMIT; may register more. */
  beforeCommit(work: () => Promise<void>): void;
  /** Runs once the transaction has committed (never after a rollback). */
  afterCommit(fn: () => void): void;
}
interface TxState {
  before: (() => Promise<void>)[];
  after: (() => void)[];
}
const handles = new WeakMap<object, { options: DatabaseOptions; tx?: TxState }>();

type Opener = <T>(fn: (tx: DbOrTx) => Promise<T>, config?: unknown) => Promise<T>;

/**
 * Wraps `transaction` on a handle so that work registered through `commitHooks` runs after the
 * caller's function and right before COMMIT. A savepoint hands its work to the enclosing
 * transaction when it is released, and drops it when it is rolled back.
 */
function track(handle: DbOrTx, options: DatabaseOptions, enclosing?: TxState): void {
  const open = (handle.transaction as Opener).bind(handle);
  (handle as { transaction: Opener }).transaction = async (fn, config) => {
    const state: TxState = { before: [], after: [] };
    const result = await open(async (tx) => {
      handles.set(tx, { options, tx: state });
      track(tx, options, state);
      const value = await fn(tx);
      if (!enclosing) for (let i = 0; i < state.before.length; i++) await state.before[i]!();
      return value;
    }, config);
    if (enclosing) {
      enclosing.before.push(...state.before);
      enclosing.after.push(...state.after);
    } else {
      for (const after of state.after) after();
    }
    return result;
  };
}

/** The options of the handle `handle` belongs to; undefined for a handle not made by `createDatabase`. */
export function databaseOptionsOf(handle: DbOrTx): DatabaseOptions | undefined {
  return handles.get(handle)?.options;
}

/** Hooks around the commit of `tx`; undefined when `tx` is not a transaction of a `createDatabase` handle. */
export function commitHooks(tx: DbOrTx): CommitHooks | undefined {
  const state = handles.get(tx)?.tx;
  return state && { beforeCommit: (work) => void state.before.push(work), afterCommit: (fn) => void state.after.push(fn) };
}

export function createDatabase(url: string, poolSize: number, options: DatabaseOptions = {}): Database {
  const pool = new Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: options.connectTimeoutMs ?? 5000, idleTimeoutMillis: 30000 });
  // A lost connection (a restart, a failover) surfaces as an error event, on the pool for an idle
  // connection and on the connection itself while it is checked out: without a listener either
  // would crash the process. The query in flight fails on its own, and the pool reconnects.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => client.on('error', () => undefined));
  const db = drizzle(pool, { schema });
  handles.set(db, { options });
  track(db, options);
  return { db, pool, close: () => pool.end() };
}

/** A JS array as one PostgreSQL array parameter (drizzle would otherwise expand it into a list). */
export function pgArray(values: readonly (string | null)[]) {
  return sql.param(values);
}

const dialect = new PgDialect();

/**
 * A raw statement planned once per connection (a named prepared statement), for hot statements
 * whose planning costs PostgreSQL more than their execution. Its parameters are
 * `sql.placeholder(name)`s, filled at each call; any other value in `query` is fixed with it.
 * Given an open transaction, it runs in that transaction.
 * The name carries a digest of the text: two statements can never share a name.
 */
export function preparedStatement<R extends Record<string, unknown>>(db: Db, name: string, query: SQL): (values: Record<string, unknown>, tx?: DbOrTx) => Promise<R[]> {
  const built = dialect.sqlToQuery(query);
  const named = statementName(name, built);
  const statement = db._.session.prepareQuery(built, undefined, named, false);
  return async (values, tx) => {
    // In a transaction, on its connection: the statement is built once all the same.
    const target = tx && tx !== db ? tx._.session.prepareQuery(built, undefined, named, false) : statement;
    return ((await target.execute(values)) as QueryResult<R>).rows;
  };
}

/**
 * The name under which a statement is prepared: `name` and a digest of its text, so that two
 * statements never share one. For a drizzle query (`query.prepare(statementName(name, query.toSQL()))`),
 * whose rows drizzle then maps as it does unprepared.
 */
export function statementName(name: string, built: { sql: string; params: unknown[] }): string {
  return `${name}_${createHash('sha256').update(built.sql).update(JSON.stringify(built.params)).digest('hex').slice(0, 12)}`;
}

/**
 * Whether an error says that every connection of the pool stayed busy for the whole connection
 * timeout: the server is overloaded, not broken, and the caller should retry shortly.
 */
export function isPoolExhausted(error: unknown): boolean {
  const e = error as { message?: string; cause?: { message?: string } };
  return [e?.message, e?.cause?.message].some((m) => m === 'timeout exceeded when trying to connect');
}

/** Whether a database error (as drizzle wraps it) is a unique-constraint violation. */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; cause?: { code?: string } };
  return e?.code === '23505' || e?.cause?.code === '23505';
}
