import { sql } from 'drizzle-orm';
import type { Envelope } from '../../agent-protocol/src';
import { CountingAgent, deliveryReport } from '../../agent-protocol/simulator/counting-agent';
import { apps, schools } from '../../server/infra/db/schema';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { createPrincipalToken } from '../helpers/auth';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';
import { orgWithSchools } from '../integration/enrollment.helpers';
import { freePort, until } from './agent-harness';

/**
 * A campaign to simulated tablets of three schools over real WebSockets, on a clock the test
 * moves: nothing reaches a tablet outside the window, the pilot school goes first, no school
 * ever has more tablets installing at once than the cap, as the tablets themselves see it.
 */
const CAP = 2;
const PER_SCHOOL = 5;
let env: TestEnv;
let t: TestApp;
let clock = new Date('2026-12-07T12:00:00Z'); // Monday, 13:00 in Paris
const fleet: { agent: CountingAgent; school: number }[] = [];

/** Per school: the campaign commands a tablet has received and not yet carried out, and the most ever at once. */
const installing = [new Set<string>(), new Set<string>(), new Set<string>()];
const most = [0, 0, 0];
const firstBegin: number[] = [];
const lastEnd: number[] = [];

class WatchedAgent extends CountingAgent {
  constructor(
    options: ConstructorParameters<typeof CountingAgent>[0],
    private readonly school: number,
  ) {
    super(options);
    this.on('executed', (command: { commandId: string }) => {
      installing[this.school]!.delete(command.commandId.toLowerCase());
      lastEnd[this.school] = Date.now();
    });
  }

  override async onMessage(envelope: Envelope): Promise<void> {
    if (envelope.type === 'command' && envelope.body.kind === 'remove_app' && !this.executions.has(String(envelope.body.commandId).toLowerCase())) {
      const set = installing[this.school]!;
      set.add(String(envelope.body.commandId).toLowerCase());
      most[this.school] = Math.max(most[this.school]!, set.size);
      firstBegin[this.school] ??= Date.now();
    }
    return super.onMessage(envelope);
  }
}

beforeAll(async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  env = await createTestEnv({ CARTABLE_PUBLIC_URL: url });
  t = await startTestApp(env, { now: () => clock });
  await t.app.listen({ host: '127.0.0.1', port });
  const tree = await orgWithSchools(t.infra.database.db, 3);
  const db = t.infra.database.db;
  await db.update(schools).set({ pilot: true }).where(sql`${schools.id} = ${tree.schools[0]!.id}`);
  await db.insert(apps).values({ organisationId: tree.org.id, platform: 'android', kind: 'apk', identifier: 'org.example.lecture', name: 'Lecture' });
  for (const [i, school] of tree.schools.entries()) {
    const { token } = await t.services.enrollment.createToken({ all: true, organisationId: tree.org.id }, SYSTEM_ACTOR, { schoolId: school.id, label: `école ${i}` });
    for (let k = 0; k < PER_SCHOOL; k++) fleet.push({ agent: new WatchedAgent({ serverUrl: url, token, index: i * 100 + k, executionDelayMs: 150 }, i), school: i });
  }
  for (const { agent } of fleet) await agent.enroll();
  await Promise.all(fleet.map(({ agent }) => agent.connect()));
  await until(() => fleet.every(({ agent }) => agent.state.outbox.length === 0), 15_000);
  (globalThis as { organisationId?: string }).organisationId = tree.org.id;
}, 120_000);
afterAll(async () => {
  await Promise.all(fleet.map(({ agent }) => agent.close()));
  await t?.close();
  await env?.cleanup();
});

it('sends nothing outside the window, the pilot school first, never more than the cap per school at once, each tablet once', async () => {
  const organisationId = (globalThis as { organisationId?: string }).organisationId!;
  const admin = await createPrincipalToken(t.services, { organisationId, role: 'admin', scopeType: 'organisation' });
  const api = async (method: 'GET' | 'POST', path: string, payload?: object) => (await t.app.inject({ method, url: `/api/v1${path}`, headers: { authorization: `Bearer ${admin}` }, payload })).json();
  const [app] = await t.infra.database.db.select().from(apps);
  const created = await api('POST', '/campaigns', {
    name: 'Retrait de Lecture',
    action: 'remove_app',
    appId: app!.id,
    target: {},
    startAt: '2026-12-07T00:00:00Z',
    windows: [{ days: ['mon', 'tue', 'wed', 'thu', 'fri'], start: '17:30', end: '07:30', nextDay: true }],
    perSchoolCap: CAP,
    waves: [
      { pilot: true, minSuccessPct: 100, maxFailurePct: 0 },
      { minSuccessPct: 100, maxFailurePct: 0 },
    ],
  });
  const id = created.id as string;
  await api('POST', `/campaigns/${id}/start`);
  for (let i = 0; i < 3; i++) await t.services.campaignEngine.advance(id);
  await new Promise((r) => setTimeout(r, 500));
  expect(deliveryReport(fleet.map((f) => f.agent)).frames).toBe(0);

  clock = new Date('2026-12-07T17:00:00Z'); // 18:00 in Paris
  await until(async () => {
    const { status } = await t.services.campaignEngine.advance(id);
    return status === 'completed';
  }, 60_000);

  expect(deliveryReport(fleet.map((f) => f.agent))).toMatchObject({ executed: fleet.length, executedTwice: 0 });
  expect(Math.max(...most)).toBeLessThanOrEqual(CAP);
  expect(most[0]).toBe(CAP); // the cap was reached, not merely respected by a trickle
  // With a 100 % threshold, wave 2 starts only once every pilot tablet is done.
  expect(Math.min(firstBegin[1]!, firstBegin[2]!)).toBeGreaterThanOrEqual(lastEnd[0]!);
  const progress = await api('GET', `/campaigns/${id}/progress`);
  expect(progress).toMatchObject({ status: 'completed', counts: { succeeded: fleet.length, failed: 0, pending: 0, sent: 0 } });
}, 120_000);
