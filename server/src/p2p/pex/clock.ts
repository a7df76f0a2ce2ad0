/**
 * Time and randomness for the PEX reactor and the address book, injected so
 * that tests can drive both by hand.
 */

/** A timer armed by {@link PexClock.setTimeout}. */
export interface PexTimer {
  /** Disarms the timer; calling it again, or after it fired, does nothing. */
  cancel(): void;
}

export interface PexClock {
  /**
   * Wall-clock time in milliseconds since the Unix epoch. The address book
   * persists these values, so a monotonic clock would not do.
   */
  now(): number;
  /** Runs `callback` once, `delayMs` from now. */
  setTimeout(callback: () => void, delayMs: number): PexTimer;
}

/** `Date.now()` and the global timers. Timers do not keep the process alive. */
export const systemPexClock: PexClock = {
  now: () => Date.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    handle.unref();
    return { cancel: () => clearTimeout(handle) };
  },
};

/** A source of uniform random numbers. Not for secrets: the book's hash key comes from `crypto`. */
export interface PexRandom {
  /** A number in [0, 1). */
  float(): number;
}

export const mathRandom: PexRandom = { float: () => Math.random() };

/** An integer in [0, n); 0 when n ≤ 0. */
export function randomInt(random: PexRandom, n: number): number {
  if (n <= 0) return 0;
  return Math.min(n - 1, Math.floor(random.float() * n));
}

/** Shuffles the first `count` positions of `items` in place (partial Fisher-Yates). */
export function shufflePrefix(random: PexRandom, items: unknown[], count: number): void {
  const n = Math.min(count, items.length);
  for (let i = 0; i < n; i++) {
    const j = i + randomInt(random, items.length - i);
    const tmp = items[i];
    items[i] = items[j];
    items[j] = tmp;
  }
}
