/**
 * Two connected in-memory duplex streams: what one writes, the other reads.
 * Node 20 has no `stream.duplexPair`, so tests use this one.
 */
import { Duplex } from "node:stream";

class Half extends Duplex {
  other: Half | null = null;
  private readonly pendingCallbacks: (() => void)[] = [];

  override _read(): void {
    const cbs = this.other?.pendingCallbacks.splice(0) ?? [];
    for (const cb of cbs) cb();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const other = this.other;
    if (other === null || other.destroyed) {
      cb(new Error("duplex pair: the other side is closed"));
      return;
    }
    // Apply the reader's backpressure: complete the write only once the
    // other side wants more.
    if (other.push(chunk)) cb();
    else this.pendingCallbacks.push(() => cb());
  }

  override _final(cb: (err?: Error | null) => void): void {
    this.other?.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err: Error | null) => void): void {
    const other = this.other;
    this.other = null;
    for (const pending of this.pendingCallbacks.splice(0)) pending();
    if (other !== null && !other.destroyed) other.destroy();
    cb(err);
  }
}

export function createDuplexPair(): [Duplex, Duplex] {
  const a = new Half();
  const b = new Half();
  a.other = b;
  b.other = a;
  return [a, b];
}
