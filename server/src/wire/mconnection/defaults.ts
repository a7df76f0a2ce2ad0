/**
 * Defaults of the MConnection, in one place. Values follow CometBFT v0.38
 * (`p2p/conn/connection.go`, overridden where `config.DefaultP2PConfig` wins,
 * as it does on a real node).
 */
import { MAX_TIMER_MS } from "../../util/duration.js";
import { InvalidConfigError } from "./errors.js";
import { requireInteger } from "./validate.js";

/** Data bytes per PacketMsg (`max_packet_msg_payload_size`); Go peers reject a larger packet. */
export const DEFAULT_MAX_PACKET_MSG_PAYLOAD_BYTES = 1024;
/** Longest time written packets wait in the write buffer (`flush_throttle_timeout`). */
export const DEFAULT_FLUSH_THROTTLE_MS = 100;
/** Interval between our pings (`defaultPingInterval`); Go uses the same, not configurable. */
export const DEFAULT_PING_INTERVAL_MS = 60_000;
/** Time a pong may take before we drop the peer (`defaultPongTimeout`); must be below the ping interval. */
export const DEFAULT_PONG_TIMEOUT_MS = 45_000;
/** How long `send` waits for room in a channel queue (`defaultSendTimeout`). */
export const DEFAULT_SEND_TIMEOUT_MS = 10_000;
/** Send rate limit (`send_rate`); the config default, not connection.go's stale 512000. */
export const DEFAULT_SEND_RATE_BYTES_PER_SECOND = 5_120_000;
/** Receive rate limit (`recv_rate`); reading pauses while over it, which becomes TCP backpressure. */
export const DEFAULT_RECV_RATE_BYTES_PER_SECOND = 5_120_000;
/** Period of the `recentlySent` decay (`updateStats`), so the scheduler forgets old traffic. */
export const DEFAULT_STATS_DECAY_INTERVAL_MS = 2_000;
/** Factor applied to `recentlySent` at each decay (an exponential moving average). */
export const DEFAULT_STATS_DECAY_FACTOR = 0.8;
/** Packets sent per scheduling round (`numBatchPacketMsgs`) before the sender yields. */
export const DEFAULT_BATCH_PACKETS = 10;
/** Size of the coalescing write buffer (`minWriteBufferSize`); a full buffer is flushed early. */
export const DEFAULT_WRITE_BUFFER_BYTES = 65_536;
/** Flow-rate sample period (flowrate's 5 × 20 ms clock); the rate limit applies per sample. */
export const DEFAULT_FLOW_SAMPLE_MS = 100;
/** Window of the flow-rate moving average (flowrate's default of 1 s). */
export const DEFAULT_FLOW_WINDOW_MS = 1_000;
/** Bound on `flushStop` (Go blocks forever on a peer that stops reading; we do not). */
export const DEFAULT_FLUSH_STOP_TIMEOUT_MS = 10_000;

/**
 * Bytes one channel of one connection may hold queued for sending (CometBFT
 * bounds its queues in messages only, so a reactor could queue capacity ×
 * the largest message). 16 MiB is about three seconds at the default send
 * rate, and holds a full queue of consensus block parts (100 × 64 KiB) twice;
 * a larger message still goes when the channel has nothing queued.
 */
export const DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL = 16 * 1024 * 1024;
/** Bytes all channels of one connection may hold queued for sending: two channels' worth. */
export const DEFAULT_SEND_QUEUE_MAX_BYTES = 32 * 1024 * 1024;

/** Messages a channel queues for sending (`defaultSendQueueCapacity`). */
export const DEFAULT_SEND_QUEUE_CAPACITY = 1;
/** Initial size of a channel's reassembly buffer (`defaultRecvBufferCapacity`). */
export const DEFAULT_RECV_BUFFER_CAPACITY_BYTES = 4096;
/** Largest message a channel accepts (`defaultRecvMessageCapacity`, 21 MiB). */
export const DEFAULT_RECV_MESSAGE_CAPACITY_BYTES = 22_020_096;

