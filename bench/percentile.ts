/**
 * The value below which a share `p` (0–1) of the samples falls. On its own, without the bench
 * harness's server imports, so that the fault drill's client processes can use it too.
 */
export function percentile(samples: readonly number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(sorted.length * p) - 1))]!;
}
