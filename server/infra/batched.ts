/**
 * Coalesces calls made in the same turn of the event loop into one call of `flush`, so that
 * thousands of devices answering at once cost a handful of SQL statements instead of thousands.
 * `flush` returns one output per input, in order.
 */
export function batched<I, O>(flush: (items: I[]) => Promise<O[]>, maxBatch = 1000): (item: I) => Promise<O> {
  let pending: { item: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  let scheduled = false;

  const run = () => {
    scheduled = false;
    const batch = pending;
    pending = [];
    for (let i = 0; i < batch.length; i += maxBatch) {
      const slice = batch.slice(i, i + maxBatch);
      flush(slice.map((p) => p.item)).then(
        (outputs) => slice.forEach((p, j) => p.resolve(outputs[j]!)),
        (error: unknown) => slice.forEach((p) => p.reject(error)),
      );
    }
  };

  return (item) =>
    new Promise<O>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!scheduled) {
        scheduled = true;
        setImmediate(run);
      }
    });
}
