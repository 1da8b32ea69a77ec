/**
 * `npm run bench -- fanout [--devices 10000] [--per-school 500]`
 *
 * One Cartable server process (api + worker) over a database seeded with `--devices` Android
 * tablets in schools of `--per-school` each. A campaign targeting all of them is created and
 * started through the API with a window that opens at the next whole minute far enough
 * away (its cap lets a whole school install at once). `fanout_s` runs from the window's opening
 * to the moment every command row exists, read from the database; Redis memory is sampled
 * meanwhile (`redis_mb` is its peak growth). The same run then times a bare bulk INSERT of the
 * same rows (one statement, no campaign) for the ratio.
 */
import { Redis } from 'ioredis';
import { Client } from 'pg';
import { localTime } from '../server/modules/campaigns/campaign-calendar';
import { flag, openBenchWorld, sleep } from './harness';

const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';

async function seed(db: Client, schoolId: string, total: number, perSchool: number): Promise<void> {
  const { rows: [place] } = await db.query<{ org: string; commune: string }>(`select organisation_id as org, commune_id as commune from schools where id = $1`, [schoolId]);
  await db.query(
    `insert into schools (organisation_id, commune_id, code, name)
     select $1, $2, lpad(i::text, 7, '0') || 'F', 'École ' || i from generate_series(1, $3) as i`,
    [place!.org, place!.commune, Math.ceil(total / perSchool)],
  );
  await db.query(
    `insert into devices (organisation_id, school_id, platform, name, serial, last_seen_at)
     select s.organisation_id, s.id, 'android', 'Tablette ' || (s.rn * $2 + n), 'F9' || lpad((s.rn * $2 + n)::text, 8, '0'), now()
     from (select id, organisation_id, row_number() over (order by code) - 1 as rn from schools where code like '%F') s,
          generate_series(1, $2) as n
     where s.rn * $2 + n <= $1`,
    [total, perSchool],
  );
  await db.query(`insert into apps (organisation_id, platform, kind, identifier, name) values ($1, 'android', 'apk', 'org.example.fanout', 'Fanout')`, [place!.org]);
  await db.query('analyze');
}

const usedMb = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info('memory'))?.[1] ?? NaN) / 1024 / 1024;

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'devices', 10_000);
  const perSchool = flag(args, 'per-school', 500);
  const world = await openBenchWorld('fanout', 'api,worker', { adminToken: true });
  const db = new Client({ connectionString: world.databaseUrl });
  const redis = new Redis(REDIS_URL);
  try {
    await db.connect();
    await seed(db, world.schoolId, total, perSchool);
    const { rows: [app] } = await db.query<{ id: string }>(`select id from apps where identifier = 'org.example.fanout'`);
    const api = async (method: string, path: string, body?: unknown) => {
      const res = await fetch(`${world.url}/api/v1${path}`, { method, headers: { authorization: `Bearer ${world.bearer}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, body: body === undefined ? undefined : JSON.stringify(body) });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };

    // Closed now; opens at a whole minute far enough ahead for creation (its target set) and start to be done.
    const opening = new Date(Math.ceil((Date.now() + 20_000 + total * 0.5) / 60_000) * 60_000);
    const local = localTime(opening, 'Europe/Paris');
    const hhmm = `${String(Math.floor(local.minutes / 60)).padStart(2, '0')}:${String(local.minutes % 60).padStart(2, '0')}`;
    const t0 = Date.now();
    const created = await api('POST', '/campaigns', {
      name: 'Fan-out',
      action: 'remove_app',
      appId: app!.id,
      target: {},
      startAt: new Date().toISOString(),
      windows: [{ days: [local.weekday], start: hhmm, end: hhmm, nextDay: true }],
      perSchoolCap: perSchool,
      waves: [{ minSuccessPct: 100, maxFailurePct: 100 }],
    });
    const createdMs = Date.now() - t0;
    const id = created.id as string;
    await api('POST', `/campaigns/${id}/start`);
    if (Date.now() > opening.getTime() - 2000) throw new Error('campaign creation took too long for the window chosen');

    // The fan-out serves a school's devices in device-id order, each school whole (its cap is its
    // size), in one statement: a school is done when the command of its last device exists. So the
    // probe is one primary-key lookup per school, every 10 ms, not a scan competing with the
    // fan-out for the two cores; the count below then checks that every row is there.
    const { rows: lastOfSchool } = await db.query<{ id: string }>(
      `select md5($1::text || ':' || max(device_id::text) || ':1')::uuid as id from campaign_targets where campaign_id = $1::uuid group by school_id`,
      [id],
    );
    const lastIds = lastOfSchool.map((r) => r.id);
    await sleep(Math.max(0, opening.getTime() - Date.now() - 1000));
    const redisBefore = await usedMb(redis);
    let redisPeak = redisBefore;
    let doneAt = 0;
    for (const stop = opening.getTime() + 120_000; Date.now() < stop; await sleep(10)) {
      redisPeak = Math.max(redisPeak, await usedMb(redis));
      if (Date.now() < opening.getTime()) continue;
      const { rows: [r] } = await db.query<{ n: number }>(`select count(*)::int as n from commands where id = any($1::uuid[])`, [lastIds]);
      if (r!.n === lastIds.length) {
        doneAt = Date.now();
        break;
      }
    }
    const { rows: [counted] } = await db.query<{ n: number }>(`select count(*)::int as n from commands where campaign_id = $1`, [id]);
    const count = counted!.n;
    if (count !== total) throw new Error(`expected ${total} commands, found ${count}`);
    const { rows: [early] } = await db.query<{ n: number }>(`select count(*)::int as n from commands where campaign_id = $1 and created_at < $2`, [id, opening]);
    if (early!.n > 0) throw new Error(`${early!.n} commands created before the window opened`);
    const fanoutS = (doneAt - opening.getTime()) / 1000;
    const { rows: [span] } = await db.query<{ first: Date; last: Date }>(`select min(created_at) as first, max(created_at) as last from commands where campaign_id = $1`, [id]);

    // The baseline: the same rows in one bare INSERT, then removed.
    const b0 = Date.now();
    await db.query(
      `insert into commands (id, organisation_id, device_id, kind, params, origin, campaign_id, expires_at)
       select md5('bare:' || d.id::text)::uuid, d.organisation_id, d.id, 'remove_app', '{"packageName":"org.example.fanout"}'::jsonb, 'campaign', null, now() + interval '7 days'
       from devices d where d.serial like 'F9%'`,
    );
    const bareS = (Date.now() - b0) / 1000;
    await db.query(`delete from commands where campaign_id is null and origin = 'campaign'`);

    const redisMb = Math.max(0, redisPeak - redisBefore);
    console.log(JSON.stringify({ phase: 'fanout', devices: total, schools: Math.ceil(total / perSchool), created_ms: createdMs, first_row_s: (span!.first.getTime() - opening.getTime()) / 1000, last_row_s: (span!.last.getTime() - opening.getTime()) / 1000, fanout_s: fanoutS, bare_insert_s: bareS, redis_before_mb: Math.round(redisBefore), redis_growth_mb: Number(redisMb.toFixed(1)) }));
    console.log(`devices=${total} fanout_s=${fanoutS.toFixed(2)} bare_insert_s=${bareS.toFixed(2)} ratio=${(fanoutS / bareS).toFixed(2)} redis_mb=${redisMb.toFixed(1)}`);
  } finally {
    redis.disconnect();
    await db.end().catch(() => undefined);
    await world.close();
  }
}
