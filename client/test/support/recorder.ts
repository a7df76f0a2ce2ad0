/**
 * Runs a ReactorClient's events through `consume()` and records them, with an
 * optional per-event delay (a slow reactor), for the conformance suite.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ReactorClient } from "../../src/reactor-client.js";
import type { ReactorEvent } from "../../src/types.js";

export class Recorder {
  readonly events: ReactorEvent[] = [];
  /** Node events the handler finished with (its promise about to resolve). */
  consumed = 0;
  /** Delay per Receive event, in ms (0: consume at once). */
  slowMs = 0;
  readonly done: Promise<void>;
  /** Set when `done` settled. */
  outcome: { error: unknown } | undefined;
  private readonly waiters: { pred: () => boolean; resolve: () => void }[] = [];
  private readonly abort = new AbortController();

  constructor(readonly client: ReactorClient) {
    this.done = client.consume(async (e) => {
      this.events.push(e);
      this.notify();
      if (e.type === "receive" && this.slowMs > 0) await sleep(this.slowMs);
      if (e.type !== "session") this.consumed++;
    }, { signal: this.abort.signal });
    this.done.then(
      () => {
        this.outcome = { error: undefined };
        this.notify();
      },
      (error: unknown) => {
        this.outcome = { error };
        this.notify();
      },
    );
  }

  /** Leaves the stream (the client cancels its call). */
  stop(): void {
    this.abort.abort();
  }

  of<T extends ReactorEvent["type"]>(type: T, from = 0): Extract<ReactorEvent, { type: T }>[] {
    return this.events.slice(from).filter((e): e is Extract<ReactorEvent, { type: T }> => e.type === type);
  }

  /** Waits until `pred` holds; the error lists the events seen. */
  waitFor(pred: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const tail = this.events.slice(-15).map((e) => e.type + ("peer" in e ? `(${e.peer.id.slice(0, 6)})` : ""));
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last events: ${tail.join(" ")}; outcome: ${this.outcome === undefined ? "-" : this.outcome.error instanceof Error ? this.outcome.error.message : "ok"}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}
