/**
 * At most `limit` tasks at once; the others wait their turn, first come first served. A slot is
 * handed from a finishing task to the next waiting one directly, so a newcomer cannot take it in
 * between and the limit holds exactly.
 */
export function concurrencyLimit(limit: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (task) => {
    if (running < limit) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
