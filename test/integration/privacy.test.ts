import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { and, eq, sql } from 'drizzle-orm';
import yauzl from 'yauzl';
import { auditEvents, commands, deviceApps, deviceEvents, deviceLocations, devices } from '../../server/infra/db/schema';
import { startWorkers, type WorkerSet } from '../../server/infra/queues/registry';
import { jobHandlers } from '../../server/jobs';
import { createHash } from 'node:crypto';
import { canonicalJson, checkpointPayload } from '../../server/modules/audit/audit.mac';
import { archivePayload, verifyArchive } from '../../server/modules/audit/audit-archive.service';
import { insertCheckpoint } from '../../server/modules/audit/audit.repository';
import { createPrincipalToken } from '../helpers/auth';
import { writeEvents } from '../helpers/audit-chain';
import { createOrgTree } from '../helpers/fixtures';
import { settled } from '../helpers/jobs';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
let env: TestEnv;
let t: TestApp;
let workers: WorkerSet;
const archiveDir = mkdtempSync(join(tmpdir(), 'cartable-archives-'));
const db = () => t.infra.database.db;
const ago = (ms: number) => new Date(Date.now() - ms);

beforeAll(async () => {
  env = await createTestEnv({ AUDIT_ARCHIVE_DIR: archiveDir, RETENTION_CHUNK_ROWS: '10' });
  t = await startTestApp(env);
  workers = startWorkers(jobHandlers(t.services), { connection: t.infra.queueConnection, prefix: env.config.REDIS_PREFIX, log: t.infra.log });
});
afterAll(async () => {
  await workers.close();
  await t.close();
  await env.cleanup();
});

async function newDevice(org: string, school: string, values: Partial<typeof devices.$inferInsert> = {}) {
  const [d] = await db().insert(devices).values({ organisationId: org, schoolId: school, platform: 'android', name: 'Tablette', ...values }).returning();
  return d!;
}
const fix = (deviceId: string, receivedAt: Date, source: 'locate' | 'lost_mode' = 'locate') =>
  ({ deviceId, lat: 45.76, lon: 4.83, accuracyM: 10, provider: 'gps', fixTime: receivedAt, receivedAt, source }) as const;
/** The entries of a ZIP, read back with yauzl. */
function unzip(buffer: Buffer): Promise<Record<string, string>> {
  return new Promise((resolve, reject) =>
    yauzl.fromBuffer(buffer, { lazyEntries: true }, (error, zip) => {
      if (error) return reject(error);
      const files: Record<string, string> = {};
      zip.on('entry', (entry: yauzl.Entry) =>
        zip.openReadStream(entry, (e, stream) => {
          if (e) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            files[entry.fileName] = Buffer.concat(chunks).toString('utf8');
            zip.readEntry();
          });
        }),
      );
      zip.on('end', () => resolve(files));
      zip.on('error', reject);
      zip.readEntry();
    }),
  );
}
const positionsOf = async (deviceId: string) => (await db().select({ at: deviceLocations.receivedAt }).from(deviceLocations).where(eq(deviceLocations.deviceId, deviceId))).length;

