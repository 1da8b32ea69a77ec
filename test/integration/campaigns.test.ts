import { sql } from 'drizzle-orm';
import { createCampaignEngine } from '../../server/modules/campaigns/campaign-engine.service';
import { apps, devices, schools } from '../../server/infra/db/schema';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/**
 * Campaigns through the REST API and the engine, on a clock the test moves: windows in the
 * schools' time zone, excluded dates, waves, caps, retries, pause, resume and cancel. Devices
 * answer by their commands' rows being finished, as an agent's outcome would.
 */
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
let admin: string;
let appId: string;
let clock = new Date('2026-12-07T12:00:00Z'); // a Monday, 13:00 in Paris
const db = () => t.infra.database.db;

async function api(method: 'GET' | 'POST' | 'PUT', url: string, payload?: object) {
  const res = await t.app.inject({ method, url: `/api/v1${url}`, headers: { authorization: `Bearer ${admin}` }, payload });
  return { status: res.statusCode, body: res.json() };
}

const EVENINGS = [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '17:30', end: '07:30', nextDay: true }];

function plan(overrides: Record<string, unknown> = {}) {
  return { name: 'Lecture: retrait', action: 'remove_app', appId, target: {}, startAt: '2026-12-07T00:00:00Z', windows: EVENINGS, perSchoolCap: 2, ...overrides };
}

async function createStarted(overrides: Record<string, unknown> = {}) {
  const created = await api('POST', '/campaigns', plan(overrides));
  expect(created.status).toBe(201);
  const started = await api('POST', `/campaigns/${created.body.id}/start`);
  expect(started.status).toBe(200);
  return created.body.id as string;
}

async function commandsOf(campaignId: string) {
  const { rows } = await db().execute<{ id: string; device_id: string; school_id: string; status: string }>(
    sql`select c.id, c.device_id, d.school_id, c.status from commands c join devices d on d.id = c.device_id where c.campaign_id = ${campaignId}`,
  );
  return rows;
}

/** What a device reports: every open command of the campaign ends with this status. */
async function finish(campaignId: string, status: 'succeeded' | 'failed', errorCode: string | null = null, limit = 1000) {
  await db().execute(sql`
    update commands set status = ${status}, error_code = ${errorCode}, completed_at = now()
    where id in (select id from commands where campaign_id = ${campaignId} and status in ('queued', 'sent') order by id limit ${limit})`);
}

const advance = (id: string) => t.services.campaignEngine.advance(id);

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env, { now: () => clock });
  tree = await createOrgTree(db(), { schools: 3 });
  await db().update(schools).set({ pilot: true }).where(sql`${schools.id} = ${tree.schools[0]!.id}`);
  admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
  const [app] = await db().insert(apps).values({ organisationId: tree.org.id, platform: 'android', kind: 'apk', identifier: 'org.example.lecture', name: 'Lecture' }).returning();
  appId = app!.id;
  for (const school of tree.schools) {
    await db()
      .insert(devices)
      .values(Array.from({ length: 4 }, (_, i) => ({ organisationId: tree.org.id, schoolId: school.id, platform: 'android' as const, name: `Tablette ${i}`, lastSeenAt: new Date() })));
  }
  await db().insert(devices).values({ organisationId: tree.org.id, schoolId: tree.schools[1]!.id, platform: 'ios', name: 'iPad', lastSeenAt: new Date() });
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});
beforeEach(() => {
  clock = new Date('2026-12-07T12:00:00Z');
});

describe('bad input', () => {
  it('refuses every problem with its path and reason, and creates nothing', async () => {
    const before = await db().execute<{ n: number }>(sql`select count(*)::int as n from campaigns`);
    const res = await api(
      'POST',
      '/campaigns',
      plan({
        windows: [
          { days: ['mon'], start: '18:00', end: '08:00' },
          { days: ['tue'], start: '08:00', end: '09:00', nextDay: true },
        ],
        timeZone: 'Europe/Atlantis',
        calendars: [{ ics: 'not a calendar' }],
        deadline: '2026-12-01T00:00:00Z',
        target: { schoolIds: ['00000000-0000-4000-8000-000000000000'], platforms: ['ios'] },
      }),
    );
    expect(res.status).toBe(400);
    const paths = (res.body.errors as { path: string }[]).map((e) => e.path).sort();
    expect(paths).toEqual(['/calendars/0/ics', '/deadline', '/target/platforms/0', '/target/schoolIds/0', '/timeZone', '/windows/0/end', '/windows/1/end']);
    const after = await db().execute<{ n: number }>(sql`select count(*)::int as n from campaigns`);
    expect(after.rows[0]!.n).toBe(before.rows[0]!.n);
  });

  it('refuses thresholds outside 0–100, a cap below 1, an unknown app, a target matching nothing', async () => {
    const schema = await api('POST', '/campaigns', plan({ perSchoolCap: 0, waves: [{ minSuccessPct: 101, maxFailurePct: -1 }] }));
    expect(schema.status).toBe(400);
    expect((schema.body.errors as { path: string }[]).map((e) => e.path)).toEqual(expect.arrayContaining(['/perSchoolCap', '/waves/0/minSuccessPct', '/waves/0/maxFailurePct']));
    const unknownApp = await api('POST', '/campaigns', plan({ appId: '00000000-0000-4000-8000-000000000000' }));
    expect(unknownApp.body.errors).toEqual([{ path: '/appId', message: 'not in the app catalog' }]);
    const nothing = await api('POST', '/campaigns', plan({ target: { tags: ['aucune'] } }));
    expect(nothing.status).toBe(400);
    expect(nothing.body.errors).toEqual([{ path: '/target', message: 'matches no device' }]);
  });
});

