/**
 * `npm run screenshots`: the console screenshots of docs/screenshots/, taken from a real server
 * loaded with the Admirville demonstration data and simulated tablets, in Debian's Chromium.
 * Everything lives in a throw-away database and Redis prefix, removed at the end.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { SimulatedAgent } from '../agent-protocol/simulator/simulated-agent';
import { buildApp } from '../server/app';
import { loadConfig } from '../server/config';
import { runMigrations } from '../server/infra/db/migrate';
import { closeInfra, createInfra } from '../server/infra/infra';
import { createLogger } from '../server/infra/logger';
import { SYSTEM_ACTOR } from '../server/modules/access/principal';
import { seedDemo } from '../server/modules/demo/demo.service';
import { createServices } from '../server/services';
import { freePort } from '../test/e2e/agent-harness';
import { launchBrowser } from '../test/helpers/browser';
import { deleteRedisPrefix } from '../test/helpers/test-env';

const ADMIN_URL = process.env.SCREENSHOTS_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379/0';
const OUT = join(__dirname, '..', 'docs', 'screenshots');
const PASSWORD = 'capture d’écran de la console';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const name = `cartable_screens_${process.pid}`;
  const admin = new Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`create database ${name}`);
  const databaseUrl = Object.assign(new URL(ADMIN_URL), { pathname: `/${name}` }).toString();
  const agents: SimulatedAgent[] = [];
  const secrets = mkdtempSync(join(tmpdir(), 'cartable-screens-'));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const config = loadConfig({ DATABASE_URL: databaseUrl, REDIS_URL, REDIS_PREFIX: name, CARTABLE_SECRETS_DIR: secrets, CARTABLE_PUBLIC_URL: url, LOG_LEVEL: 'warn' });
  const infra = createInfra(config, createLogger('warn'));
  try {
    await runMigrations(databaseUrl);
    const services = createServices(infra);
    await services.startup();
    const app = await buildApp({ infra, services });
    await app.listen({ host: '127.0.0.1', port });

    const demo = await seedDemo(infra.database.db);
    const org = { all: true as const, organisationId: demo.organisationId };
    const user = await services.users.createUser({ organisationId: demo.organisationId, email: 'technicien@admirville.fr', displayName: 'Technicien DSI', password: PASSWORD });
    await services.users.assignRole({ organisationId: demo.organisationId, userId: user.id, role: 'technician', scopeType: 'organisation', scopeId: null });
    await services.enrollment.setAgentPackage(demo.organisationId, SYSTEM_ACTOR, { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.admirville.fr/agent/cartable-agent.apk', signatureChecksum: 'kQ0n1bZ3vO1u9bX2q8r6m5t4y3w2e1r0t9y8u7i6o5p' });
    const schools = (await services.organisation.listSchools(org, {})).filter((s) => s.pilot).slice(0, 4);
    const groups = await services.organisation.listGroups(org, {});
    let index = 0;
    let firstToken = '';
    for (const [i, school] of schools.entries()) {
      const group = groups.find((g) => g.schoolId === school.id);
      const { token, view } = await services.enrollment.createToken(org, SYSTEM_ACTOR, { schoolId: school.id, groupId: group?.id ?? null, label: 'Rentrée 2027 – classe mobile 1' });
      if (i === 0) firstToken = view.id;
      for (let n = 0; n < 16 - i * 3; n++) {
        const agent = new SimulatedAgent({ serverUrl: url, token, index: index++ });
        agents.push(agent);
        await agent.enroll();
        await agent.connect();
      }
    }
    // A few tablets fall silent, as some do over the holidays.
    for (const agent of agents.slice(-4)) await agent.close();
    const devices = await services.devices.list(org, { schoolId: schools[0]!.id, limit: 50, offset: 0 });
    const shown = devices.items[0]!;
    const caller = { principal: { kind: 'user' as const, userId: user.id, organisationId: demo.organisationId, label: user.email, grants: [] }, scope: org, actor: { ...SYSTEM_ACTOR, type: 'user' as const, id: user.id, label: user.email } };
    await services.commands.issue(caller, shown.id, { kind: 'refresh_inventory' });
    await services.commands.issue(caller, shown.id, { kind: 'lock', params: { message: 'Tablette verrouillée par la DSI' } });
    await services.commands.issue(caller, devices.items[3]!.id, { kind: 'lost_mode_on', params: { message: 'Tablette de l’école, merci de la rapporter à l’accueil.' } });
    await sleep(4000);

    mkdirSync(OUT, { recursive: true });
    const browser = await launchBrowser();
    try {
      const page = await browser.newPage({ viewport: { width: 1280, height: 860 }, locale: 'fr-FR', extraHTTPHeaders: { 'accept-language': 'fr-FR,fr;q=0.9' } });
      await page.goto(`${url}/console/login`);
      await page.getByLabel('Adresse e-mail').fill(user.email);
      await page.getByLabel('Mot de passe').fill(PASSWORD);
      await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
      await page.waitForURL(/dashboard/);
      const shots: Array<[string, string]> = [
        ['dashboard', '/console/dashboard'],
        ['school-inventory', `/console/schools/${schools[0]!.id}`],
        ['device', `/console/devices/${shown.id}`],
        ['enrollment-sheet', `/console/enrollment/${firstToken}/sheet`],
      ];
      for (const [file, path] of shots) {
        await page.goto(`${url}${path}`);
        await page.screenshot({ path: join(OUT, `${file}.png`), fullPage: true });
        console.log(`docs/screenshots/${file}.png`);
      }
    } finally {
      await browser.close();
    }
    for (const agent of agents) await agent.close().catch(() => undefined);
    await app.close();
  } finally {
    await closeInfra(infra);
    await admin.query(`drop database if exists ${name} with (force)`);
    await admin.end();
    await deleteRedisPrefix(REDIS_URL, name);
    rmSync(secrets, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
