import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { Presence } from '../../server/infra/presence';
import { TEST_REDIS_URL } from '../helpers/test-env';

const redis = new Redis(TEST_REDIS_URL);
const presence = new Presence(redis, `presence-test-${randomUUID()}`, 60);
afterAll(() => redis.disconnect());

describe('presence', () => {
  it('refreshes only what a node holds: a device taken over by another node stays with it', async () => {
    const [mine, takenOver, absent] = [randomUUID(), randomUUID(), randomUUID()];
    await presence.claim(mine, 'node-a');
    await presence.claim(takenOver, 'node-a');
    // The device reconnected to node B, which claimed it; node A's socket is not closed yet.
    expect(await presence.claim(takenOver, 'node-b')).toBe('node-a');
    await presence.set([mine, takenOver, absent], 'node-a');
    const nodes = await presence.nodesOf([mine, takenOver, absent]);
    expect(nodes.get('node-a')?.sort()).toEqual([mine, absent].sort());
    expect(nodes.get('node-b')).toEqual([takenOver]);
  });
});
