/**
 * The time source of the MConnection: a monotonic clock plus one-shot timers.
 *
 * Every timer the MConnection arms (flush throttle, ping, pong deadline,
 * statistics decay, rate-limit waits, send timeouts) goes through a `Clock`,
 * so tests can drive time by hand and check that nothing is left armed after
 * `stop()`.
 */

/** A timer armed by {@link Clock.setTimeout}. */
export interface ClockTimer {
  /** Disarms the timer; calling it again, or after it fired, does nothing. */
  cancel(): void;
}

export interface Clock {
  /** Monotonic time in milliseconds; only differences are meaningful. */
  now(): number;
  /** Runs `callback` once, `delayMs` from now. */
  setTimeout(callback: () => void, delayMs: number): ClockTimer;
}

/** The process clock: `performance.now()` and the global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
};
