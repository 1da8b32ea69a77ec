import { sql } from 'drizzle-orm';
import { check, timestamp, uuid, type AnyPgColumn } from 'drizzle-orm/pg-core';

export const id = () => uuid('id').primaryKey().defaultRandom();
export const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow();
export const updatedAt = () => timestamp('updated_at', { withTimezone: true }).notNull().defaultNow();
export const tstz = (name: string) => timestamp(name, { withTimezone: true });

/**
 * A CHECK constraint keeping a text column within the list its TypeScript type is made from: the
 * database refuses what the code could never have written (a typo in hand-written SQL, an old
 * release writing a value since removed), and the list lives in one place only.
 */
export function oneOf(name: string, column: AnyPgColumn, values: readonly string[]) {
  const literals = values.map((v) => `'${v.replace(/'/g, "''")}'`).join(', ');
  return check(name, sql`${column} in (${sql.raw(literals)})`);
}
