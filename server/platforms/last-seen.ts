import type { InventoryPort } from '../domain/platform-ports';

const FLUSH_MS = 5_000;

/**
 * When each device was last heard from by this process, written for all of them in one statement
 * every few seconds: a device's message costs no write of its own (with thousands of devices
 * checking in at once, one UPDATE per message is most of the database's work). A crash loses at
 * most these few seconds of last-seen times, and nothing else.
 */
export class LastSeen {
  private readonly seen = new Map<string, Date>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly inventory: Pick<InventoryPort, 'touch'>,
    private readonly log: { error(obj: object, msg: string): void },
  ) {}

  /** Flushes every few seconds until `stop`; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  touch(deviceId: string): void {
    this.seen.set(deviceId, new Date());
  }

  /** Last-seen times of every device heard from since the previous flush, in one UPDATE. */
  async flush(): Promise<void> {
    if (this.seen.size === 0) return;
    const batch = [...this.seen].map(([id, at]) => ({ id, at }));
    this.seen.clear();
    await this.inventory.touch(batch).catch((err: unknown) => this.log.error({ err }, 'last-seen flush failed'));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
