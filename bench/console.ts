/**
 * `npm run bench -- console [--devices 100000] [--per-school 500] [--samples 200]`
 *
 * One Cartable server process (api role) over a database seeded with `--devices` tablets in
 * schools of `--per-school` each. A signed-in administrator then asks, one request at a time,
 * for the console's dashboard, one school's inventory page showing all of its tablets, and one
 * device page; then for the REST calls that return the same data (the fleet summary, the list
 * of that school's devices, the device with its apps and command history: `api_p95_ms` is the
 * 95th percentile of all of them together). Each answer's Server-Timing header gives the time
 * the server spent on it; the bench prints 95th percentiles, in milliseconds. The fleet's
 * figures are reused for a few seconds per scope; one more measure shows what counting the
 * whole fleet for every request costs.
 */
import { Client } from 'pg';
import { hashPassword } from '../server/modules/access/credentials';
import { flag, openBenchWorld, percentile } from './harness';

const PASSWORD = 'bench password for the console';

const p95 = (samples: number[]) => percentile(samples, 0.95);

/** Seeds schools, devices (with a spread of models, versions, batteries and last contacts), apps and commands. */
async function seed(db: Client, total: number, perSchool: number): Promise<{ schoolId: string; deviceId: string; orgId: string }> {
  const { rows: [org] } = await db.query<{ id: string; commune: string }>(`select o.id, c.id as commune from organisations o join communes c on c.organisation_id = o.id where o.slug = 'bench'`);
  const schoolCount = Math.ceil(total / perSchool);
  await db.query(
    `insert into schools (organisation_id, commune_id, code, name)
     select $1, $2, lpad(i::text, 7, '0') || 'B', 'École ' || i from generate_series(1, $3) as i`,
    [org!.id, org!.commune, schoolCount],
  );
  await db.query(
    `insert into devices (organisation_id, school_id, platform, name, serial, manufacturer, model, os_version, agent_version, battery_level, storage_total_bytes, storage_free_bytes, lost_mode, last_seen_at, management_mode)
     select s.organisation_id, s.id, 'android',
            (array['SM-X210','SM-T220','TB-X606F','23073RPBFG'])[1 + n % 4] || ' R9' || lpad((s.rn * $2 + n)::text, 8, '0'),
            'R9' || lpad((s.rn * $2 + n)::text, 8, '0'),
            (array['samsung','samsung','LENOVO','Xiaomi'])[1 + n % 4],
            (array['SM-X210','SM-T220','TB-X606F','23073RPBFG'])[1 + n % 4],
            (array['14','13','11','14'])[1 + n % 4], '1.0.0', (n * 37) % 100, 64000000000, (n * 7919) % 64000000000,
            n % 997 = 0, now() - make_interval(secs => (n * 613) % (40 * 86400)), 'device_owner'
     from (select id, organisation_id, row_number() over (order by code) - 1 as rn from schools where code like '%B') s,
          generate_series(1, $2) as n
     where s.rn * $2 + n <= $1`,
    [total, perSchool],
  );
  const { rows: [school] } = await db.query<{ id: string }>(`select id from schools where code = '0000001B'`);
  const { rows: [device] } = await db.query<{ id: string }>(`select id from devices where school_id = $1 order by name limit 1`, [school!.id]);
  await db.query(
    `insert into device_apps (device_id, identifier, name, version, version_code, installer, system)
     select $1, 'org.example.app' || i, 'App ' || i, '1.' || i, i, 'com.android.vending', i % 3 = 0 from generate_series(1, 40) as i`,
    [device!.id],
  );
  // Twenty commands in the device's history, and one pending command on a tablet in fifty.
  await db.query(
    `insert into commands (organisation_id, device_id, kind, status, origin, expires_at, created_at, completed_at)
     select $1, $2, 'lock', 'succeeded', 'technician', now() + interval '1 hour', now() - make_interval(mins => i), now() - make_interval(mins => i) from generate_series(1, 20) as i`,
    [org!.id, device!.id],
  );
  await db.query(
    `insert into commands (organisation_id, device_id, kind, status, origin, expires_at)
     select organisation_id, id, 'refresh_inventory', 'queued', 'system', now() + interval '1 day' from devices where (hashtext(id::text) % 50) = 0`,
  );
  const hash = await hashPassword(PASSWORD);
  const { rows: [user] } = await db.query<{ id: string }>(`insert into users (organisation_id, email, display_name, password_hash) values ($1, 'admin@bench.local', 'Bench', $2) returning id`, [org!.id, hash]);
  await db.query(`insert into role_assignments (organisation_id, user_id, role, scope_type) values ($1, $2, 'admin', 'organisation')`, [org!.id, user!.id]);
  await db.query('analyze');
  return { schoolId: school!.id, deviceId: device!.id, orgId: org!.id };
}