describe('the privacy.retention job', () => {
  it('is declared as a nightly repeatable job of the worker', async () => {
    await t.infra.queues.ensureSchedules();
    const maintenance = t.infra.queues.queue('maintenance');
    const scheduler = (await maintenance.getJobSchedulers()).find((s) => s.key === 'privacy.retention');
    expect(scheduler).toMatchObject({ pattern: '30 2 * * *', tz: 'Europe/Paris' });
    expect(new Date(scheduler!.next!).getTime()).toBeGreaterThan(Date.now());
    for (const key of ['privacy.retention', 'audit.checkpoint', 'commands.reconcile']) await maintenance.removeJobScheduler(key);
    await maintenance.drain(true);
    // The other schedulers run their jobs at once when declared: let those end before the next test writes its rows.
    while ((await maintenance.getActiveCount()) > 0) await new Promise((r) => setTimeout(r, 50));
  });

  it('purges exactly what is past its period, type by type, and records the counts in the audit trail', async () => {
    const { org, schools } = await createOrgTree(db());
    const other = await createOrgTree(db());
    const school = schools[0]!.id;
    const located = await newDevice(org.id, school);
    const inLostMode = await newDevice(org.id, school, { lostMode: true });
    const foundLongAgo = await newDevice(org.id, school);
    const foundRecently = await newDevice(org.id, school);
    const retired = await newDevice(org.id, school, { status: 'retired', serial: 'SN-RET', facts: { hardware: { ram: 2 } } });
    const retiredRecently = await newDevice(org.id, school, { status: 'wiped', wipedAt: ago(10 * DAY), serial: 'SN-WIP' });
    const elsewhere = await newDevice(other.org.id, other.schools[0]!.id);

    await db().insert(deviceLocations).values([
      fix(located.id, ago(29 * DAY + 23 * HOUR)),
      fix(located.id, ago(30 * DAY + HOUR)),
      fix(inLostMode.id, ago(200 * DAY), 'lost_mode'),
      fix(foundLongAgo.id, ago(40 * DAY), 'lost_mode'),
      fix(foundRecently.id, ago(40 * DAY), 'lost_mode'),
      fix(elsewhere.id, ago(20 * DAY)),
    ]);
    const off = (deviceId: string, completedAt: Date) => ({ organisationId: org.id, deviceId, kind: 'lost_mode_off' as const, origin: 'technician' as const, status: 'succeeded' as const, expiresAt: completedAt, completedAt, createdAt: completedAt });
    await db().insert(commands).values([
      off(foundLongAgo.id, ago(30 * DAY + HOUR)),
      off(foundRecently.id, ago(29 * DAY + 23 * HOUR)),
      { organisationId: org.id, deviceId: located.id, kind: 'reboot', origin: 'technician', status: 'succeeded', expiresAt: ago(366 * DAY), completedAt: ago(365 * DAY + HOUR), result: { ok: true } },
      { organisationId: org.id, deviceId: located.id, kind: 'reboot', origin: 'technician', status: 'succeeded', expiresAt: ago(364 * DAY), completedAt: ago(364 * DAY + 23 * HOUR) },
      { organisationId: org.id, deviceId: located.id, kind: 'reboot', origin: 'technician', status: 'queued', expiresAt: ago(400 * DAY), createdAt: ago(400 * DAY) },
    ]);
    // More old events than one chunk: the purge goes through several bounded statements.
    await db().insert(deviceEvents).values([
      ...Array.from({ length: 25 }, (_, i) => ({ deviceId: located.id, kind: 'boot', at: ago(181 * DAY), receivedAt: ago(180 * DAY + HOUR + i) })),
      { deviceId: located.id, kind: 'boot', at: ago(179 * DAY), receivedAt: ago(179 * DAY + 23 * HOUR) },
      { deviceId: elsewhere.id, kind: 'boot', at: ago(100 * DAY), receivedAt: ago(100 * DAY) },
    ]);
    await db().insert(deviceApps).values({ deviceId: retired.id, identifier: 'fr.ecole.lecture', name: 'Lecture' });
    await db().execute(sql`update devices set updated_at = ${ago(365 * DAY + HOUR)} where id = ${retired.id}`);

    const job = await settled(t, await t.infra.queues.add('privacy.retention', {}), 60_000);
    expect(job.failedReason).toBeFalsy();
    const counts = { positions: 1, lostModePositions: 1, commands: 1, deviceEvents: 25, retiredDevices: 1, auditEvents: 0 };
    expect(job.returnvalue[org.id]).toEqual(counts);

    expect(await positionsOf(located.id)).toBe(1);
    expect(await positionsOf(inLostMode.id)).toBe(1);
    expect(await positionsOf(foundLongAgo.id)).toBe(0);
    expect(await positionsOf(foundRecently.id)).toBe(1);
    expect(await positionsOf(elsewhere.id)).toBe(1);
    const left = await db().select({ status: commands.status, kind: commands.kind }).from(commands).where(eq(commands.deviceId, located.id));
    expect(left.map((c) => c.status).sort()).toEqual(['queued', 'succeeded']);
    expect((await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, located.id))).length).toBe(1);
    expect((await db().select().from(deviceEvents).where(eq(deviceEvents.deviceId, elsewhere.id))).length).toBe(1);
    const [erased] = await db().select().from(devices).where(eq(devices.id, retired.id));
    expect(erased).toMatchObject({ serial: null, name: `effacée ${retired.id.slice(0, 8)}` });
    expect(Object.keys(erased!.facts)).toEqual(['erasedAt']);
    expect(await db().select().from(deviceApps).where(eq(deviceApps.deviceId, retired.id))).toEqual([]);
    const [kept] = await db().select().from(devices).where(eq(devices.id, retiredRecently.id));
    expect(kept!.serial).toBe('SN-WIP');

    const [event] = await db().select().from(auditEvents).where(and(eq(auditEvents.organisationId, org.id), eq(auditEvents.action, 'retention.purge')));
    expect(event).toMatchObject({ actorType: 'system', outcome: 'success' });
    expect(event!.details).toMatchObject({ counts, periods: { positionsDays: 30, commandsDays: 365 } });

    // Idempotent: a second run finds nothing more, and says so.
    const again = await settled(t, await t.infra.queues.add('privacy.retention', {}), 60_000);
    expect(again.returnvalue[org.id]).toEqual({ positions: 0, lostModePositions: 0, commands: 0, deviceEvents: 0, retiredDevices: 0, auditEvents: 0 });
  });

  it('archives old audit events with their signed anchor, deletes them, and the chain still verifies', async () => {
    const { org } = await createOrgTree(db());
    await writeEvents(db(), org.id, 5);
    const head = (await t.services.auditChain.verify({ organisationIds: [org.id] })).chains[0]!;
    const [last] = await db().select().from(auditEvents).where(and(eq(auditEvents.organisationId, org.id), eq(auditEvents.seq, head.lastSeq!)));
    // A checkpoint signed 400 days ago vouches for the five events: all of them are past a year.
    const statement = { chainId: org.id, organisationId: org.id, headSeq: head.lastSeq!, headHash: last!.hash, signedAt: ago(400 * DAY) };
    await insertCheckpoint(db(), { ...statement, signature: t.services.pki.sign(checkpointPayload(statement)).toString('base64') });
    await writeEvents(db(), org.id, 2);

    const counts = (await t.services.retention.run())[org.id]!;
    expect(counts.auditEvents).toBe(head.lastSeq);
    const report = (await t.services.auditChain.verify({ organisationIds: [org.id] })).chains[0]!;
    expect(report).toMatchObject({ intact: true, firstSeq: head.lastSeq! + 1 });

    const file = readdirSync(archiveDir).find((f) => f.startsWith(`audit-${org.id}-`))!;
    const signed = JSON.parse(gunzipSync(readFileSync(join(archiveDir, file))).toString('utf8')) as { archive: { events: { seq: number; hash: string }[]; anchor: { headSeq: number } }; sha256: string; signature: string };
    expect(signed.archive.events.map((e) => e.seq)).toEqual(Array.from({ length: head.lastSeq! }, (_, i) => i + 1));
    expect(signed.archive.events.at(-1)!.hash).toBe(last!.hash);
    expect(t.services.pki.verifySignature(archivePayload(signed.sha256), Buffer.from(signed.signature, 'base64'))).toBe(true);
    const [purge] = await db().select().from(auditEvents).where(and(eq(auditEvents.organisationId, org.id), eq(auditEvents.action, 'audit.purge')));
    expect(purge!.details).toMatchObject({ throughSeq: head.lastSeq, throughHash: last!.hash, archive: file });

    // The archive verifies on its own with the key and the CA; a change to an event does not.
    const text = gunzipSync(readFileSync(join(archiveDir, file))).toString('utf8');
    expect(verifyArchive(text, t.infra.secrets.auditKey, t.services.pki)).toEqual({ events: head.lastSeq, problem: null });
    expect(verifyArchive(text.replace('"test.event"', '"forged"'), t.infra.secrets.auditKey, t.services.pki).problem).toBe('the content does not match its digest (the archive was modified)');
    // Even re-digested and re-signed (by someone holding the CA key), an edited event fails its keyed MAC.
    const forged = JSON.parse(text) as { archive: { events: { action: string }[] } };
    forged.archive.events[1]!.action = 'forged';
    const sha256 = createHash('sha256').update(canonicalJson(forged.archive)).digest('hex');
    const resigned = JSON.stringify({ archive: forged.archive, sha256, signature: t.services.pki.sign(archivePayload(sha256)).toString('base64') });
    expect(verifyArchive(resigned, t.infra.secrets.auditKey, t.services.pki)).toEqual({ events: 1, problem: 'seq 2: the content does not match its keyed MAC' });

    // A second purge starts where the first ended: its archive carries the previous anchor and verifies too.
    const now = (await t.services.auditChain.verify({ organisationIds: [org.id] })).chains[0]!;
    const [newest] = await db().select().from(auditEvents).where(and(eq(auditEvents.organisationId, org.id), eq(auditEvents.seq, now.lastSeq!)));
    const second = { chainId: org.id, organisationId: org.id, headSeq: now.lastSeq!, headHash: newest!.hash, signedAt: ago(370 * DAY) };
    await insertCheckpoint(db(), { ...second, signature: t.services.pki.sign(checkpointPayload(second)).toString('base64') });
    await t.services.retention.run();
    expect((await t.services.auditChain.verify({ organisationIds: [org.id] })).chains[0]).toMatchObject({ intact: true, firstSeq: now.lastSeq! + 1 });
    const next = readdirSync(archiveDir).filter((f) => f.startsWith(`audit-${org.id}-`)).sort()[1]!;
    const result = verifyArchive(gunzipSync(readFileSync(join(archiveDir, next))).toString('utf8'), t.infra.secrets.auditKey, t.services.pki);
    expect(result).toEqual({ events: now.lastSeq! - head.lastSeq!, problem: null });
  });
});

