import { eq } from 'drizzle-orm';
import { commands, devices } from '../../server/infra/db/schema';
import { ConsoleClient, textOf } from '../helpers/console-client';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/** The console's device page of a tablet whose agent is below the minimum version (agent protocol §24.1). */
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
const PASSWORD = 'correct horse battery';
const db = () => t.infra.database.db;

beforeAll(async () => {
  env = await createTestEnv({ AGENT_MIN_VERSION_CODE: '10100' });
  t = await startTestApp(env);
  tree = await createOrgTree(db(), { communes: 1, schools: 1 });
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email: 'tech@example.org', displayName: 'tech', password: PASSWORD });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role: 'technician', scopeType: 'organisation', scopeId: null });
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

async function tablet(name: string, agentVersion: string, agentVersionCode: number) {
  const [row] = await db()
    .insert(devices)
    .values({ organisationId: tree.org.id, schoolId: tree.schools[0]!.id, platform: 'android', name, serial: name.replace(/\W/g, ''), agentVersion, agentVersionCode, lastSeenAt: new Date() })
    .returning();
  return row!;
}

describe('the device page of an outdated agent', () => {
  it('marks the version outdated, offers no action, and a lock sent anyway is refused and queues nothing', async () => {
    const old = await tablet('Tablette ancienne', '1.0.0', 10000);
    const current = await tablet('Tablette à jour', '1.1.0', 10100);
    const c = new ConsoleClient(t.app, '10.41.0.1');
    await c.signIn('tech@example.org', PASSWORD);

    const page = await c.get(`/console/devices/${old.id}`);
    expect(textOf(page.body)).toContain('1.0.0 (obsolète)');
    expect(textOf(page.body)).toContain('plus ancien que la version minimale');
    expect(page.body).not.toContain(`/console/devices/${old.id}/actions/lock`);

    const fine = await c.get(`/console/devices/${current.id}`);
    expect(textOf(fine.body)).not.toContain('obsolète');
    expect(fine.body).toContain(`/console/devices/${current.id}/actions/lock`);

    const refused = await c.post(`/console/devices/${old.id}/actions/lock`, {}, `/console/devices/${old.id}/actions/lock`);
    expect(refused.statusCode).toBe(400);
    expect(textOf(refused.body)).toContain('trop ancien');
    expect(await db().select().from(commands).where(eq(commands.deviceId, old.id))).toHaveLength(0);
  });
});
