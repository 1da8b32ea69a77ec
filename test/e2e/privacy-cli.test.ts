import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildOnce, npxCartable, type CliResult } from '../helpers/cli';
import { queryDatabase } from '../helpers/databases';
import { gunzipSync } from 'node:zlib';
import { checkpointPayload } from '../../server/modules/audit/audit.mac';
import { insertCheckpoint } from '../../server/modules/audit/audit.repository';
import { writeEvents } from '../helpers/audit-chain';
import { createTestEnv, startTestApp, type TestEnv } from '../helpers/test-env';

const scratch = mkdtempSync(join(tmpdir(), 'cartable-privacy-cli-'));
let env: TestEnv;

// Each npx start costs seconds on a busy machine; a test makes several.
jest.setTimeout(120_000);

beforeAll(async () => {
  await buildOnce();
  env = await createTestEnv({ AUDIT_ARCHIVE_DIR: join(scratch, 'archives') });
}, 300_000);
afterAll(async () => {
  await env.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const cartable = (...args: string[]): Promise<CliResult> => npxCartable(args, { env: env.env });
const sql = <T>(text: string, params: unknown[] = []) => queryDatabase<T>(env.config.DATABASE_URL, text, params);

describe('npx cartable retention and privacy, as the README runs them', () => {
  it('reports what is held and when it goes, purges what is past retention, and the report follows', async () => {
    expect((await cartable('seed-demo')).code).toBe(0);
    const [school] = await sql<{ id: string; organisation_id: string }>('select id, organisation_id from schools order by code limit 1');
    const [device] = await sql<{ id: string }>(`insert into devices (organisation_id, school_id, platform, name) values ($1, $2, 'android', 'T1') returning id`, [school!.organisation_id, school!.id]);
    const position = (days: number) =>
      sql(`insert into device_locations (device_id, lat, lon, accuracy_m, provider, fix_time, source, received_at) values ($1, 45.7, 4.8, 10, 'gps', now(), 'locate', now() - make_interval(days => $2))`, [device!.id, days]);
    await position(31);
    await position(2);

    const before = await cartable('retention', 'report');
    expect(before.code).toBe(0);
    expect(before.stdout).toMatch(/positionsDays\s+30 days\s+held\s+2 .* 1 past retention, purged at the next run/);
    expect(before.stdout).toMatch(/commandsDays\s+365 days\s+held\s+0 .* nothing to purge/);

    const run = await cartable('retention', 'run');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('positions 1');
    const [event] = await sql<{ details: { counts: { positions: number } } }>(`select details from audit_events where action = 'retention.purge'`);
    expect(event!.details.counts.positions).toBe(1);

    const after = await cartable('retention', 'report', '--json');
    const report = JSON.parse(after.stdout) as { organisations: { lines: { type: string; held: number; due: number; nextPurgeAt: string | null }[] }[] };
    const positions = report.organisations[0]!.lines.find((l) => l.type === 'positionsDays')!;
    expect(positions).toMatchObject({ held: 1, due: 0 });
    expect(new Date(positions.nextPurgeAt!).getTime()).toBeGreaterThan(Date.now() + 27 * 24 * 3600_000);
  });

  it('writes the register entry in French from the live retention periods, as Markdown or printable HTML', async () => {
    await sql(`update organisations set settings = settings || '{"retention":{"positionsDays":7}}'::jsonb`);
    const md = await cartable('privacy', 'register');
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/^# Gestion de la flotte de tablettes des écoles/);
    expect(md.stdout).toContain("Communauté d'agglomération d'Admirville");
    expect(md.stdout).toContain('| Positions (locate) | 7 jours après réception |');
    expect(md.stdout).toContain('## Mesures de sécurité');

    const file = join(scratch, 'registre.html');
    const html = await cartable('privacy', 'register', '--format', 'html', '--out', file);
    expect(html).toMatchObject({ code: 0, stdout: `register entry written to ${file}\n` });
    const page = readFileSync(file, 'utf8');
    expect(page).toMatch(/^<!doctype html>\n<html lang="fr">/);
    expect(page).toContain('<th scope="row">Positions (locate)</th><td>7 jours après réception</td>');

    const wrong = await cartable('privacy', 'register', '--format', 'pdf');
    expect(wrong.code).toBe(2);
  });

  it('archives audit events past their period, and the archive and the chain both verify', async () => {
    // The server creates the CA at its first start; the purge signs its archives with it.
    const t = await startTestApp(env);
    const [org] = await sql<{ id: string }>('select id from organisations limit 1');
    await writeEvents(t.infra.database.db, org!.id, 3);
    const [head] = await sql<{ seq: string; hash: string }>('select head_seq as seq, head_hash as hash from audit_chains where id = $1', [org!.id]);
    const statement = { chainId: org!.id, organisationId: org!.id, headSeq: Number(head!.seq), headHash: head!.hash, signedAt: new Date(Date.now() - 400 * 24 * 3600_000) };
    await insertCheckpoint(t.infra.database.db, { ...statement, signature: t.services.pki.sign(checkpointPayload(statement)).toString('base64') });
    await t.close();

    const run = await cartable('retention', 'run');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`auditEvents ${head!.seq}`);
    const dir = join(scratch, 'archives');
    const [file] = readdirSync(dir);
    const verified = await cartable('audit', 'archive', 'verify', join(dir, file!));
    expect(verified).toMatchObject({ code: 0, stdout: `archive intact: ${head!.seq} event(s) verified with the key, up to a checkpoint signed by the CA\n` });
    expect((await cartable('audit', 'verify')).code).toBe(0);

    const tampered = join(scratch, 'tampered.json');
    writeFileSync(tampered, gunzipSync(readFileSync(join(dir, file!))).toString('utf8').replace('"test.event"', '"other"'));
    const broken = await cartable('audit', 'archive', 'verify', tampered);
    expect(broken.code).toBe(1);
    expect(broken.stdout).toMatch(/^archive BROKEN: /);
  });
});
