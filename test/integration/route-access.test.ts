import cookie from '@fastify/cookie';
import csrf from '@fastify/csrf-protection';
import Fastify from 'fastify';
import { authPlugin, withAccess } from '../../server/modules/access/auth.plugin';
import { openApiSecurity } from '../../server/modules/access/route-access';
import { createTestEnv, startTestApp, type TestApp, type TestEnv } from '../helpers/test-env';

/** A bare server with the auth plugin, enough to see what it makes of declarations. */
async function bareApp() {
  const app = Fastify();
  await app.register(cookie);
  await app.register(csrf);
  await app.register(authPlugin);
  return app;
}

describe('route access declarations', () => {
  it('refuses to start when a route declares nothing, and names it', async () => {
    const app = await bareApp();
    app.get('/declared', { config: { access: { public: 'test' } } }, async () => 'ok');
    app.post('/forgotten', async () => 'oops');
    await expect(app.ready()).rejects.toThrow('Routes without an access declaration (config.access): POST /forgotten');
  });

  it("gives a third-party plugin's routes the declaration they are registered with", async () => {
    const app = await bareApp();
    const plugin = async (inner: ReturnType<typeof Fastify>, options: { path: string }) => {
      inner.get(options.path, async () => 'asset');
    };
    await app.register(withAccess(plugin, { path: '/asset' }, { public: 'static' }));
    await app.ready();
    expect((await app.inject({ url: '/asset' })).body).toBe('asset');
    await app.close();
  });

  describe('in the real app', () => {
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

    it("documents every route's security as its declaration says, and no authenticated route as public", async () => {
      const doc = (await t.app.inject({ url: '/api/openapi.json' })).json() as { paths: Record<string, Record<string, { security?: unknown }>> };
      const declared = new Map<string, Parameters<typeof openApiSecurity>[0]>();
      for (const route of t.app.declaredRoutes()) declared.set(`${route.method} ${route.url}`, route.access);
      let documented = 0;
      for (const [path, operations] of Object.entries(doc.paths)) {
        for (const [method, operation] of Object.entries(operations)) {
          const url = path.replace(/\{(\w+)\}/g, ':$1');
          const access = declared.get(`${method.toUpperCase()} ${url}`);
          expect({ route: `${method} ${path}`, security: operation.security }).toEqual({ route: `${method} ${path}`, security: openApiSecurity(access!) });
          documented++;
        }
      }
      expect(documented).toBeGreaterThan(80);
    });
  });
});
