/**
 * `npm run bench -- assign [--devices 10000] [--per-school 500]`
 *
 * One Cartable server process (api + worker) over a database seeded with `--devices` Android
 * tablets in schools of `--per-school` each, all in one commune. One profile template is then
 * assigned to that commune through the API, and the time is measured from the call until the
 * rollout is done, that is until every device's effective set is computed and every
 * `apply_policy` command is stored (read from the database). The server's resident memory is
 * sampled meanwhile: `rss_mb` is its peak, `rss_before_mb` what it held just before.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { flag, openBenchWorld, sleep } from './harness';

function rssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function seed(db: Client, schoolId: string, total: number, perSchool: number): Promise<string> {
  const { rows: [place] } = await db.query<{ org: string; commune: string }>(`select organisation_id as org, commune_id as commune from schools where id = $1`, [schoolId]);
  const schoolCount = Math.ceil(total / perSchool);
  await db.query(
    `insert into schools (organisation_id, commune_id, code, name)
     select $1, $2, lpad(i::text, 7, '0') || 'P', 'École ' || i from generate_series(1, $3) as i`,
    [place!.org, place!.commune, schoolCount],
  );
  await db.query(
    `insert into devices (organisation_id, school_id, platform, name, serial, model, os_version, agent_version, management_mode)
     select s.organisation_id, s.id, 'android', 'Tablette ' || (s.rn * $2 + n), 'R9' || lpad((s.rn * $2 + n)::text, 8, '0'), 'SM-X210', '14', '1.1.0', 'device_owner'
     from (select id, organisation_id, row_number() over (order by code) - 1 as rn from schools where code like '%P') s,
          generate_series(1, $2) as n
     where s.rn * $2 + n <= $1`,
    [total, perSchool],
  );
  await db.query('analyze');
  return place!.commune;
}

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'devices', 10_000);
  const perSchool = flag(args, 'per-school', 500);
  const world = await openBenchWorld('assign', 'api,worker', { adminToken: true });
  const db = new Client({ connectionString: world.databaseUrl });
  try {
    await db.connect();
    const communeId = await seed(db, world.schoolId, total, perSchool);
    const api = (method: string, path: string, body: unknown) =>
      fetch(`${world.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${world.bearer}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const template = JSON.parse(readFileSync(join(__dirname, '..', 'profiles', 'restrictions-eleves.json'), 'utf8')) as unknown;
    const created = await api('POST', '/profiles', template);
    if (created.status !== 201) throw new Error(`profile refused: ${created.status} ${await created.text()}`);
    const profileId = ((await created.json()) as { profile: { id: string } }).profile.id;
    await sleep(1000);

    const pid = world.server.proc.pid!;
    const before = rssMb(pid);
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssMb(pid))), 50);
    const t0 = Date.now();
    const res = await api('POST', `/profiles/${profileId}/assignments`, { scopeType: 'commune', scopeId: communeId });
    const answer = (await res.json()) as { rollout: { id: string; state: string } };
    if (res.status !== 201) throw new Error(`assignment refused: ${res.status} ${JSON.stringify(answer)}`);
    const answeredMs = Date.now() - t0;
    let stored = 0;
    for (const deadline = t0 + 300_000; Date.now() < deadline; await sleep(20)) {
      const { rows: [r] } = await db.query<{ status: string; commands: number }>(`select status, commands from profile_rollouts where id = $1`, [answer.rollout.id]);
      stored = r!.commands;
      if (r!.status === 'done') break;
    }
    const assignS = (Date.now() - t0) / 1000;
    clearInterval(sampler);
    peak = Math.max(peak, rssMb(pid));
    const { rows: [count] } = await db.query<{ n: number }>(`select count(*)::int as n from commands where batch_id = $1 and kind = 'apply_policy'`, [answer.rollout.id]);
    console.log(JSON.stringify({ phase: 'assign', devices: total, commands: count!.n, stored, answered_ms: answeredMs, assign_s: assignS, rss_before_mb: Math.round(before), rss_peak_mb: Math.round(peak) }));
    if (count!.n !== total) throw new Error(`expected ${total} commands, found ${count!.n}`);
    console.log(`devices=${total} assign_s=${assignS.toFixed(2)} rss_mb=${Math.round(peak)}`);
  } finally {
    await db.end().catch(() => undefined);
    await world.close();
  }
}
