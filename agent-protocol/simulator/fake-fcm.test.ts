import { FakeFcmServer } from './fake-fcm';
import { FakePushService, type PushReceiver } from './push';

/** A receiver that only records what reaches it, standing for an agent's push service. */
function recorder() {
  const pushes: Record<string, string>[] = [];
  const receiver: PushReceiver = { onPush: (data) => void pushes.push(data), onPushToken: () => undefined };
  return { pushes, receiver };
}

let push: FakePushService;
let fcm: FakeFcmServer;
let base: string;

beforeEach(async () => {
  push = new FakePushService('cartable-ecoles');
  fcm = new FakeFcmServer(push);
  base = await fcm.listen();
});
afterEach(async () => {
  await fcm.close();
});

const send = (body: unknown, project = 'cartable-ecoles') =>
  fetch(`${base}/v1/projects/${project}/messages:send`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('FakeFcmServer (FCM HTTP v1 shape)', () => {
  it('delivers a data message to the agent holding the token, with its priority, ttl and collapse key', async () => {
    const { pushes, receiver } = recorder();
    const token = push.register(receiver);
    const res = await send({ message: { token, data: { cartable: 'wake' }, android: { priority: 'high', ttl: '600s', collapse_key: 'cartable-wake' } } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { name: string }).name).toMatch(/^projects\/cartable-ecoles\/messages\/\d+$/);
    await new Promise((r) => setImmediate(r));
    expect(pushes).toEqual([{ cartable: 'wake' }]);
    expect(push.sent).toEqual([{ token, data: { cartable: 'wake' }, priority: 'high', ttlSec: 600, collapseKey: 'cartable-wake' }]);
  });

  it('answers an unknown or rotated token as FCM does: 404 UNREGISTERED', async () => {
    const { receiver } = recorder();
    const old = push.register(receiver);
    push.rotate(old);
    const res = await send({ message: { token: old, data: { cartable: 'wake' } } });
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { status: 'NOT_FOUND', details: [{ errorCode: 'UNREGISTERED' }] } });
  });

  it('refuses malformed requests, another project, and answers 503 while the provider is down', async () => {
    const { receiver } = recorder();
    const token = push.register(receiver);
    expect((await send('{')).status).toBe(400);
    expect((await send({ message: { data: { cartable: 'wake' } } })).status).toBe(400);
    expect((await send({ message: { token, data: { n: 1 } } })).status).toBe(400);
    expect((await send({ message: { token, data: {} } }, 'someone-else')).status).toBe(403);
    push.down = true;
    const res = await send({ message: { token, data: { cartable: 'wake' } } });
    expect(res.status).toBe(503);
    expect(push.sent).toEqual([]);
  });
});
