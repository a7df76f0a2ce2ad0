/**
 * How command results go back on an Attach stream.
 *
 * A client that registered with `batch_results` gets its results together:
 * completed results collect here and go out as one ResultBatch at the end of
 * the event-loop turn (`setImmediate`: every command of the request being
 * read, and every other request already read, has answered by then), or at
 * once when the pending batch reaches {@link MAX_RESULT_BATCH_RESULTS}
 * results or {@link MAX_RESULT_BATCH_BYTES} estimated bytes. Other clients
 * get one CommandResult per stream message, as before ResultBatch existed.
 *
 * Backpressure, unbatched: a result whose write fills the stream's buffer
 * stops the reading of requests until `'drain'`.
 *
 * Backpressure (batched mode): while the stream's write buffer is full
 * (`write()` returned false, no `'drain'` yet), results wait here. Once a
 * full batch is waiting, the stream stops being read (no more commands are
 * taken, HTTP/2 flow control holds the client back) until `'drain'`. What
 * waits is then bounded by the commands that were already running or read:
 * the commands in progress per stream plus one request's commands.
 */
import type { AttachResponse, CommandResult } from "../gen/switchboard/gateway/v1/gateway.js";

/** Most results in one ResultBatch; a full batch is written at once. */
export const MAX_RESULT_BATCH_RESULTS = 1024;
/** Most estimated bytes of results in one ResultBatch (one larger result still goes, alone); a full batch is written at once. */
export const MAX_RESULT_BATCH_BYTES = 1024 * 1024;

/** The part of a grpc-js server stream the writer uses. */
export interface ResultStream {
  write(res: AttachResponse): boolean;
  /** True after `write()` returned false and until `'drain'`. */
  readonly writableNeedDrain: boolean;
  pause(): unknown;
  resume(): unknown;
}

/** Bytes a result takes on the wire, roughly, without encoding it. */
export function estimateResultBytes(r: CommandResult): number {
  const base = 16;
  if (r.error !== undefined) return base + r.error.message.length;
  const k = r.kind;
  switch (k?.$case) {
    case "peerData":
      return base + k.value.value.length;
    case "broadcast":
      return base + 64 * k.value.results.length;
    case "peers":
      return base + 512 * k.value.peers.length;
    case "peer":
      return base + 1024;
    default:
      return base;
  }
}

export class ResultWriter {
  private batched = false;
  private pending: CommandResult[] = [];
  private pendingBytes = 0;
  private scheduled: NodeJS.Immediate | null = null;
  private paused = false;
  private closed = false;
  private readonly onTurnEnd = (): void => {
    this.scheduled = null;
    this.flush();
  };

  constructor(
    private readonly stream: ResultStream,
    /** Called with the size of each ResultBatch written (for metrics). */
    private readonly observeBatch?: (results: number) => void,
  ) {}

  /** Results waiting to be written (for a stream whose buffer is full). */
  get waiting(): number {
    return this.pending.length;
  }

  /** True while the stream is not read until its buffer drains. */
  get readingPaused(): boolean {
    return this.paused;
  }

  /** From now on, results go out in ResultBatches (the client set Register.batch_results). */
  batchResults(): void {
    this.batched = true;
  }

  add(result: CommandResult): void {
    if (this.closed) return;
    if (!this.batched) {
      // One message per result; a full write buffer stops the reading of requests until 'drain',
      // so a client that sends commands without reading results cannot make the node buffer without bound.
      if (!this.stream.write({ msg: { $case: "result", value: result } }) && !this.paused) {
        this.paused = true;
        this.stream.pause();
      }
      return;
    }
    this.pending.push(result);
    this.pendingBytes += estimateResultBytes(result);
    if (this.full()) this.flush();
    else this.scheduled ??= setImmediate(this.onTurnEnd);
  }

  /** The stream's buffer drained: write what waits, and read requests again. */
  drained(): void {
    this.flush();
    if (this.paused && !this.full()) {
      this.paused = false;
      this.stream.resume();
    }
  }

  /** The stream is over: nothing more is written. */
  close(): void {
    this.closed = true;
    if (this.scheduled !== null) clearImmediate(this.scheduled);
    this.scheduled = null;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private full(): boolean {
    return this.pending.length >= MAX_RESULT_BATCH_RESULTS || this.pendingBytes >= MAX_RESULT_BATCH_BYTES;
  }

  private flush(): void {
    while (this.pending.length > 0 && !this.closed) {
      if (this.stream.writableNeedDrain) {
        if (!this.paused && this.full()) {
          this.paused = true;
          this.stream.pause();
        }
        return; // drained() goes on
      }
      let results: CommandResult[];
      if (!this.full()) {
        results = this.pending;
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        // More waited than one batch takes (while the buffer was full): cut one batch off the front.
        let n = 0;
        let bytes = 0;
        while (n < this.pending.length && n < MAX_RESULT_BATCH_RESULTS) {
          const b = estimateResultBytes(this.pending[n] as CommandResult);
          if (n > 0 && bytes + b > MAX_RESULT_BATCH_BYTES) break;
          bytes += b;
          n++;
        }
        results = this.pending.splice(0, n);
        this.pendingBytes -= bytes;
      }
      this.observeBatch?.(results.length);
      this.stream.write({ msg: { $case: "results", value: { results } } });
    }
  }
}
