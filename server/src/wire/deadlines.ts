/**
 * Deadlines that share one timer. A handshake needs a deadline but almost
 * never reaches it; a timer of its own per handshake (set, then cleared a few
 * milliseconds later) is work for every connection. Here deadlines wait in
 * one list ordered by expiry, and a single timer is armed for the earliest:
 * adding a deadline later than the earliest, or cancelling one, touches no
 * timer at all. Deadlines of equal duration expire in the order they were
 * added, so adding one is O(1) in the usual case (walks back from the tail).
 *
 * A deadline fires no earlier than its duration after it was added
 * (`performance.now()`): when the timer wakes up early (Node's timers count
 * from the event loop's cached time), it is re-armed for the rest.
 */

/** A deadline waiting in a {@link DeadlineQueue}. */
export class Deadline {
  /** @internal */ prev: Deadline | null = null;
  /** @internal */ next: Deadline | null = null;
  /** @internal */ queued = true;

  constructor(
    /** @internal */ readonly queue: DeadlineQueue,
    /** When it fires, in `performance.now()` milliseconds. */
    readonly at: number,
    /** @internal */ readonly fire: () => void,
  ) {}

  /** Removes the deadline; it will not fire. Harmless after it fired or was cancelled. */
  cancel(): void {
    this.queue.remove(this);
  }
}

export class DeadlineQueue {
  private head: Deadline | null = null;
  private tail: Deadline | null = null;
  private timer: NodeJS.Timeout | null = null;
  /** When the armed timer is due (`performance.now()` ms); Infinity when none is armed. */
  private armedAt = Infinity;
  private count = 0;

  /** Deadlines waiting. */
  get size(): number {
    return this.count;
  }

  /** Calls `fire` once `timeoutMs` from now, unless the returned deadline is cancelled first. */
  add(timeoutMs: number, fire: () => void): Deadline {
    const deadline = new Deadline(this, performance.now() + timeoutMs, fire);
    let after = this.tail;
    while (after !== null && after.at > deadline.at) after = after.prev;
    deadline.prev = after;
    deadline.next = after === null ? this.head : after.next;
    if (deadline.next === null) this.tail = deadline;
    else deadline.next.prev = deadline;
    if (after === null) this.head = deadline;
    else after.next = deadline;
    this.count++;
    if (deadline.at < this.armedAt) this.arm(deadline.at);
    return deadline;
  }

  /** @internal (use {@link Deadline.cancel}) */
  remove(deadline: Deadline): void {
    if (!deadline.queued) return;
    deadline.queued = false;
    if (deadline.prev === null) this.head = deadline.next;
    else deadline.prev.next = deadline.next;
    if (deadline.next === null) this.tail = deadline.prev;
    else deadline.next.prev = deadline.prev;
    deadline.prev = null;
    deadline.next = null;
    this.count--;
    // The timer stays armed for a deadline that may be gone (it re-arms when
    // it wakes), except when nothing waits: then it must not hold the process.
    if (this.count === 0) this.disarm();
  }

  private arm(at: number): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.armedAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(1, Math.ceil(at - performance.now())));
  }

  private disarm(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.armedAt = Infinity;
  }

  private readonly onTimer = (): void => {
    this.timer = null;
    this.armedAt = Infinity;
    const now = performance.now();
    let first = this.head;
    while (first !== null && first.at <= now) {
      this.remove(first);
      first.fire();
      first = this.head;
    }
    if (first !== null && first.at < this.armedAt) this.arm(first.at);
  };
}

/** The process's queue for handshake deadlines. */
export const sharedDeadlines = new DeadlineQueue();
