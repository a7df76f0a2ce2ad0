/**
 * Keeps a line that can repeat (a peer that redials us every few seconds and
 * is refused each time) from flooding the log: the first line of a key is
 * announced at its own level; repeats within the window are not (the caller
 * logs them at debug), and the next announced line of that key says how many
 * were held back. Keys are bounded: past `maxKeys` the least recently
 * announced is forgotten.
 */
export class RepeatFilter {
  private readonly entries = new Map<string, { until: number; held: number }>();

  constructor(
    private readonly windowMs: number,
    private readonly maxKeys: number,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * `null` for a repeat within the window of the last announced line of
   * `key`; otherwise the line is announced, and this is how many repeats were
   * held back since the previous one (0 for a first).
   */
  admit(key: string): number | null {
    const t = this.now();
    const e = this.entries.get(key);
    if (e !== undefined && t < e.until) {
      e.held++;
      return null;
    }
    const held = e?.held ?? 0;
    this.entries.delete(key);
    if (this.entries.size >= this.maxKeys) {
      const oldest = this.entries.keys().next();
      if (oldest.done !== true) this.entries.delete(oldest.value);
    }
    this.entries.set(key, { until: t + this.windowMs, held: 0 });
    return held;
  }

  /** Keys remembered (at most `maxKeys`). */
  get size(): number {
    return this.entries.size;
  }
}
