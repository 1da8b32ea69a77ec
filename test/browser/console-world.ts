import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { SimulatedAgent } from '../../agent-protocol/simulator/simulated-agent';
import { SYSTEM_ACTOR } from '../../server/modules/access/principal';
import { freePort } from '../e2e/agent-harness';
import { launchBrowser } from '../helpers/browser';
import { createOrgTree } from '../helpers/fixtures';
import type { ServiceOptions } from '../../server/services';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

export const PASSWORD = 'une phrase de passe de test';
export const AGENT_PACKAGE = { componentName: 'fr.cartable.agent/.AdminReceiver', downloadUrl: 'https://mdm.example.org/agent.apk', signatureChecksum: 'A'.repeat(43) };

/** A real OpenID Connect provider in a process of its own (test/helpers/oidc-provider.mjs). */
async function startProvider(port: number, redirectUri: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(__dirname, '..', 'helpers', 'oidc-provider.mjs'), String(port), 'cartable-console', 'test-client-secret', redirectUri], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr!.resume();
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the OpenID Connect provider did not start')), 20_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.includes('"listening"')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`the OpenID Connect provider exited (${code})`)));
  });
  return child;
}

export interface ConsoleWorld {
  env: TestEnv;
  t: TestApp;
  url: string;
  tree: Awaited<ReturnType<typeof createOrgTree>>;
  browser: Browser;
  /** Enrolls and connects a simulated tablet with a fresh token of `schoolId`; the world closes it. */
  tablet(schoolId: string, index: number, token?: string): Promise<SimulatedAgent>;
  /** A browser page in a fresh context (its own cookies), French first, failing on any CSP violation. */
  newPage(): Promise<Page>;
  /** Signs `email` in through the sign-in form. */
  signIn(page: Page, email: string): Promise<void>;
  cspViolations: string[];
  close(): Promise<void>;
}

/**
 * A listening Cartable with the OpenID Connect provider configured, an organisation of two
 * schools with an administrator, a technician and a director, and a Chromium to drive. A test
 * may add settings and service overrides (a stand-in for Google, say).
 */
export async function openConsoleWorld(options: { env?: Record<string, string>; services?: ServiceOptions } = {}): Promise<ConsoleWorld> {
  const [port, providerPort] = [await freePort(), await freePort()];
  const url = `http://127.0.0.1:${port}`;
  const provider = await startProvider(providerPort, `${url}/console/oidc/callback`);
  const env = await createTestEnv({
    CARTABLE_PUBLIC_URL: url,
    OIDC_ISSUER_URL: `http://127.0.0.1:${providerPort}`,
    OIDC_CLIENT_ID: 'cartable-console',
    OIDC_CLIENT_SECRET: 'test-client-secret',
    OIDC_PROVIDER_NAME: 'Compte Agglo',
    OIDC_ALLOW_HTTP: 'true',
    ...options.env,
  });
  const t = await startTestApp(env, options.services);
  await t.app.listen({ host: '127.0.0.1', port });
  const tree = await createOrgTree(t.infra.database.db, { communes: 1, schools: 2 });
  const org = { all: true as const, organisationId: tree.org.id };
  await t.services.enrollment.setAgentPackage(tree.org.id, SYSTEM_ACTOR, AGENT_PACKAGE);
  const people: Array<[string, 'admin' | 'technician' | 'director' | 'auditor', 'organisation' | 'school', string | null]> = [
    ['admin@example.org', 'admin', 'organisation', null],
    ['tech@example.org', 'technician', 'organisation', null],
    ['director@example.org', 'director', 'school', tree.schools[0]!.id],
    ['dpo@example.org', 'auditor', 'organisation', null],
  ];
  for (const [email, role, scopeType, scopeId] of people) {
    const user = await t.services.users.createUser({ organisationId: tree.org.id, email, displayName: email.split('@')[0]!, password: PASSWORD });
    await t.services.users.assignRole({ organisationId: tree.org.id, userId: user.id, role, scopeType, scopeId });
  }
  const browser = await launchBrowser();
  const contexts: BrowserContext[] = [];
  const agents: SimulatedAgent[] = [];
  const cspViolations: string[] = [];

  return {
    env,
    t,
    url,
    tree,
    browser,
    cspViolations,
    async tablet(schoolId, index, token) {
      const enrollmentToken = token ?? (await t.services.enrollment.createToken(org, SYSTEM_ACTOR, { schoolId, label: `tablet ${index}` })).token;
      const agent = new SimulatedAgent({ serverUrl: url, token: enrollmentToken, index });
      agents.push(agent);
      await agent.enroll();
      await agent.connect();
      return agent;
    },
    async newPage() {
      const context = await browser.newContext({ baseURL: url, locale: 'fr-FR', extraHTTPHeaders: { 'accept-language': 'fr-FR,fr;q=0.9' } });
      contexts.push(context);
      const page = await context.newPage();
      page.on('console', (message) => {
        if (/Content Security Policy/i.test(message.text())) cspViolations.push(`${page.url()}: ${message.text()}`);
      });
      return page;
    },
    async signIn(page, email) {
      await page.goto('/console/login');
      await page.getByLabel('Adresse e-mail').fill(email);
      await page.getByLabel('Mot de passe').fill(PASSWORD);
      await page.getByRole('button', { name: 'Se connecter', exact: true }).click();
      await page.waitForURL((u) => !u.pathname.endsWith('/login'));
    },
    async close() {
      for (const agent of agents) await agent.close().catch(() => undefined);
      for (const context of contexts) await context.close().catch(() => undefined);
      await browser.close();
      await t.close();
      await env.cleanup();
      provider.kill('SIGTERM');
    },
  };
}
