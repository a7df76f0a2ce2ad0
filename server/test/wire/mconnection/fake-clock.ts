/**
 * A hand-driven {@link Clock} for tests: time moves only through `advance`,
 * which fires due timers in order. `pendingTimers` shows what is still armed.
 */
import type { Clock, ClockTimer } from "../../../src/wire/mconnection/clock.js";

interface Entry {
  readonly id: number;
  readonly atMs: number;
  readonly callback: () => void;
}

export class FakeClock implements Clock {
  private nowMs = 0;
  private nextId = 0;
  private readonly timers = new Map<number, Entry>();

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): ClockTimer {
    const id = this.nextId++;
    this.timers.set(id, { id, atMs: this.nowMs + Math.max(0, delayMs), callback });
    return { cancel: () => this.timers.delete(id) };
  }

  /** Timers armed and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.timers.size;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, earliest first. */
  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let due: Entry | undefined;
      for (const entry of this.timers.values()) {
        if (entry.atMs <= target && (due === undefined || entry.atMs < due.atMs || (entry.atMs === due.atMs && entry.id < due.id))) due = entry;
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.callback();
    }
    this.nowMs = target;
  }
}
