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

describe('foundation', () => {
  it('answers health and readiness', async () => {
    expect((await t.app.inject({ url: '/healthz' })).statusCode).toBe(200);
    const ready = await t.app.inject({ url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json()).toEqual({ status: 'ready' });
  });

  it('answers unknown routes with a 404 problem', async () => {
    const res = await t.app.inject({ url: '/api/v1/nothing-here' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 404, code: 'route_not_found' });
  });

  it('exposes Prometheus metrics on the operations port only', async () => {
    await t.app.inject({ url: '/healthz' });
    expect((await t.app.inject({ url: '/metrics' })).statusCode).toBe(404);
    const res = await t.ops.inject({ url: '/metrics' });
    expect(res.statusCode).toBe(200);
    expect(res.body).toMatch(/cartable_http_request_duration_seconds_count\{method="GET",route="\/healthz",status="200"\}/);
    expect(res.body).toMatch(/nodejs_eventloop_lag_p99_seconds/);
    expect(res.body).toMatch(/cartable_queue_jobs\{queue="commands",state="waiting"\} 0/);
    // Readings that cost a walk over every socket the process holds are not collected.
    expect(res.body).toMatch(/^process_max_fds /m);
    for (const name of ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total', 'process_open_fds']) expect(res.body).not.toMatch(new RegExp(`^${name}[ {]`, 'm'));
  });

  it('serves the OpenAPI document', async () => {
    const res = await t.app.inject({ url: '/api/openapi.json' });
    expect(res.statusCode).toBe(200);
    expect(res.json().openapi).toMatch(/^3\./);
  });

  it('serves the documentation UI on the operations port only, with the public API document', async () => {
    for (const url of ['/api/docs', '/api/docs/static/index.html', '/api/docs/json']) expect((await t.app.inject({ url })).statusCode).toBe(404);
    expect((await t.ops.inject({ url: '/api/docs' })).statusCode).toBe(200);
    const doc = (await t.ops.inject({ url: '/api/docs/json' })).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/api/v1/devices']));
  });
});
