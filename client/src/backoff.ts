/**
 * Reconnect backoff: how long to wait before each re-attach attempt, and when
 * to give up. Exponential with a cap and random jitter, like grpc-js's
 * `BackoffTimeout`, but counted: after `count` failed attempts in a row the
 * stream fails for good.
 *
 * @module
 */
import { ConfigError } from "./errors.js";
import {
  DEFAULT_RECONNECT_COUNT,
  DEFAULT_RECONNECT_INITIAL_DELAY_MS,
  DEFAULT_RECONNECT_JITTER,
  DEFAULT_RECONNECT_MAX_DELAY_MS,
  DEFAULT_RECONNECT_MULTIPLIER,
} from "./defaults.js";

/**
 * How the SDK re-attaches after the stream fails with a transient status
 * (UNAVAILABLE, a cut connection, ...). Give a number for `count` alone, as
 * with rxjs `retry(3)`, `false` (or 0) never to re-attach, or a config.
 *
 * @example
 * ```ts
 * new ReactorClient({ ...options, reconnect: 5 });                                  // five attempts
 * new ReactorClient({ ...options, reconnect: { initialDelayMs: 50, maxDelayMs: 1_000 } }); // forever, faster
 * new ReactorClient({ ...options, reconnect: false });                              // fail on the first error
 * ```
 */
export interface ReconnectConfig {
  /** Failed attempts in a row before giving up. @default Infinity */
  readonly count?: number;
  /** Delay before the first attempt, in ms. @default 100 */
  readonly initialDelayMs?: number;
  /** Longest delay, in ms. @default 5000 */
  readonly maxDelayMs?: number;
  /** Delay growth per failed attempt. @default 2 */
  readonly multiplier?: number;
  /** Each delay varies by ± this fraction (0..1). @default 0.2 */
  readonly jitter?: number;
  /** A successful registration resets the count and the delay. @default true */
  readonly resetOnSuccess?: boolean;
}

export type ResolvedReconnectConfig = Required<ReconnectConfig>;

/** Fills the defaults of a `reconnect` option and checks its ranges (errors name the field). */
export function resolveReconnectConfig(option: number | false | ReconnectConfig | undefined): ResolvedReconnectConfig {
  const given: ReconnectConfig = option === undefined ? {} : option === false ? { count: 0 } : typeof option === "number" ? { count: option } : option;
  const r: ResolvedReconnectConfig = {
    count: given.count ?? DEFAULT_RECONNECT_COUNT,
    initialDelayMs: given.initialDelayMs ?? DEFAULT_RECONNECT_INITIAL_DELAY_MS,
    maxDelayMs: given.maxDelayMs ?? DEFAULT_RECONNECT_MAX_DELAY_MS,
    multiplier: given.multiplier ?? DEFAULT_RECONNECT_MULTIPLIER,
    jitter: given.jitter ?? DEFAULT_RECONNECT_JITTER,
    resetOnSuccess: given.resetOnSuccess ?? true,
  };
  if (!(r.count >= 0) || (Number.isFinite(r.count) && !Number.isInteger(r.count))) throw new ConfigError(`reconnect.count: ${r.count} is not an integer >= 0 (or Infinity)`);
  if (!(r.initialDelayMs >= 0) || !Number.isFinite(r.initialDelayMs)) throw new ConfigError(`reconnect.initialDelayMs: ${r.initialDelayMs} is not >= 0`);
  if (!(r.maxDelayMs >= r.initialDelayMs) || !Number.isFinite(r.maxDelayMs)) throw new ConfigError(`reconnect.maxDelayMs: ${r.maxDelayMs} is not >= initialDelayMs (${r.initialDelayMs})`);
  if (!(r.multiplier >= 1) || !Number.isFinite(r.multiplier)) throw new ConfigError(`reconnect.multiplier: ${r.multiplier} is not >= 1`);
  if (!(r.jitter >= 0 && r.jitter <= 1)) throw new ConfigError(`reconnect.jitter: ${r.jitter} is not in 0..1`);
  return r;
}

/**
 * Counts failed attempts and computes the delay before the next one.
 *
 * @example
 * ```ts
 * const backoff = new Backoff(resolveReconnectConfig({ count: 3, jitter: 0 }));
 * backoff.next(); // 100
 * backoff.next(); // 200
 * backoff.next(); // 400
 * backoff.next(); // null: give up
 * ```
 */
export class Backoff {
  private failures = 0;
  private delayMs: number;

  constructor(
    private readonly config: ResolvedReconnectConfig,
    private readonly random: () => number = Math.random,
  ) {
    this.delayMs = config.initialDelayMs;
  }

  /** Failed attempts since the last reset. */
  get attempts(): number {
    return this.failures;
  }

  /** The delay before the next attempt, in ms; null when no attempt is left. */
  next(): number | null {
    if (this.failures >= this.config.count) return null;
    this.failures++;
    const base = this.delayMs;
    this.delayMs = Math.min(this.config.maxDelayMs, this.delayMs * this.config.multiplier);
    const spread = base * this.config.jitter;
    return Math.max(0, Math.round(base - spread + this.random() * 2 * spread));
  }

  /** Forgets the failures: the next delay is the initial one again. */
  reset(): void {
    this.failures = 0;
    this.delayMs = this.config.initialDelayMs;
  }
}
