/**
 * The knobs both implementations get the same value for, in one place. The
 * Go reference takes them as flags (`-flush-ms`, `-rate`, `-queue`,
 * `-max-payload`, `-recv-cap`); our nodes take them as Switch config or
 * daemon flags.
 */
export interface BenchSettings {
  /** MConnection flush throttle. */
  readonly flushThrottleMs: number;
  /**
   * Send and receive rate limits, bytes/s. CometBFT cannot turn them off, so
   * both get the same value, far above anything loopback reaches.
   */
  readonly rateBytesPerSecond: number;
  /** Send queue capacity of the bench channel, in messages. */
  readonly sendQueueCapacity: number;
  /** Data bytes per packet (CometBFT's default; Go peers refuse more). */
  readonly maxPacketMsgPayloadBytes: number;
  /** Largest message the bench channel accepts. */
  readonly recvMessageCapacityBytes: number;
}

export const THROUGHPUT_SETTINGS: BenchSettings = {
  flushThrottleMs: 10,
  rateBytesPerSecond: 10_000_000_000,
  sendQueueCapacity: 1000,
  maxPacketMsgPayloadBytes: 1024,
  recvMessageCapacityBytes: 4 * 1024 * 1024,
};

/** Latency runs flush at once (a 10 ms throttle would be most of what is measured). */
export const LATENCY_SETTINGS: BenchSettings = { ...THROUGHPUT_SETTINGS, flushThrottleMs: 0 };

/** The Go reference's flags for `settings`. */
export function goFlags(s: BenchSettings): string[] {
  return [
    `-flush-ms=${s.flushThrottleMs}`,
    `-rate=${s.rateBytesPerSecond}`,
    `-queue=${s.sendQueueCapacity}`,
    `-max-payload=${s.maxPacketMsgPayloadBytes}`,
    `-recv-cap=${s.recvMessageCapacityBytes}`,
  ];
}