describe('windows, excluded dates, waves and caps', () => {
  it('previews, sends nothing outside the window or on an excluded date, then at most the cap per school, pilot wave first', async () => {
    const created = await api('POST', '/campaigns', plan({ excludedDates: [{ from: '2026-12-08', to: '2026-12-08', summary: 'Grève' }], waves: [{ pilot: true, minSuccessPct: 75, maxFailurePct: 25 }, { minSuccessPct: 50, maxFailurePct: 50 }] }));
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    const preview = await api('GET', `/campaigns/${id}/preview`);
    expect(preview.body).toMatchObject({ devices: 12, unreachable: [{ reason: 'app_not_for_platform', platform: 'ios', devices: 1 }] });
    expect(preview.body.byWave.map((w: { devices: number }) => w.devices)).toEqual([4, 8]);
    expect(preview.body.byWave[0].expectedStart).toBe('2026-12-07T16:30:00.000Z');
    await api('POST', `/campaigns/${id}/start`);

    expect(await advance(id)).toMatchObject({ created: 0 }); // 13:00 in Paris: class time
    clock = new Date('2026-12-08T17:00:00Z'); // Tuesday 18:00, but excluded
    expect(await advance(id)).toMatchObject({ created: 0 });
    clock = new Date('2026-12-07T16:45:00Z'); // Monday 17:45: open
    expect(await advance(id)).toMatchObject({ created: 2 });
    const first = await commandsOf(id);
    expect(new Set(first.map((c) => c.school_id))).toEqual(new Set([tree.schools[0]!.id]));
    expect(await advance(id)).toMatchObject({ created: 0 }); // the pilot school's two slots are taken

    await finish(id, 'succeeded');
    await advance(id); // two more pilot devices
    await finish(id, 'succeeded');
    await advance(id); // the pilot wave passes: 4/4
    const progress = await api('GET', `/campaigns/${id}/progress`);
    expect(progress.body.waves.map((w: { status: string }) => w.status)).toEqual(['passed', 'running']);
    const commands = await commandsOf(id);
    const open = commands.filter((c) => c.status === 'queued');
    expect(open).toHaveLength(4); // two in each of the other schools
    expect(new Set(open.map((c) => c.school_id)).size).toBe(2);
  });

  it('fans out to schools side by side, each within its cap, however many advances run at once', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 3, waves: [{ minSuccessPct: 100, maxFailurePct: 100 }] });
    // Chunks of two devices: each school (four Android tablets, three slots) is its own group of
    // chunks, and groups are worked on two at a time.
    const engine = createCampaignEngine({
      db: db(),
      platforms: { wake: async () => undefined, eligibility: () => [] },
      installParams: async () => ({}),
      now: () => clock,
      schedule: async () => undefined,
      emit: async () => undefined,
      chunkSize: 2,
    });
    const perSchool = async () => {
      const counts = new Map<string, number>();
      for (const c of await commandsOf(id)) counts.set(c.school_id, (counts.get(c.school_id) ?? 0) + 1);
      return [...counts.values()];
    };
    const first = await Promise.all([engine.advance(id), engine.advance(id), engine.advance(id)]);
    expect(await perSchool()).toEqual([3, 3, 3]);
    expect(first.reduce((n, r) => n + r.created, 0)).toBeGreaterThanOrEqual(9);
    await finish(id, 'succeeded');
    await Promise.all([engine.advance(id), engine.advance(id)]);
    expect(await perSchool()).toEqual([4, 4, 4]);
    const devicesSent = (await commandsOf(id)).map((c) => c.device_id);
    expect(new Set(devicesSent).size).toBe(12);
  });

  it('stops at the first wave when it fails, and the next wave never starts', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 10, waves: [{ pilot: true, minSuccessPct: 75, maxFailurePct: 25 }, { minSuccessPct: 50, maxFailurePct: 50 }] });
    await advance(id);
    await finish(id, 'failed', 'INVALID_VALUE', 2);
    await advance(id);
    const c = await api('GET', `/campaigns/${id}`);
    expect(c.body.status).toBe('failed');
    expect(c.body.waves.map((w: { status: string }) => w.status)).toEqual(['failed', 'waiting']);
    expect(new Set((await commandsOf(id)).map((x) => x.school_id))).toEqual(new Set([tree.schools[0]!.id]));
    const failures = await api('GET', `/campaigns/${id}/devices?status=failed`);
    expect(failures.body.map((d: { reason: string }) => d.reason)).toEqual(['INVALID_VALUE', 'INVALID_VALUE']);
  });

  it('waits for a person when the wave asks for approval', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 10, waves: [{ pilot: true, minSuccessPct: 50, maxFailurePct: 50, promotion: 'approval' }, { minSuccessPct: 50, maxFailurePct: 50 }] });
    await advance(id);
    await finish(id, 'succeeded');
    await advance(id);
    expect((await api('GET', `/campaigns/${id}`)).body.waves[0].status).toBe('awaiting_approval');
    expect(await advance(id)).toMatchObject({ created: 0 });
    const approved = await api('POST', `/campaigns/${id}/waves/1/approve`);
    expect(approved.status).toBe(200);
    expect(await advance(id)).toMatchObject({ created: 8 });
  });

  it('retries a temporary failure after its backoff, not a final one', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 10, target: { schoolIds: [tree.schools[2]!.id] }, waves: [{ minSuccessPct: 100, maxFailurePct: 100 }], retry: { maxAttempts: 2, backoffSec: 60 } });
    await advance(id);
    await finish(id, 'failed', 'BUSY', 2);
    await finish(id, 'failed', 'INVALID_VALUE', 2);
    await advance(id);
    expect(await advance(id)).toMatchObject({ created: 0 });
    clock = new Date(clock.getTime() + 61_000);
    expect(await advance(id)).toMatchObject({ created: 2 });
    const devices = await api('GET', `/campaigns/${id}/devices`);
    expect(devices.body.map((d: { attempts: number }) => d.attempts).sort()).toEqual([1, 1, 2, 2]);
  });
});