describe('retention settings', () => {
  it('refuses a period out of its bounds with the field path, and audits a change', async () => {
    const { org } = await createOrgTree(db());
    const admin = await createPrincipalToken(t.services, { organisationId: org.id, role: 'admin', scopeType: 'organisation' });
    const patch = (payload: object) => t.app.inject({ method: 'PATCH', url: '/api/v1/organisation/settings/retention', payload, headers: { authorization: `Bearer ${admin}` } });
    const refused = await patch({ positionsDays: 31 });
    expect(refused.statusCode).toBe(400);
    expect(refused.json().errors[0].path).toBe('/positionsDays');
    const ok = await patch({ positionsDays: 7, auditEventsDays: 200 });
    expect(ok.statusCode).toBe(200);
    expect(ok.json()).toMatchObject({ positionsDays: 7, auditEventsDays: 200, commandsDays: 365 });
    const [event] = await db().select().from(auditEvents).where(and(eq(auditEvents.organisationId, org.id), eq(auditEvents.action, 'organisation.retention.update')));
    expect(event!.details).toMatchObject({ after: { positionsDays: 7 } });
  });
});

describe('device export and erasure', () => {
  async function world() {
    const tree = await createOrgTree(db());
    const [a, b] = tree.schools.map((s) => s.id);
    const device = await newDevice(tree.org.id, a!, { serial: 'SN-A', facts: { hardware: { model: 'X' }, network: { wifiSsid: 'ECOLE' } } });
    const neighbour = await newDevice(tree.org.id, b!, { serial: 'SN-B' });
    for (const d of [device, neighbour]) {
      await db().insert(deviceApps).values({ deviceId: d.id, identifier: `app.${d.serial}` });
      await db().insert(deviceEvents).values({ deviceId: d.id, kind: `boot-${d.serial}`, at: new Date() });
      await db().insert(deviceLocations).values(fix(d.id, ago(HOUR)));
      await db().insert(commands).values({ organisationId: tree.org.id, deviceId: d.id, kind: 'locate', origin: 'technician', status: 'succeeded', expiresAt: new Date(), result: { fixTime: 'x', lat: 1 } });
    }
    const admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
    const director = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'director', scopeType: 'school', scopeId: a! });
    return { tree, device, neighbour, admin, director };
  }
  const exportOf = async (token: string, id: string) => {
    const res = await t.app.inject({ url: `/api/v1/devices/${id}/export`, headers: { authorization: `Bearer ${token}` } });
    return { res, files: res.statusCode === 200 ? await unzip(res.rawPayload) : ({} as Record<string, string>) };
  };

  it('holds every row about the device and nothing about another, and audits the export and its position read', async () => {
    const w = await world();
    const { res, files } = await exportOf(w.admin, w.device.id);
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('application/zip');
    expect(Object.keys(files).sort()).toEqual(['apps.csv', 'audit-events.csv', 'certificates.csv', 'commands.csv', 'device.csv', 'device.json', 'events.csv', 'geofence-alerts.csv', 'positions.csv']);
    const json = JSON.parse(files['device.json']!);
    expect(json).toMatchObject({ positionsWithheld: false, device: { id: w.device.id, facts: { network: { wifiSsid: 'ECOLE' } } } });
    expect(json.apps.map((a: { identifier: string }) => a.identifier)).toEqual(['app.SN-A']);
    expect(json.events.map((e: { kind: string }) => e.kind)).toEqual(['boot-SN-A']);
    expect(json.positions).toHaveLength(1);
    expect(json.commands).toHaveLength(1);
    expect(json.commands[0].result).toEqual({ fixTime: 'x', lat: 1 });
    const everything = Object.values(files).join('\n');
    expect(everything).not.toContain(w.neighbour.id);
    expect(everything).not.toContain('SN-B');
    expect(files['positions.csv']!).toContain('45.76');

    const trail = await db().select().from(auditEvents).where(and(eq(auditEvents.targetType, 'device'), eq(auditEvents.targetId, w.device.id)));
    expect(trail.map((e) => e.action).sort()).toEqual(['device.export', 'device.location.read']);
    expect(trail.find((e) => e.action === 'device.location.read')!.details).toMatchObject({ via: 'device.export', positions: 1 });
    // A second export carries the first one's audit events.
    const second = JSON.parse((await exportOf(w.admin, w.device.id)).files['device.json']!);
    expect(second.auditEvents.map((e: { action: string }) => e.action)).toEqual(['device.export', 'device.location.read']);
  });

  it('gives a director without the location permission the export without positions, nor network facts, nor locate results', async () => {
    const w = await world();
    const { res, files } = await exportOf(w.director, w.device.id);
    expect(res.statusCode).toBe(200);
    expect(files['positions.csv']).toBeUndefined();
    const json = JSON.parse(files['device.json']!);
    expect(json).toMatchObject({ positionsWithheld: true, positions: null });
    expect(json.device.facts).toEqual({ hardware: { model: 'X' } });
    expect(json.commands[0]).toMatchObject({ result: null, resultRaw: null, resultWithheld: 'location' });
    const everything = Object.values(files).join('\n');
    expect(everything).not.toContain('45.76');
    const actions = (await db().select().from(auditEvents).where(and(eq(auditEvents.targetType, 'device'), eq(auditEvents.targetId, w.device.id)))).map((e) => e.action);
    expect(actions).toEqual(['device.export']);
    // Outside the director's school, the device does not exist for them.
    expect((await exportOf(w.director, w.neighbour.id)).res.statusCode).toBe(404);
  });

  it('refuses to erase an active device, and erases a retired one, audited', async () => {
    const w = await world();
    const erase = (id: string) => t.app.inject({ method: 'POST', url: `/api/v1/devices/${id}/erase`, headers: { authorization: `Bearer ${w.admin}` } });
    const refused = await erase(w.device.id);
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('device_active');
    expect(await positionsOf(w.device.id)).toBe(1);

    await db().update(devices).set({ status: 'retired' }).where(eq(devices.id, w.device.id));
    const done = await erase(w.device.id);
    expect(done.statusCode).toBe(200);
    expect(done.json()).toEqual({ deviceId: w.device.id, status: 'retired', erased: { apps: 1, events: 1, positions: 1, commands: 1 } });
    expect(await positionsOf(w.device.id)).toBe(0);
    expect(await positionsOf(w.neighbour.id)).toBe(1);
    const [row] = await db().select().from(devices).where(eq(devices.id, w.device.id));
    expect(row).toMatchObject({ serial: null });
    const [command] = await db().select().from(commands).where(eq(commands.deviceId, w.device.id));
    expect(command!.result).toBeNull();
    const actions = (await db().select().from(auditEvents).where(and(eq(auditEvents.targetType, 'device'), eq(auditEvents.targetId, w.device.id)))).map((e) => e.action);
    expect(actions).toContain('device.erase');
  });
});
