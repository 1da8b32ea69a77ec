import { createPrincipalToken } from './auth';
import { createOrgTree } from './fixtures';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from './test-env';

export interface ApiWorld {
  env: TestEnv;
  t: TestApp;
  tree: Awaited<ReturnType<typeof createOrgTree>>;
  /** An organisation-wide administrator's API token. */
  admin: string;
  close(): Promise<void>;
}

/** The usual world of a REST API test: the real app, an organisation tree, an administrator. */
export async function openApiWorld(tree: Parameters<typeof createOrgTree>[1] = {}, config: Record<string, string> = {}): Promise<ApiWorld> {
  const env = await createTestEnv(config);
  const t = await startTestApp(env);
  const orgTree = await createOrgTree(t.infra.database.db, tree);
  const admin = await createPrincipalToken(t.services, { organisationId: orgTree.org.id, role: 'admin', scopeType: 'organisation' });
  return {
    env,
    t,
    tree: orgTree,
    admin,
    async close() {
      await t.close();
      await env.cleanup();
    },
  };
}