describe('milestones', () => {
  it('records a webhook event at wave promotion and at the end, once each, and shows the counts in the metrics', async () => {
    const hook = await api('POST', '/webhooks', { url: 'https://hooks.example.org/cartable', events: ['campaign.wave_promoted', 'campaign.wave_failed', 'campaign.finished'] });
    expect(hook.status).toBe(201);
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 10, target: { schoolIds: [tree.schools[2]!.id] }, waves: [{ minSuccessPct: 100, maxFailurePct: 0 }] });
    await advance(id);
    await finish(id, 'succeeded');
    await advance(id);
    await advance(id);
    const { rows } = await db().execute<{ event_type: string; body: string }>(sql`select event_type, body from webhook_deliveries where body like ${'%' + id + '%'} order by event_type`);
    expect(rows.map((r) => r.event_type)).toEqual(['campaign.finished', 'campaign.wave_promoted']);
    expect(JSON.parse(rows[0]!.body)).toMatchObject({ type: 'campaign.finished', data: { campaignId: id, status: 'completed', counts: { succeeded: 4 } } });
    const metrics = (await t.ops.inject({ method: 'GET', url: '/metrics' })).body;
    expect(metrics).toContain(`cartable_campaign_devices{campaign="${id}",status="succeeded"} 4`);
    expect(metrics).toMatch(/cartable_campaign_commands_total \d+/);
  });
});