export async function main(args: string[]): Promise<void> {
  const total = flag(args, 'devices', 100_000);
  const perSchool = flag(args, 'per-school', 500);
  const samples = flag(args, 'samples', 200);
  const world = await openBenchWorld('console', 'api');
  try {
    const db = new Client({ connectionString: world.databaseUrl });
    await db.connect();
    const started = Date.now();
    const { schoolId, deviceId } = await seed(db, total, perSchool);
    const { rows: [count] } = await db.query<{ n: number }>(`select count(*)::int as n from devices`);
    await db.end();
    console.log(JSON.stringify({ phase: 'seeded', devices: count!.n, seconds: (Date.now() - started) / 1000 }));

    const login = await fetch(`${world.url}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email: 'admin@bench.local', password: PASSWORD }) });
    if (login.status !== 200) throw new Error(`sign-in refused: ${login.status} ${await login.text()}`);
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');

    /** Server time of `samples` sequential requests (after a warm-up), from the Server-Timing header. */
    async function measure(name: string, path: string | ((i: number) => string), expectText?: string): Promise<number[]> {
      const times: number[] = [];
      for (let i = 0; i < samples + 10; i++) {
        const res = await fetch(`${world.url}${typeof path === 'string' ? path : path(i)}`, { headers: { cookie, 'accept-language': 'fr' } });
        const body = await res.text();
        if (res.status !== 200) throw new Error(`${name}: ${res.status} ${body.slice(0, 300)}`);
        if (i === 0 && expectText && !body.includes(expectText)) throw new Error(`${name}: the answer lacks "${expectText}"`);
        const timing = /dur=([\d.]+)/.exec(res.headers.get('server-timing') ?? '');
        if (i >= 10) times.push(Number(timing?.[1]));
      }
      console.log(JSON.stringify({ measure: name, path: typeof path === 'string' ? path : path(0), p50_ms: percentile(times, 0.5), p95_ms: p95(times), max_ms: Math.max(...times) }));
      return times;
    }

    const dashboard = await measure('console dashboard', '/console/dashboard', 'tablettes en service');
    const inventory = await measure('console school inventory, one page of all its tablets', `/console/schools/${schoolId}?perPage=500`, `${perSchool} tablettes`);
    const device = await measure('console device page', `/console/devices/${deviceId}`, 'Historique des commandes');
    const api = [
      ...(await measure('REST fleet summary', '/api/v1/devices/summary')),
      ...(await measure('REST school inventory', `/api/v1/devices?schoolId=${schoolId}&limit=500`)),
      ...(await measure('REST device', `/api/v1/devices/${deviceId}`)),
      ...(await measure('REST device apps', `/api/v1/devices/${deviceId}/apps`)),
      ...(await measure('REST device command history', `/api/v1/devices/${deviceId}/commands?limit=20`)),
    ];
    // The fleet's figures are reused for a few seconds per scope (FLEET_SUMMARY_TTL_MS): a
    // different period each time makes every request count the whole fleet again.
    await measure('REST fleet summary, counted again for each request', (i) => `/api/v1/devices/summary?silentDays=${i + 1}`);
    const f = (n: number) => n.toFixed(1);
    console.log(`devices=${count!.n} dashboard_p95_ms=${f(p95(dashboard))} inventory_p95_ms=${f(p95(inventory))} device_p95_ms=${f(p95(device))} api_p95_ms=${f(p95(api))}`);
  } finally {
    await world.close();
  }
}
