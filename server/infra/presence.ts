import type { Redis } from 'ioredis';

const REFRESH_IF_MINE = "local v = redis.call('get', KEYS[1]) if v == false or v == ARGV[1] then return redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2]) end return 0";

/**
 * Which process holds each device's socket. Keys expire on their own, so a crashed process's
 * devices fall offline after one TTL; the holder refreshes its keys in batches.
 */
export class Presence {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly ttlSec: number,
  ) {}

  private key(deviceId: string): string {
    return `${this.prefix}:presence:${deviceId}`;
  }

  /**
   * Refreshes this node's devices. A key another node holds is left alone: the device has just
   * reconnected there, and this node's socket is about to be closed by the takeover signal; an
   * unconditional write would send the device's nudges to the socket being closed.
   */
  async set(deviceIds: string[], nodeId: string): Promise<void> {
    if (deviceIds.length === 0) return;
    const pipeline = this.redis.pipeline();
    for (const id of deviceIds) pipeline.eval(REFRESH_IF_MINE, 1, this.key(id), nodeId, this.ttlSec);
    await pipeline.exec();
  }

  /** Records this node as the device's holder; returns the node that held it before, if any. */
  async claim(deviceId: string, nodeId: string): Promise<string | null> {
    return this.redis.set(this.key(deviceId), nodeId, 'EX', this.ttlSec, 'GET');
  }

  /** Removes a device only if this node still holds it (it may have reconnected elsewhere). */
  async clear(deviceId: string, nodeId: string): Promise<void> {
    const key = this.key(deviceId);
    await this.redis.eval("if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0", 1, key, nodeId);
  }

  /** Groups device ids by the node that holds them; offline devices are left out. */
  async nodesOf(deviceIds: string[]): Promise<Map<string, string[]>> {
    const byNode = new Map<string, string[]>();
    for (let i = 0; i < deviceIds.length; i += 1000) {
      const chunk = deviceIds.slice(i, i + 1000);
      const nodes = await this.redis.mget(chunk.map((id) => this.key(id)));
      chunk.forEach((id, j) => {
        const node = nodes[j];
        if (!node) return;
        const list = byNode.get(node);
        if (list) list.push(id);
        else byNode.set(node, [id]);
      });
    }
    return byNode;
  }
}