/** Tunables of one MConnection. Values of 0 or below for the rates mean "unlimited". */
export interface MConnectionConfig {
  /** Bytes per second the sender may write; ≤ 0 disables the limit. @default 5120000 */
  readonly sendRateBytesPerSecond: number;
  /** Bytes per second the receiver may read; ≤ 0 disables the limit. @default 5120000 */
  readonly recvRateBytesPerSecond: number;
  /** Data bytes per PacketMsg; also sets the receive limit `maxPacketMsgSize`. @default 1024 */
  readonly maxPacketMsgPayloadBytes: number;
  /** Longest wait before buffered data packets are flushed; 0 flushes at the end of every send batch. @default 100 */
  readonly flushThrottleMs: number;
  /** Interval between pings. @default 60000 */
  readonly pingIntervalMs: number;
  /** Time allowed for the pong; must be below `pingIntervalMs`. @default 45000 */
  readonly pongTimeoutMs: number;
  /** Default wait of `send` for queue room. @default 10000 */
  readonly sendTimeoutMs: number;
  /** Bytes coalesced before a write to the connection. @default 65536 */
  readonly writeBufferBytes: number;
  /** Longest time `flushStop` waits for queued data to leave before it closes anyway. @default 10000 */
  readonly flushStopTimeoutMs: number;
  /** Bytes one channel may hold queued for sending; `send` waits and `trySend` fails beyond it. @default 16777216 */
  readonly sendQueueMaxBytesPerChannel: number;
  /** Bytes all channels together may hold queued for sending. @default 33554432 */
  readonly sendQueueMaxBytes: number;
}

export const DEFAULT_MCONNECTION_CONFIG: MConnectionConfig = Object.freeze({
  sendRateBytesPerSecond: DEFAULT_SEND_RATE_BYTES_PER_SECOND,
  recvRateBytesPerSecond: DEFAULT_RECV_RATE_BYTES_PER_SECOND,
  maxPacketMsgPayloadBytes: DEFAULT_MAX_PACKET_MSG_PAYLOAD_BYTES,
  flushThrottleMs: DEFAULT_FLUSH_THROTTLE_MS,
  pingIntervalMs: DEFAULT_PING_INTERVAL_MS,
  pongTimeoutMs: DEFAULT_PONG_TIMEOUT_MS,
  sendTimeoutMs: DEFAULT_SEND_TIMEOUT_MS,
  writeBufferBytes: DEFAULT_WRITE_BUFFER_BYTES,
  flushStopTimeoutMs: DEFAULT_FLUSH_STOP_TIMEOUT_MS,
  sendQueueMaxBytesPerChannel: DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL,
  sendQueueMaxBytes: DEFAULT_SEND_QUEUE_MAX_BYTES,
});

/** Largest payload we accept configuring (`max_packet_msg_payload_size`); far above anything a Go peer accepts. */
export const MAX_PACKET_MSG_PAYLOAD_BYTES = 1 << 20;

/**
 * Fills unset fields with the defaults and validates the result. Throws
 * {@link InvalidConfigError} naming the first offending field.
 */
export function resolveMConnectionConfig(config: Partial<MConnectionConfig> = {}): MConnectionConfig {
  const c: MConnectionConfig = { ...DEFAULT_MCONNECTION_CONFIG, ...config };
  requireFinite("sendRateBytesPerSecond", c.sendRateBytesPerSecond);
  requireFinite("recvRateBytesPerSecond", c.recvRateBytesPerSecond);
  requireInteger("maxPacketMsgPayloadBytes", c.maxPacketMsgPayloadBytes, 1, MAX_PACKET_MSG_PAYLOAD_BYTES);
  requireInteger("flushThrottleMs", c.flushThrottleMs, 0, MAX_TIMER_MS);
  requireInteger("pingIntervalMs", c.pingIntervalMs, 1, MAX_TIMER_MS);
  requireInteger("pongTimeoutMs", c.pongTimeoutMs, 1, MAX_TIMER_MS);
  requireInteger("sendTimeoutMs", c.sendTimeoutMs, 0, MAX_TIMER_MS);
  requireInteger("writeBufferBytes", c.writeBufferBytes, 1, 1 << 30);
  requireInteger("flushStopTimeoutMs", c.flushStopTimeoutMs, 0, MAX_TIMER_MS);
  requireInteger("sendQueueMaxBytesPerChannel", c.sendQueueMaxBytesPerChannel, 1, Number.MAX_SAFE_INTEGER);
  requireInteger("sendQueueMaxBytes", c.sendQueueMaxBytes, 1, Number.MAX_SAFE_INTEGER);
  if (c.pongTimeoutMs >= c.pingIntervalMs) {
    // Otherwise the next ping would find the previous pong deadline still armed.
    throw new InvalidConfigError("pongTimeoutMs", `must be less than pingIntervalMs (${c.pingIntervalMs}), got ${c.pongTimeoutMs}`);
  }
  return c;
}

function requireFinite(field: string, value: number): void {
  if (!Number.isFinite(value)) throw new InvalidConfigError(field, `must be a finite number, got ${value}`);
}
