/**
 * Durations as people read them, in the config's spelling. Below every layer
 * (the gateway's messages use it as the config layer does).
 */

/** Longest delay Node's timers can wait (2^31 − 1 ms, about 24.8 days): every configurable duration is bounded by it. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** Milliseconds in the config's spelling: `"100ms"`, `"3s"`, `"2m"`, `"1h"`. */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1_000 === 0) return `${ms / 1_000}s`;
  return `${ms}ms`;
}
