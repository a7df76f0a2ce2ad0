/**
 * Pull-style reads over a Node `Readable` (usually a socket or a
 * SecretConnection) for handshakes: "give me exactly n bytes", "give me one
 * uvarint-delimited message".
 *
 * The reader keeps the stream in paused mode and calls `read()` only while a
 * request is waiting, so it holds at most what that request needs plus one
 * chunk; the stream's own buffer (bounded by its highWaterMark) and TCP flow
 * control hold the rest. {@link StreamReader.release} detaches it and returns
 * the bytes it pulled but did not hand out, so the next layer loses nothing.
 */
import type { Readable } from "node:stream";
import { MessageTooLargeError, UnexpectedEofError } from "./errors.js";
import { MAX_VARINT_BYTES, readUvarint } from "./varint.js";

export interface StreamReaderOptions {
  /** Aborting rejects the pending and all later reads with the signal's reason. */
  readonly signal?: AbortSignal;
}

const EMPTY = new Uint8Array(0);

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return Buffer.from(chunk, "utf8");
  throw new TypeError("StreamReader needs a byte stream, got an object-mode chunk");
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error("StreamReader: aborted", { cause: reason });
}

export class StreamReader {
  private readonly chunks: Uint8Array[] = [];
  private bufferedBytes = 0;
  private ended = false;
  private closed = false;
  private error: unknown = undefined;
  private released = false;
  private reading = false;
  private wake: (() => void) | null = null;
  private readonly signal: AbortSignal | undefined;

  private readonly onReadable = (): void => this.notify();
  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };
  private readonly onClose = (): void => {
    this.closed = true;
    this.notify();
  };
  private readonly onError = (err: unknown): void => {
    this.error = err;
    this.notify();
  };
  private readonly onAbort = (): void => this.notify();

  constructor(
    private readonly stream: Readable,
    options: StreamReaderOptions = {},
  ) {
    this.signal = options.signal;
    stream.on("readable", this.onReadable);
    stream.on("end", this.onEnd);
    stream.on("close", this.onClose);
    stream.on("error", this.onError);
    this.signal?.addEventListener("abort", this.onAbort);
  }

  /** Reads exactly `n` bytes. Rejects with {@link UnexpectedEofError} if the stream ends first. */
  async readExactly(n: number, what = "stream"): Promise<Uint8Array> {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`readExactly: bad length ${n}`);
    return this.exclusive(async () => {
      await this.fill(n, what);
      return this.take(n);
    });
  }

  /**
   * Reads one `uvarint(len) || body` message and returns the body. The length
   * is checked against `maxBodyBytes` as soon as the prefix is complete, before
   * waiting for or allocating the body: rejects with {@link MessageTooLargeError},
   * {@link VarintOverflowError} or {@link UnexpectedEofError}.
   */
  async readDelimited(maxBodyBytes: number, what: string): Promise<Uint8Array> {
    return this.exclusive(async () => {
      let prefix = readUvarint(this.peek(Math.min(this.bufferedBytes, MAX_VARINT_BYTES)), 0, what);
      while (!prefix.complete) {
        await this.fill(this.bufferedBytes + 1, what);
        prefix = readUvarint(this.peek(Math.min(this.bufferedBytes, MAX_VARINT_BYTES)), 0, what);
      }
      if (prefix.value > maxBodyBytes) throw new MessageTooLargeError(what, prefix.value, maxBodyBytes);
      this.take(prefix.size);
      await this.fill(prefix.value, what);
      return this.take(prefix.value);
    });
  }

  /**
   * Detaches from the stream and the signal (no listener stays behind) and
   * returns every byte pulled off the stream but not yet returned by a read.
   * A read still pending rejects. Calling it again returns an empty array.
   */
  release(): Uint8Array {
    if (this.released) return EMPTY;
    this.released = true;
    this.stream.off("readable", this.onReadable);
    this.stream.off("end", this.onEnd);
    this.stream.off("close", this.onClose);
    this.stream.off("error", this.onError);
    this.signal?.removeEventListener("abort", this.onAbort);
    const rest = this.take(this.bufferedBytes);
    this.notify();
    return rest;
  }

  private async exclusive<T>(body: () => Promise<T>): Promise<T> {
    if (this.reading) throw new Error("StreamReader: one read at a time");
    this.reading = true;
    try {
      return await body();
    } finally {
      this.reading = false;
    }
  }

  /** Waits until at least `n` bytes are buffered. */
  private async fill(n: number, what: string): Promise<void> {
    for (;;) {
      this.throwIfStopped();
      while (this.bufferedBytes < n) {
        const chunk: unknown = this.stream.read();
        if (chunk === null) break;
        const bytes = toBytes(chunk);
        this.chunks.push(bytes);
        this.bufferedBytes += bytes.length;
      }
      if (this.bufferedBytes >= n) return;
      if (this.error !== undefined) throw asError(this.error);
      if (this.stream.errored !== null) throw this.stream.errored;
      if (this.ended || this.closed || this.stream.readableEnded || this.stream.destroyed) {
        throw new UnexpectedEofError(what);
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private throwIfStopped(): void {
    if (this.released) throw new Error("StreamReader: released");
    if (this.signal?.aborted === true) throw asError(this.signal.reason);
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = null;
    wake?.();
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0];
    if (first === undefined || n === 0) return EMPTY;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let filled = 0;
    for (const c of this.chunks) {
      const part = c.subarray(0, n - filled);
      out.set(part, filled);
      filled += part.length;
      if (filled === n) break;
    }
    return out;
  }

  /** Removes and returns the first `n` buffered bytes (a view when they sit in one chunk). */
  private take(n: number): Uint8Array {
    if (n === 0) return EMPTY;
    const first = this.chunks[0] as Uint8Array;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.bufferedBytes -= n;
      return first.subarray(0, n);
    }
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0] as Uint8Array;
      const want = n - filled;
      if (c.length <= want) {
        out.set(c, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, want), filled);
        filled += want;
        this.chunks[0] = c.subarray(want);
      }
    }
    this.bufferedBytes -= n;
    return out;
  }
}
