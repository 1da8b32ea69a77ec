import { randomUUID } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { auditEvents, devices } from '../../server/infra/db/schema';
import { ConsoleClient, textOf } from '../helpers/console-client';
import { signPushCsr } from '../helpers/fake-apns';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/** The console's iPad pages: supervision-only actions on the device page, and the APNs push certificate. */
let env: TestEnv;
let t: TestApp;
let tree: Awaited<ReturnType<typeof createOrgTree>>;
const PASSWORD = 'correct horse battery';
const db = () => t.infra.database.db;

beforeAll(async () => {
  env = await createTestEnv();
  t = await startTestApp(env);
  tree = await createOrgTree(db(), { communes: 1, schools: 1 });
  const user = await t.services.users.createUser({ organisationId: tree.org.id, email: 'dsi@example.org', displayName: 'DSI', password: PASSWORD });
  await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role: 'admin', scopeType: 'organisation', scopeId: null });
});
afterAll(async () => {
  await t?.close();
  await env?.cleanup();
});

async function ipad(name: string, supervised: boolean) {
  const [row] = await db()
    .insert(devices)
    .values({ organisationId: tree.org.id, schoolId: tree.schools[0]!.id, platform: 'ios', name, serial: randomUUID().slice(0, 10), capabilities: supervised ? ['supervised'] : [], managementMode: supervised ? 'supervised' : 'unsupervised' })
    .returning();
  return row!;
}

describe('the device page of an iPad', () => {
  it('shows supervision-only actions disabled, with the reason, on an unsupervised iPad', async () => {
    const c = new ConsoleClient(t.app, '10.42.0.1');
    await c.signIn('dsi@example.org', PASSWORD);
    const plain = await ipad('iPad du CP', false);
    const page = await c.get(`/console/devices/${plain.id}`);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain(`/console/devices/${plain.id}/actions/lock`);
    expect(page.body).not.toContain(`/console/devices/${plain.id}/actions/reboot`);
    expect(page.body).toMatch(/<button type="button" class="button button-secondary" disabled aria-describedby="why-reboot">Redémarrer<\/button>/);
    expect(textOf(page.body)).toContain('« Redémarrer » : réservé aux iPad supervisés (Apple School Manager ou Apple Configurator). Cet iPad ne l’est pas.');
    expect(page.body).toContain('id="why-reboot"');

    const supervised = await ipad('iPad du CE1', true);
    const full = await c.get(`/console/devices/${supervised.id}`);
    expect(full.body).toContain(`/console/devices/${supervised.id}/actions/reboot`);
    expect(full.body).not.toContain('disabled aria-describedby');
  });
});

describe('the iPad push certificate page', () => {
  it('generates the request, installs the signed certificate with its topic and expiry, and refuses another topic', async () => {
    const c = new ConsoleClient(t.app, '10.42.0.2');
    await c.signIn('dsi@example.org', PASSWORD);
    const empty = await c.get('/console/settings/apple-push');
    expect(empty.statusCode).toBe(200);
    expect(textOf(empty.body)).toContain('Aucun certificat n’est encore installé');
    expect((await c.get('/console/settings')).body).toContain('href="/console/settings/apple-push"');

    const requested = await c.post('/console/settings/apple-push/request', {}, '/console/settings/apple-push');
    expect(requested.statusCode).toBe(303);
    const withCsr = await c.get('/console/settings/apple-push');
    const csrPem = /<textarea id="csr"[^>]*>([^<]+)<\/textarea>/.exec(withCsr.body)![1]!.replace(/&#10;/g, '\n');
    expect(csrPem).toContain('BEGIN CERTIFICATE REQUEST');

    const topic = `com.apple.mgmt.External.${randomUUID()}`;
    const installed = await c.post('/console/settings/apple-push/certificate', { certificatePem: signPushCsr(csrPem, topic) }, '/console/settings/apple-push');
    expect(installed.statusCode).toBe(303);
    const shown = await c.get('/console/settings/apple-push');
    expect(textOf(shown.body)).toContain('Le certificat de notification est installé.');
    expect(shown.body).toContain(`<code>${topic}</code>`);
    expect(textOf(shown.body)).toMatch(/Expire le \d/);

    // A renewal with another topic would orphan every iPad: refused, at the field, with the reason.
    await c.post('/console/settings/apple-push/request', {}, '/console/settings/apple-push');
    const again = /<textarea id="csr"[^>]*>([^<]+)<\/textarea>/.exec((await c.get('/console/settings/apple-push')).body)![1]!.replace(/&#10;/g, '\n');
    const refused = await c.post('/console/settings/apple-push/certificate', { certificatePem: signPushCsr(again, `com.apple.mgmt.External.${randomUUID()}`) }, '/console/settings/apple-push');
    expect(refused.statusCode).toBe(400);
    expect(refused.body).toContain('aria-invalid="true"');
    expect(textOf(refused.body)).toContain(topic);
    const actions = (await db().select({ action: auditEvents.action }).from(auditEvents).where(eq(auditEvents.organisationId, tree.org.id))).map((r) => r.action);
    expect(actions.filter((a) => a.startsWith('apple.push_certificate'))).toEqual(['apple.push_certificate.request', 'apple.push_certificate.upload', 'apple.push_certificate.request']);
    // Two RSA keys and a signed certificate: slow on a shared machine.
  }, 90_000);
});
