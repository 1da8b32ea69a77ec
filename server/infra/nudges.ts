import type { Redis } from 'ioredis';
import type { Presence } from './presence';

/**
 * "Look for work" signals to the process that holds a device's socket, over Redis pub/sub.
 * A lost nudge costs latency only: the commands themselves are in PostgreSQL and the
 * reconciler re-nudges whatever stays undelivered.
 */
export class Nudges {
  constructor(
    private readonly redis: Redis,
    private readonly subscriber: Redis,
    private readonly presence: Presence,
    private readonly prefix: string,
  ) {}

  private channel(nodeId: string): string {
    return `${this.prefix}:nudge:${nodeId}`;
  }

  /** Nudges the online devices among `deviceIds`; returns how many were online. */
  async nudge(deviceIds: string[]): Promise<number> {
    const byNode = await this.presence.nodesOf(deviceIds);
    let online = 0;
    for (const [node, ids] of byNode) {
      online += ids.length;
      for (let i = 0; i < ids.length; i += 2000) await this.redis.publish(this.channel(node), JSON.stringify(ids.slice(i, i + 2000)));
    }
    return online;
  }

  /** Called by a gateway process: `onNudge` receives the device ids to serve. */
  async listen(nodeId: string, onNudge: (deviceIds: string[]) => void): Promise<() => Promise<void>> {
    const channel = this.channel(nodeId);
    const handler = (ch: string, message: string) => {
      if (ch !== channel) return;
      try {
        const ids: unknown = JSON.parse(message);
        if (Array.isArray(ids)) onNudge(ids.filter((x): x is string => typeof x === 'string'));
      } catch {
        // a malformed nudge carries nothing to act on
      }
    };
    this.subscriber.on('message', handler);
    await this.subscriber.subscribe(channel);
    return async () => {
      this.subscriber.off('message', handler);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }
}
