/**
 * Flow monitoring and rate limiting with the semantics of CometBFT's
 * `libs/flowrate` where they matter on the wire:
 *
 * - time is cut into samples of 100 ms; a sample closes at the first update
 *   at least one sample period after the previous one closed;
 * - at a rate limit of R bytes/s, a transfer must wait while the bytes moved
 *   in the current sample have reached round(R × 0.1 s) (at least 1), and
 *   then waits until the sample closes (no less than 5 ms per wait);
 * - a rate of 0 or below means unlimited;
 * - the current rate is an exponential moving average of per-sample rates
 *   with a 1 s window.
 *
 * Differences: flowrate rounds its clock to 20 ms, we use the clock as is;
 * our `bytes` total includes the open sample.
 */
import type { Clock, ClockTimer } from "./clock.js";
import { systemClock } from "./clock.js";
import { DEFAULT_FLOW_SAMPLE_MS, DEFAULT_FLOW_WINDOW_MS } from "./defaults.js";

/** flowrate never sleeps less than this while waiting for a sample to close. */
const MIN_WAIT_MS = 5;

export interface FlowStatus {
  /** Clock time at which the monitor was created, in ms. */
  readonly startMs: number;
  /** Time covered by closed samples, in ms. */
  readonly durationMs: number;
  /** Time since the last update that moved at least one byte, in ms. */
  readonly idleMs: number;
  /** Total bytes moved, the open sample included. */
  readonly bytes: number;
  /** Closed samples. */
  readonly samples: number;
  /** Rate of the last closed sample. */
  readonly instRateBytesPerSecond: number;
  /** Moving average of the sample rates (flowrate's `CurRate`). */
  readonly curRateBytesPerSecond: number;
  /** Bytes of closed samples divided by their duration. */
  readonly avgRateBytesPerSecond: number;
  /** Highest sample rate seen. */
  readonly peakRateBytesPerSecond: number;
}

export interface FlowMonitorOptions {
  readonly clock?: Clock;
  /** @default 100 */
  readonly sampleMs?: number;
  /** @default 1000 */
  readonly windowMs?: number;
}

/** Measures a byte stream in samples and says how long a rate limit requires waiting. */
export class FlowMonitor {
  private readonly clock: Clock;
  private readonly sampleMs: number;
  private readonly windowMs: number;
  private readonly startMs: number;
  private closedBytes = 0;
  private samples = 0;
  private rateSample = 0;
  private rateEma = 0;
  private ratePeak = 0;
  private sampleBytes = 0;
  private sampleStartMs: number;
  private lastActiveMs: number;

  constructor(options: FlowMonitorOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.sampleMs = options.sampleMs ?? DEFAULT_FLOW_SAMPLE_MS;
    this.windowMs = options.windowMs ?? DEFAULT_FLOW_WINDOW_MS;
    const now = this.clock.now();
    this.startMs = now;
    this.sampleStartMs = now;
    this.lastActiveMs = now;
  }

  /** Records `bytes` moved now (0 just advances the sample). */
  update(bytes: number): void {
    this.advance(bytes);
  }

  /** Bytes moved in the open sample. */
  get currentSampleBytes(): number {
    return this.sampleBytes;
  }

  /**
   * How long to wait, in ms, before moving more bytes under a limit of
   * `rateBytesPerSecond`; 0 means go now. Waiting that long and asking again
   * is the equivalent of flowrate's blocking `Limit`.
   */
  limitDelayMs(rateBytesPerSecond: number): number {
    if (rateBytesPerSecond < 1) return 0;
    const limit = Math.max(1, Math.round((rateBytesPerSecond * this.sampleMs) / 1000));
    const now = this.advance(0);
    if (this.sampleBytes < limit) return 0;
    return Math.max(MIN_WAIT_MS, this.sampleStartMs + this.sampleMs - now);
  }

  status(): FlowStatus {
    const now = this.advance(0);
    const durationMs = this.sampleStartMs - this.startMs;
    return {
      startMs: this.startMs,
      durationMs,
      idleMs: now - this.lastActiveMs,
      bytes: this.closedBytes + this.sampleBytes,
      samples: this.samples,
      instRateBytesPerSecond: Math.round(this.rateSample),
      curRateBytesPerSecond: Math.round(this.rateEma),
      avgRateBytesPerSecond: durationMs > 0 ? Math.round((this.closedBytes * 1000) / durationMs) : 0,
      peakRateBytesPerSecond: Math.round(this.ratePeak),
    };
  }

  private advance(bytes: number): number {
    const now = this.clock.now();
    if (bytes > 0) this.lastActiveMs = now;
    this.sampleBytes += bytes;
    const elapsedMs = now - this.sampleStartMs;
    if (elapsedMs >= this.sampleMs) {
      const seconds = elapsedMs / 1000;
      this.rateSample = this.sampleBytes / seconds;
      if (this.rateSample > this.ratePeak) this.ratePeak = this.rateSample;
      if (this.samples > 0) {
        const weight = Math.exp(-elapsedMs / this.windowMs);
        this.rateEma = this.rateSample + weight * (this.rateEma - this.rateSample);
      } else {
        this.rateEma = this.rateSample;
      }
      this.closedBytes += this.sampleBytes;
      this.samples++;
      this.sampleBytes = 0;
      this.sampleStartMs = now;
    }
    return now;
  }
}

/**
 * A rate limit over a {@link FlowMonitor} that waits with a timer instead of
 * blocking: `ready()` answers at once, and when it says no it arms one timer
 * that calls `onReady` once the limit allows more. The caller records what
 * it moved with `monitor.update`.
 */
export class FlowRateLimiter {
  private timer: ClockTimer | null = null;

  constructor(
    readonly monitor: FlowMonitor,
    private readonly rateBytesPerSecond: number,
    private readonly clock: Clock,
    private readonly onReady: () => void,
  ) {}

  /** True if bytes may move now; otherwise `onReady` will be called later (once). */
  ready(): boolean {
    if (this.timer !== null) return false;
    const delayMs = this.monitor.limitDelayMs(this.rateBytesPerSecond);
    if (delayMs === 0) return true;
    this.timer = this.clock.setTimeout(() => {
      this.timer = null;
      this.onReady();
    }, delayMs);
    return false;
  }

  /** True while a wait is armed. */
  get waiting(): boolean {
    return this.timer !== null;
  }

  /** Disarms the pending wait, if any; `onReady` will not be called for it. */
  cancel(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
