/** Percentiles and medians, the same way the Go reference computes them. */

export interface Percentiles {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly maxUs: number;
}

/** Nearest-rank percentiles of nanosecond samples, in µs (Go: `summarize`). */
export function summarizeNs(samples: readonly number[] | Float64Array): Percentiles {
  if (samples.length === 0) return { p50Us: 0, p99Us: 0, maxUs: 0 };
  const s = Float64Array.from(samples).sort();
  const at = (q: number): number => (s[Math.floor(q * (s.length - 1) + 0.5)] ?? 0) / 1e3;
  return { p50Us: at(0.5), p99Us: at(0.99), maxUs: (s[s.length - 1] ?? 0) / 1e3 };
}

/** The median of `values` (the mean of the middle two for an even count). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** Samples to take for a message size: `targetBytes / size`, clamped (Go: `countFor`). */
export function countFor(size: number, targetBytes: number, min: number, max: number): number {
  return Math.max(min, Math.min(max, Math.floor(targetBytes / size)));
}
