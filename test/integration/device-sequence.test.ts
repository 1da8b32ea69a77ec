import { randomUUID } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { recordSeqs } from '../../server/modules/devices/device-sequence.repository';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

let env: TestEnv;
let t: TestApp;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
});
afterAll(async () => {
  await t.close();
  await env.cleanup();
});

async function newDevice(): Promise<string> {
  const db = t.infra.database.db;
  const org = await db.execute<{ id: string }>(sql`insert into organisations (name, slug) values ('Seq', 'seq-' || gen_random_uuid()) returning id`);
  const commune = await db.execute<{ id: string }>(sql`insert into communes (organisation_id, code, name) values (${org.rows[0]!.id}, '25056', 'Besançon') returning id`);
  const school = await db.execute<{ id: string }>(sql`
    insert into schools (organisation_id, commune_id, code, name) values (${org.rows[0]!.id}, ${commune.rows[0]!.id}, '0250001A', 'École') returning id`);
  const device = await db.execute<{ id: string }>(sql`
    insert into devices (organisation_id, school_id, platform, name, management_mode, status, enrolled_at)
    values (${org.rows[0]!.id}, ${school.rows[0]!.id}, 'android', 'Tablette', 'device_owner', 'active', now()) returning id`);
  return device.rows[0]!.id;
}

describe('sequence numbers of many devices in one statement', () => {
  it('returns, per message, the highest number before it, also for several messages of one device', async () => {
    const [a, b] = [await newDevice(), await newDevice()];
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 3 }])).toEqual([null]);
    const previous = await recordSeqs(t.infra.database.db, [
      { deviceId: a, seq: 7 },
      { deviceId: b, seq: 1 },
      { deviceId: a, seq: 5 },
      { deviceId: a, seq: 9 },
    ]);
    expect(previous).toEqual([3, null, 7, 7]);
    // A lower number (a re-send) never lowers what is stored.
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 2 }])).toEqual([9]);
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 10 }])).toEqual([9]);
  });

  it('skips a device that no longer exists, and still records the others', async () => {
    const a = await newDevice();
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 4 }])).toEqual([null]);
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: randomUUID(), seq: 2 }, { deviceId: a, seq: 5 }])).toEqual([null, 4]);
  });

  it('makes each raise see the one before it when several run at once for one device', async () => {
    const a = await newDevice();
    await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 10 }]);
    const previous = await Promise.all([11, 12, 13, 14, 15, 16].map((seq) => recordSeqs(t.infra.database.db, [{ deviceId: a, seq }])));
    // Only the first to take the row saw 10; a read of the statement's snapshot would let several see it.
    expect(previous.flat().filter((p) => p === 10)).toHaveLength(1);
    expect(await recordSeqs(t.infra.database.db, [{ deviceId: a, seq: 1 }])).toEqual([16]);
  });
});
