/**
 * Property tests over real sockets draw random schedules whose timing is real,
 * so how often a path is hit varies from one run to the next. A floor states
 * the least each path must be hit for the property to mean something; when
 * the planned runs fall short of a floor, more runs of the same property are
 * added in small batches, up to a bound. Every extra run checks the property
 * in full, so topping up never weakens it; a path that the code under test
 * no longer reaches still fails the floor once the bound is spent.
 */
import fc from "fast-check";

export type Counters = Readonly<Record<string, number>>;

/** Each floor not exceeded, as "name value (needs > floor)". */
export function shortfall(counters: Counters, floors: Counters): string[] {
  return Object.entries(floors)
    .filter(([k, floor]) => (counters[k] ?? 0) <= floor)
    .map(([k, floor]) => `${k} ${counters[k] ?? 0} (needs > ${floor})`);
}

export interface CoverageRunOptions {
  numRuns: number;
  /** Live counters the property updates. */
  counters: Counters;
  /** Each counter must end strictly above its floor. */
  floors: Counters;
  /** Extra runs allowed in all (default 40). */
  maxExtraRuns?: number;
  /** Extra runs per batch (default 5). */
  batch?: number;
}

/** Runs the property numRuns times, then tops up while a floor is unmet; returns how many extra runs it took and what is still short. */
export async function assertWithCoverage<T>(
  property: fc.IAsyncProperty<T>,
  opts: CoverageRunOptions,
): Promise<{ extraRuns: number; short: string[] }> {
  const maxExtra = opts.maxExtraRuns ?? 40;
  const batch = opts.batch ?? 5;
  await fc.assert(property, { numRuns: opts.numRuns, endOnFailure: true });
  let extraRuns = 0;
  while (shortfall(opts.counters, opts.floors).length > 0 && extraRuns < maxExtra) {
    await fc.assert(property, { numRuns: batch, endOnFailure: true });
    extraRuns += batch;
  }
  return { extraRuns, short: shortfall(opts.counters, opts.floors) };
}
