const FLUSH_MS = 5_000;

/**
 * Per-device facts kept in memory and written for all devices heard from, in one statement,
 * every few seconds: a device's message costs no write of its own (with thousands of devices
 * checking in at once, one UPDATE per message is most of the database's work). A crash loses at
 * most these few seconds of facts, and nothing else.
 */
export class PeriodicWrites<V> {
  private pending = new Map<string, V>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    /** Writes one batch: one entry per device. */
    private readonly write: (batch: Array<{ id: string; value: V }>) => Promise<void>,
    /** The value kept for a device already pending and heard from again. */
    private readonly merge: (earlier: V | undefined, next: V) => V,
    private readonly log: { error(obj: object, msg: string): void },
    private readonly what: string,
  ) {}

  /** Flushes every few seconds until `stop`; the timer does not keep the process alive. */
  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.flush(), FLUSH_MS);
    this.timer.unref();
  }

  add(id: string, value: V): void {
    this.pending.set(id, this.merge(this.pending.get(id), value));
  }

  /** Everything added since the previous flush, in one write. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending].map(([id, value]) => ({ id, value }));
    this.pending = new Map();
    await this.write(batch).catch((err: unknown) => this.log.error({ err }, `${this.what} flush failed`));
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }
}