describe('pause, resume, cancel', () => {
  it('holds queued commands while paused, sends again on resume, cancels what is left', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 1, target: { schoolIds: [tree.schools[2]!.id] }, waves: [{ minSuccessPct: 100, maxFailurePct: 100 }] });
    await advance(id);
    const [command] = await commandsOf(id);
    expect((await api('POST', `/campaigns/${id}/pause`)).body.status).toBe('paused');
    const held = await t.services.commandQueue.next(command!.device_id, { newSession: true });
    expect(held.commands.map((c) => c.id)).not.toContain(command!.id);
    expect(await advance(id)).toMatchObject({ created: 0 });
    expect((await api('POST', `/campaigns/${id}/resume`)).body.status).toBe('running');
    const given = await t.services.commandQueue.next(command!.device_id, { newSession: true });
    expect(given.commands.map((c) => c.id)).toContain(command!.id);
    const cancelled = await api('POST', `/campaigns/${id}/cancel`);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', counts: { pending: 0, sent: 0, skipped: 4 } });
    expect((await commandsOf(id)).map((c) => c.status)).toEqual(['cancelled']);
    expect(await advance(id)).toMatchObject({ created: 0, status: 'idle' });
    const again = await api('POST', `/campaigns/${id}/resume`);
    expect(again.body).toMatchObject({ code: 'campaign_state' });
    expect(again.status).toBe(409);
    const { rows } = await db().execute<{ action: string }>(sql`select action from audit_events where target_id = ${id} order by seq`);
    expect(rows.map((r) => r.action)).toEqual(['campaign.create', 'campaign.start', 'campaign.pause', 'campaign.resume', 'campaign.cancel']);
  });

  it('takes in a device that enrolls mid-campaign and matches its target', async () => {
    clock = new Date('2026-12-07T16:45:00Z');
    const id = await createStarted({ perSchoolCap: 10, target: { schoolIds: [tree.schools[2]!.id] }, waves: [{ minSuccessPct: 100, maxFailurePct: 100 }] });
    await advance(id);
    await db().insert(devices).values({ organisationId: tree.org.id, schoolId: tree.schools[2]!.id, platform: 'android', name: 'Nouvelle', lastSeenAt: new Date() });
    expect(await advance(id)).toMatchObject({ created: 1 });
    await db().execute(sql`delete from devices where name = 'Nouvelle'`);
  });
});

describe('revisions', () => {
  it('changes a started campaign’s target only as a new revision, audited with its reason', async () => {
    clock = new Date('2026-12-07T12:00:00Z');
    const id = await createStarted({ target: { schoolIds: [tree.schools[1]!.id] }, waves: [{ minSuccessPct: 90, maxFailurePct: 5 }] });
    const revised = await api('PUT', `/campaigns/${id}/target`, { target: { schoolIds: [tree.schools[2]!.id] }, reason: 'École 2 reportée' });
    expect(revised.body).toEqual({ revision: 2, added: 4, dropped: 4 });
    const c = await api('GET', `/campaigns/${id}`);
    expect(c.body).toMatchObject({ revision: 2, target: { schoolIds: [tree.schools[2]!.id] }, counts: { pending: 4 } });
    const { rows } = await db().execute<{ action: string }>(sql`select action from audit_events where target_id = ${id} order by seq`);
    expect(rows.map((r) => r.action)).toEqual(['campaign.create', 'campaign.start', 'campaign.revise']);
  });
});

describe('automatic updates', () => {
  it('starts a campaign from the template when a new version of a switched-on app is uploaded, to the tablets that have it', async () => {
    const template = await api('PUT', '/campaign-template', { windows: EVENINGS, perSchoolCap: 5, waves: [{ minSuccessPct: 90, maxFailurePct: 5 }], autoUpdateAppIds: [appId] });
    expect(template.status).toBe(200);
    const badTemplate = await api('PUT', '/campaign-template', { windows: [{ days: ['mon'], start: '09:00', end: '08:00' }], perSchoolCap: 5, autoUpdateAppIds: ['00000000-0000-4000-8000-000000000000'] });
    expect(badTemplate.body.errors.map((e: { path: string }) => e.path)).toEqual(['/windows/0/end', '/autoUpdateAppIds/0']);
    const { rows: having } = await db().execute<{ id: string }>(sql`select id from devices where platform = 'android' order by id limit 2`);
    for (const d of having) await db().execute(sql`insert into device_apps (device_id, identifier, version) values (${d.id}, 'org.example.lecture', '1.0')`);

    const apk = await buildApk({ packageName: 'org.example.lecture', versionCode: 2, signer: makeSigner('Cartable test'), label: 'Lecture' });
    const upload = await t.app.inject({ method: 'POST', url: '/api/v1/apps/packages', headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/vnd.android.package-archive' }, payload: apk });
    expect(upload.statusCode).toBe(201);
    const list = await api('GET', '/campaigns');
    const automatic = list.body.find((c: { origin: string }) => c.origin === 'automatic');
    expect(automatic).toMatchObject({ action: 'install_app', status: 'running' });
    const progress = await api('GET', `/campaigns/${automatic.id}/progress`);
    expect(progress.body.counts.pending).toBe(2);
  });
});
