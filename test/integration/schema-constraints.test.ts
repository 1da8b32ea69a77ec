import { is } from 'drizzle-orm';
import { getTableConfig, PgTable } from 'drizzle-orm/pg-core';
import * as schema from '../../server/infra/db/schema';
import { createTestDatabase, dropTestDatabase, queryDatabase } from '../helpers/databases';

let db: { name: string; url: string };
const query = <T>(text: string, params: unknown[] = []) => queryDatabase<T>(db.url, text, params);

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await dropTestDatabase(db.name);
});

const tables = (Object.values(schema) as unknown[]).filter((v): v is PgTable => is(v, PgTable));

/** Every text column whose TypeScript type is a closed list of values (drizzle's `enum` option). */
const closedColumns = tables.flatMap((table) => {
  const config = getTableConfig(table);
  return config.columns.filter((c) => (c.enumValues?.length ?? 0) > 0).map((c) => ({ table: config.name, column: c.name, values: c.enumValues! }));
});

describe('database schema', () => {
  it('has an index led by every foreign-key column, for joins and for the deletes that cascade', async () => {
    const unindexed = await query<{ table: string; columns: string }>(`
      select c.conrelid::regclass::text as "table",
             (select string_agg(a.attname, ', ' order by k.ord) from unnest(c.conkey) with ordinality k(attnum, ord)
                join pg_attribute a on a.attrelid = c.conrelid and a.attnum = k.attnum) as columns
        from pg_constraint c
       where c.contype = 'f' and c.connamespace = 'public'::regnamespace
         and not exists (
           select 1 from pg_index i
            where i.indrelid = c.conrelid
              and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] @> c.conkey
              and (i.indkey::int2[])[0:cardinality(c.conkey) - 1] <@ c.conkey)
       order by 1, 2`);
    expect(unindexed).toEqual([]);
  });

  it('lets a campaign target move (sent, outcome, retry) without touching an index: no index reads those columns, and pages keep room', async () => {
    const moving = ['status', 'attempts', 'command_id', 'next_attempt_at', 'reason', 'updated_at'];
    const indexes = await query<{ name: string; definition: string }>(
      `select indexrelid::regclass::text as name, pg_get_indexdef(indexrelid) as definition from pg_index where indrelid = 'campaign_targets'::regclass`,
    );
    expect(indexes.length).toBeGreaterThan(0);
    const reading = indexes.filter((i) => moving.some((column) => new RegExp(`\\b${column}\\b`).test(i.definition))).map((i) => i.name);
    expect(reading).toEqual([]);
    const [table] = await query<{ options: string[] | null }>(`select reloptions as options from pg_class where oid = 'campaign_targets'::regclass`);
    const fillfactor = Number(/^fillfactor=(\d+)$/.exec(table!.options?.find((o) => o.startsWith('fillfactor=')) ?? '')?.[1] ?? 100);
    expect(fillfactor).toBeLessThanOrEqual(60);
  });

  it('knows closed lists of values for the status, kind and type columns', () => {
    const names = closedColumns.map((c) => `${c.table}.${c.column}`);
    expect(names).toEqual(expect.arrayContaining(['commands.status', 'commands.kind', 'devices.status', 'devices.platform', 'users.status', 'schools.kind', 'command_batches.status', 'command_batches.kind']));
  });

  it('has a CHECK constraint on each of those columns with exactly the TypeScript list', async () => {
    const checks = await query<{ table: string; definition: string }>(`
      select conrelid::regclass::text as "table", pg_get_constraintdef(oid) as definition
        from pg_constraint where contype = 'c' and connamespace = 'public'::regnamespace`);
    const missing: string[] = [];
    for (const { table, column, values } of closedColumns) {
      const found = checks.find((c) => c.table === table && new RegExp(`\\b${column}\\b`).test(c.definition));
      const allowed = found ? [...found.definition.matchAll(/'([^']*)'/g)].map((m) => m[1]).sort() : [];
      if (JSON.stringify(allowed) !== JSON.stringify([...values].sort())) missing.push(`${table}.${column}: database allows [${allowed.join(', ')}], code [${[...values].sort().join(', ')}]`);
    }
    expect(missing).toEqual([]);
  });

  it('refuses a value outside the list, with the constraint named', async () => {
    const [org] = await query<{ id: string }>(`insert into organisations (slug, name) values ('ck', 'Check') returning id`);
    await expect(query(`insert into users (organisation_id, email, display_name, status) values ($1, 'x@example.org', 'X', 'suspended')`, [org!.id])).rejects.toThrow(/users_status_ck/);
    await expect(query(`insert into communes (organisation_id, code, name) values ($1, '69123', 'Lyon')`, [org!.id])).resolves.toBeDefined();
    const [commune] = await query<{ id: string }>(`select id from communes where organisation_id = $1`, [org!.id]);
    await expect(query(`insert into schools (organisation_id, commune_id, code, name, kind) values ($1, $2, '0691234A', 'École', 'college')`, [org!.id, commune!.id])).rejects.toThrow(/schools_kind_ck/);
  });
});
