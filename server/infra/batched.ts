export interface BatchOptions {
  /** At most this many inputs per call of `flush`. */
  maxBatch?: number;
  /**
   * One call of `flush` at a time: inputs arriving meanwhile wait for it to end and then go
   * together (group commit). For work that serialises on a shared row anyway, this makes the
   * batches as large as the contention, instead of each tick's few inputs queueing on the lock.
   */
  oneAtATime?: boolean;
}

/**
 * Coalesces calls made in the same turn of the event loop into one call of `flush`, so that
 * thousands of devices answering at once cost a handful of SQL statements instead of thousands.
 * `flush` returns one output per input, in order.
 */
export function batched<I, O>(flush: (items: I[]) => Promise<O[]>, options: BatchOptions = {}): (item: I) => Promise<O> {
  const maxBatch = options.maxBatch ?? 1000;
  let pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;
  let running = 0;

  const schedule = () => {
    if (scheduled || pending.length === 0) return;
    scheduled = true;
    setImmediate(run);
  };

  const run = () => {
    scheduled = false;
    if (options.oneAtATime && running > 0) return;
    const batch = pending;
    pending = [];
    for (let i = 0; i < batch.length; i += maxBatch) {
      const slice = batch.slice(i, i + maxBatch);
      running++;
      flush(slice.map((p) => p.item))
        .then(
          (outputs) => slice.forEach((p, j) => p.resolve(outputs[j]!)),
          (error: unknown) => slice.forEach((p) => p.reject(error)),
        )
        .finally(() => {
          running--;
          if (options.oneAtATime && running === 0) schedule();
        });
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      schedule();
    });
}
