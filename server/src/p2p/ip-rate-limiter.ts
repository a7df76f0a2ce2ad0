import { DEFAULT_MAX_TRACKED_IPS } from "./defaults.js";

/**
 * Per-IP token buckets for inbound connection attempts. The map of buckets is
 * bounded: past `maxTrackedIps` the least recently seen IP is forgotten
 * (it starts again with a full bucket), so a flood of source addresses costs
 * bounded memory.
 */
export interface IpRateLimiterOptions {
  /** Sustained attempts per second per IP. */
  readonly ratePerSecond: number;
  /** Attempts allowed in a burst. */
  readonly burst: number;
  /** @default {@link DEFAULT_MAX_TRACKED_IPS} */
  readonly maxTrackedIps?: number;
  /** Injectable clock (ms). */
  readonly now?: () => number;
}

interface Bucket {
  tokens: number;
  updatedMs: number;
}

export class IpRateLimiter {
  private readonly buckets = new Map<string, Bucket>();
  private readonly maxTrackedIps: number;
  private readonly now: () => number;

  constructor(private readonly options: IpRateLimiterOptions) {
    this.maxTrackedIps = options.maxTrackedIps ?? DEFAULT_MAX_TRACKED_IPS;
    this.now = options.now ?? Date.now;
  }

  /** Number of IPs currently tracked. */
  get size(): number {
    return this.buckets.size;
  }

  /** Takes one token for `ip`; false when its bucket is empty. */
  tryTake(ip: string): boolean {
    const now = this.now();
    let bucket = this.buckets.get(ip);
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxTrackedIps) {
        const oldest = this.buckets.keys().next();
        if (oldest.done !== true) this.buckets.delete(oldest.value);
      }
      bucket = { tokens: this.options.burst, updatedMs: now };
    } else {
      this.buckets.delete(ip); // re-insert to keep recency order
      const elapsedSec = Math.max(0, now - bucket.updatedMs) / 1000;
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + elapsedSec * this.options.ratePerSecond);
      bucket.updatedMs = now;
    }
    this.buckets.set(ip, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
