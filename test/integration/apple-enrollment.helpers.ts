import { createServer } from 'node:net';
import { createPrincipalToken } from '../helpers/auth';
import { createOrgTree } from '../helpers/fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

export const TEST_TOPIC = 'com.apple.mgmt.External.2f4ac1d8-5c5b-4d36-9a2f-3a3c2b1e0f00';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

export interface AppleWorld {
  env: TestEnv;
  t: TestApp;
  baseUrl: string;
  scepUrl: string;
  tree: Awaited<ReturnType<typeof createOrgTree>>;
  admin: string;
  /** Creates a token through the API; answers the creation body. */
  createToken(body?: Record<string, unknown>): Promise<{ token: string; enrollmentToken: { id: string }; apple: { enrollmentUrl: string; qrCodeSvg: string } }>;
  close(): Promise<void>;
}

/**
 * The real app listening on a real port that CARTABLE_PUBLIC_URL names, so the URLs inside the
 * served profiles are the ones the clients then use.
 */
export async function openAppleWorld(overrides: Record<string, string> = {}): Promise<AppleWorld> {
  const port = await freePort();
  const baseUrl = `http://127.0.0.1:${port}`;
  // No push certificate is uploaded here, so nothing is pushed; APNs points at a closed local port all the same.
  const env = await createTestEnv({ CARTABLE_PUBLIC_URL: baseUrl, APPLE_MDM_TOPIC: TEST_TOPIC, APPLE_APNS_URL: 'https://127.0.0.1:9', ...overrides });
  const t = await startTestApp(env);
  await t.app.listen({ host: '127.0.0.1', port });
  const tree = await createOrgTree(t.infra.database.db, {});
  const admin = await createPrincipalToken(t.services, { organisationId: tree.org.id, role: 'admin', scopeType: 'organisation' });
  return {
    env,
    t,
    baseUrl,
    scepUrl: `${baseUrl}/apple/scep`,
    tree,
    admin,
    async createToken(body = {}) {
      const response = await fetch(`${baseUrl}/api/v1/enrollment-tokens`, {
        method: 'POST',
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        body: JSON.stringify({ schoolId: tree.schools[0]!.id, label: 'Chariot iPad', ...body }),
      });
      if (response.status !== 201) throw new Error(`token creation: HTTP ${response.status}: ${await response.text()}`);
      return (await response.json()) as Awaited<ReturnType<AppleWorld['createToken']>>;
    },
    async close() {
      await t.close();
      await env.cleanup();
    },
  };
}
