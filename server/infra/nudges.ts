import type { Redis } from 'ioredis';
import type { Presence } from './presence';

/** What one gateway process asks of another. */
export type NodeSignal = { kind: 'nudge'; deviceIds: string[] } | { kind: 'takeover'; deviceId: string; since: number };

/**
 * Signals to the process that holds a device's socket, over Redis pub/sub: "look for work"
 * nudges, and "this device reconnected elsewhere, close your socket". A lost nudge costs latency
 * only: the commands themselves are in PostgreSQL and the reconciler re-nudges whatever stays
 * undelivered.
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

  /** Nudges the online devices among `deviceIds`; returns those that were online. */
  async nudge(deviceIds: string[]): Promise<string[]> {
    const byNode = await this.presence.nodesOf(deviceIds);
    const online: string[] = [];
    for (const [node, ids] of byNode) {
      online.push(...ids);
      for (let i = 0; i < ids.length; i += 2000) await this.redis.publish(this.channel(node), JSON.stringify(ids.slice(i, i + 2000)));
    }
    return online;
  }

  /** Tells `nodeId` that the device connected elsewhere at `since` (ms): an older socket there must close. */
  async takeover(nodeId: string, deviceId: string, since: number): Promise<void> {
    await this.redis.publish(this.channel(nodeId), JSON.stringify({ takeover: deviceId, since }));
  }

  /** Called by a gateway process: `onSignal` receives what other processes ask of it. */
  async listen(nodeId: string, onSignal: (signal: NodeSignal) => void): Promise<() => Promise<void>> {
    const channel = this.channel(nodeId);
    const handler = (ch: string, message: string) => {
      if (ch !== channel) return;
      const signal = parseSignal(message);
      if (signal) onSignal(signal);
    };
    this.subscriber.on('message', handler);
    await this.subscriber.subscribe(channel);
    return async () => {
      this.subscriber.off('message', handler);
      await this.subscriber.unsubscribe(channel).catch(() => undefined);
    };
  }
}

function parseSignal(message: string): NodeSignal | null {
  try {
    const value: unknown = JSON.parse(message);
    if (Array.isArray(value)) return { kind: 'nudge', deviceIds: value.filter((x): x is string => typeof x === 'string') };
    const v = value as { takeover?: unknown; since?: unknown };
    if (typeof v.takeover === 'string' && typeof v.since === 'number') return { kind: 'takeover', deviceId: v.takeover, since: v.since };
  } catch {
    // a malformed signal carries nothing to act on
  }
  return null;
}
