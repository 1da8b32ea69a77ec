import { and, eq, sql } from 'drizzle-orm';
import type { Envelope } from '../../agent-protocol/src';
import { CountingAgent } from '../../agent-protocol/simulator/counting-agent';
import { auditEvents, commands } from '../../server/infra/db/schema';
import { createPrincipalToken } from '../helpers/auth';
import { buildApk, makeSigner } from '../fixtures/apps/android-packages';
import { startAgentWorld, until, type AgentWorld } from './agent-harness';

/**
 * Agent protocol §24.1's self-update through real sockets: an agent below the minimum that
 * announces install_app is sent, by the server alone, the newest version of its own package in
 * the app catalog that reaches the minimum; the simulator downloads and checks it, restarts as
 * the new version, and is then given what waited for it.
 */
const AGENT_PACKAGE = 'fr.cartable.agent';
let w: AgentWorld;
let admin: string;
const signer = makeSigner('Cartable agent release');
const agents: CountingAgent[] = [];

/** A tablet that, while `ignoring`, receives command frames (counted) but does nothing with them, as if it lost them. */
class IgnoringAgent extends CountingAgent {
  ignoring = true;
  override async onMessage(envelope: Envelope): Promise<void> {
    if (this.ignoring && envelope.type === 'command') {
      const id = String(envelope.body.commandId).toLowerCase();
      this.frames.set(id, (this.frames.get(id) ?? 0) + 1);
      return;
    }
    return super.onMessage(envelope);
  }
}

beforeAll(async () => {
  w = await startAgentWorld({ AGENT_MIN_VERSION_CODE: '10100' });
  admin = await createPrincipalToken(w.t.services, { role: 'admin', scopeType: 'organisation', organisationId: w.tree.org.id });
});
afterAll(async () => {
  await Promise.all(agents.map((a) => a.close()));
  await w?.close();
});

async function api(method: 'GET' | 'POST', url: string, payload?: object | Buffer, contentType?: string) {
  const headers: Record<string, string> = { authorization: `Bearer ${admin}` };
  if (contentType) headers['content-type'] = contentType;
  const res = await w.t.app.inject({ method, url: `/api/v1${url}`, headers, payload });
  return { status: res.statusCode, body: res.json() };
}

async function uploadAgent(versionCode: number) {
  const apk = await buildApk({ packageName: AGENT_PACKAGE, versionCode, signer, label: 'Cartable' });
  const res = await api('POST', '/apps/packages', apk, 'application/vnd.android.package-archive');
  expect(res.status).toBe(201);
  return { apk, versionId: res.body.version.id as string, sha256: res.body.version.sha256 as string };
}

/** An outdated (1.0.x) agent that nevertheless announces install_app, as a 1.1-capable build below the minimum does. */
function outdatedTablet(index: number): IgnoringAgent {
  const agent = new IgnoringAgent({ serverUrl: w.url, token: w.token, index, reportOnConnect: false });
  agent.profile.agent.versionCode = 10000;
  agent.profile.agent.versionName = '1.0.9';
  agents.push(agent);
  return agent;
}

const db = () => w.t.infra.database.db;
const installsOf = (deviceId: string) => db().select().from(commands).where(and(eq(commands.deviceId, deviceId), eq(commands.kind, 'install_app')));
const statusOf = async (id: string) => (await db().select({ status: commands.status }).from(commands).where(eq(commands.id, id)))[0]!.status;

