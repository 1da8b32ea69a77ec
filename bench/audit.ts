/**
 * `npm run bench -- audit [--writers 8] [--transactions 200]`: audited transactions written by
 * concurrent writers, on one organisation (every writer on the same chain) and on one
 * organisation each, against a bare baseline (the same transactions without an audit event).
 * Prints transactions per second and how long each chain lock was held, from acquired to committed.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { Client } from 'pg';
import { createDatabase, type Database } from '../server/infra/db/client';
import { runMigrations } from '../server/infra/db/migrate';
import { organisations } from '../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../server/modules/access/principal';
import { recordAudit } from '../server/modules/audit/audit.service';
import { flag } from './harness';

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))] ?? 0;
const ms = (s: number) => `${(s * 1000).toFixed(2)} ms`;

/** Runs `writers` loops of `transactions` transactions each; resolves with transactions per second. */
async function run(writers: number, transactions: number, work: (writer: number, i: number) => Promise<void>): Promise<number> {
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: writers }, async (_, w) => {
    for (let i = 0; i < transactions; i++) await work(w, i);
  }));
  return (writers * transactions) / (Number(process.hrtime.bigint() - started) / 1e9);
}

export async function main(args: string[]): Promise<void> {
  const writers = flag(args, 'writers', 8);
  const transactions = flag(args, 'transactions', 200);
  const name = `cartable_bench_audit_${process.pid}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  let database: Database | undefined;
  try {
    await runMigrations(url.toString());
    let held: number[] = [];
    database = createDatabase(url.toString(), writers + 2, { auditKey: randomBytes(32), observeAuditLock: (s) => held.push(s) });
    const db = database.db;
    const orgs = await db.insert(organisations).values(Array.from({ length: writers }, (_, i) => ({ slug: `bench-${i}-${randomUUID().slice(0, 6)}`, name: `Bench ${i}` }))).returning();
    await db.execute(sql`create table bench_plain (id bigserial primary key, payload jsonb not null)`);
    const change = (tx: Parameters<Parameters<typeof db.transaction>[0]>[0], w: number, i: number) => tx.execute(sql`insert into bench_plain (payload) values (${JSON.stringify({ w, i })}::jsonb)`);

    const bare = await run(writers, transactions, (w, i) => db.transaction(async (tx) => void (await change(tx, w, i))));
    const scenarios: [string, (w: number) => string][] = [
      ['all writers on one organisation', () => orgs[0]!.id],
      ['one organisation per writer', (w) => orgs[w]!.id],
    ];
    console.log(`${writers} writers x ${transactions} transactions`);
    console.log(`bare baseline (one insert per transaction): ${bare.toFixed(0)} tx/s`);
    for (const [label, orgOf] of scenarios) {
      held = [];
      const rate = await run(writers, transactions, (w, i) =>
        db.transaction(async (tx) => {
          await change(tx, w, i);
          await recordAudit(tx, { organisationId: orgOf(w), actor: SYSTEM_ACTOR, action: 'bench.write', outcome: 'success', details: { w, i } });
        }),
      );
      const sorted = [...held].sort((a, b) => a - b);
      console.log(
        `${label}: ${rate.toFixed(0)} tx/s (${(rate / bare).toFixed(2)} of bare); chain lock held p50 ${ms(percentile(sorted, 0.5))}, p95 ${ms(percentile(sorted, 0.95))}, p99 ${ms(percentile(sorted, 0.99))}, max ${ms(sorted.at(-1) ?? 0)}`,
      );
    }
  } finally {
    await database?.close();
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
  }
}