describe('the automatic self-update of an outdated agent', () => {
  it('queues nothing, and says why, while no catalog version of the agent reaches the minimum', async () => {
    await uploadAgent(10050);
    const tablet = outdatedTablet(8101);
    await tablet.enroll();
    await tablet.connect();
    await new Promise((r) => setTimeout(r, 500));
    expect(await installsOf(tablet.deviceId!)).toEqual([]);
    expect(tablet.frames.size).toBe(0);
    const shown = await api('GET', `/devices/${tablet.deviceId}`);
    expect(shown.body).toMatchObject({ agentOutdated: true, agentSelfUpdate: 'not_configured', agentSelfUpdateCommandId: null });
    expect(shown.body.agentSelfUpdateReason).toContain(`No version of ${AGENT_PACKAGE} in the app catalog has a versionCode of at least 10100`);
    await tablet.close();
  });

  it('sends one update, held commands waiting, none again at a second connection, and what waited once updated', async () => {
    await uploadAgent(10100);
    const newest = await uploadAgent(10200);
    const tablet = outdatedTablet(8102);
    await tablet.enroll();
    // Queued before the server knew the tablet's version: it waits for the update.
    const waiting = await api('POST', `/devices/${tablet.deviceId}/commands`, { kind: 'message', params: { text: 'Après la mise à jour' } });
    expect(waiting.status).toBe(201);
    const messageId = waiting.body.id as string;

    await tablet.connect();
    const [update] = await until(async () => {
      const rows = await installsOf(tablet.deviceId!);
      return rows.length > 0 && tablet.frames.has(rows[0]!.id) ? rows : null;
    });
    expect(update).toMatchObject({
      origin: 'system',
      issuedBy: null,
      params: { appVersionId: newest.versionId, packageName: AGENT_PACKAGE, versionCode: 10200, sha256: newest.sha256, sizeBytes: newest.apk.length, signingCertSha256: [signer.certSha256] },
    });
    // Only the update went out: the message is held.
    expect([...tablet.frames.keys()]).toEqual([update!.id]);
    expect(await statusOf(messageId)).toBe('queued');
    const audited = await until(async () => {
      const rows = await db().select().from(auditEvents).where(and(eq(auditEvents.action, 'command.create'), eq(auditEvents.targetId, tablet.deviceId!)));
      return rows.find((r) => r.details.commandId === update!.id);
    });
    expect(audited).toMatchObject({ actorType: 'system', details: { kind: 'install_app', selfUpdate: true, fromVersionCode: 10000, toVersionCode: 10200, minAgentVersionCode: 10100 } });
    expect((await api('GET', `/devices/${tablet.deviceId}`)).body).toMatchObject({ agentSelfUpdate: 'pending', agentSelfUpdateCommandId: update!.id, agentSelfUpdateReason: null });

    // The tablet lost it and connects again before updating: the same update is offered, no second one queued.
    await tablet.close();
    await tablet.connect();
    await until(() => tablet.frames.get(update!.id) === 2);
    expect((await installsOf(tablet.deviceId!)).map((c) => c.id)).toEqual([update!.id]);
    expect(tablet.frames.has(messageId)).toBe(false);

    // Now it handles it: downloads and checks the APK, restarts as 10200, reports, and is given the message.
    await tablet.close();
    tablet.ignoring = false;
    await tablet.connect();
    await until(async () => (await statusOf(update!.id)) === 'succeeded', 15_000);
    expect(tablet.profile.agent.versionCode).toBe(10200);
    expect(tablet.appsReport().apps).toEqual(expect.arrayContaining([expect.objectContaining({ packageName: AGENT_PACKAGE, versionCode: 10200 })]));
    const [done] = await db().select().from(commands).where(eq(commands.id, update!.id));
    expect(done!.result).toMatchObject({ versionCode: 10200 });
    await until(async () => (await statusOf(messageId)) === 'succeeded', 10_000);
    expect((await api('GET', `/devices/${tablet.deviceId}`)).body).toMatchObject({ agentVersionCode: 10200, agentOutdated: false, agentSelfUpdate: null });
    expect(await installsOf(tablet.deviceId!)).toHaveLength(1);
  }, 40_000);

  it('queues an expired update again, but not one someone cancelled', async () => {
    const tablet = outdatedTablet(8103);
    await tablet.enroll();
    await tablet.connect();
    const [first] = await until(async () => {
      const rows = await installsOf(tablet.deviceId!);
      return rows.length > 0 && tablet.frames.has(rows[0]!.id) ? rows : null;
    });
    await tablet.close();

    // Its validity ran out while the tablet was away: the next connection queues a fresh one.
    await db().update(commands).set({ expiresAt: sql`now() - interval '1 second'` }).where(eq(commands.id, first!.id));
    await tablet.connect();
    const second = await until(async () => (await installsOf(tablet.deviceId!)).find((c) => c.id !== first!.id && tablet.frames.has(c.id)));
    expect(second).toMatchObject({ origin: 'system', params: { packageName: AGENT_PACKAGE, versionCode: 10200 } });
    expect(await statusOf(first!.id)).toBe('expired');
    await tablet.close();

    // A technician cancels it: it is not sent again on its own, and the device says why.
    const cancelled = await api('POST', `/commands/${second!.id}/cancel`);
    expect(cancelled.status).toBe(200);
    await tablet.connect();
    await new Promise((r) => setTimeout(r, 500));
    expect(await installsOf(tablet.deviceId!)).toHaveLength(2);
    const shown = (await api('GET', `/devices/${tablet.deviceId}`)).body;
    expect(shown).toMatchObject({ agentOutdated: true, agentSelfUpdate: 'failed', agentSelfUpdateCommandId: null });
    expect(shown.agentSelfUpdateReason).toContain(`command ${second!.id}) was cancelled`);
    await tablet.close();
  }, 30_000);
});
