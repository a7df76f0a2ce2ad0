/**
 * A channel as a reactor registers it (CometBFT's `ChannelDescriptor`).
 * Capacities left unset, or set to 0 as Go reactors do, take CometBFT's
 * defaults (`FillDefaults`).
 */
import { DEFAULT_RECV_BUFFER_CAPACITY_BYTES, DEFAULT_RECV_MESSAGE_CAPACITY_BYTES, DEFAULT_SEND_QUEUE_CAPACITY } from "./defaults.js";
import { InvalidConfigError } from "./errors.js";
import { requireInteger } from "./validate.js";

/** Largest per-channel message we allow configuring (CometBFT's largest, blocksync, is ~100 MiB). */
const MAX_RECV_MESSAGE_CAPACITY_BYTES = 2 ** 30;
/** Largest send queue we allow configuring (CometBFT's largest, blocksync, is 1000). */
const MAX_SEND_QUEUE_CAPACITY = 1 << 20;

export interface ChannelDescriptor {
  /** Channel ID on the wire, 0..255. */
  readonly id: number;
  /** Relative share of the send bandwidth; an integer > 0. */
  readonly priority: number;
  /** Messages queued for sending before `send` waits and `trySend` fails. @default 1 */
  readonly sendQueueCapacity?: number;
  /** Initial size of the reassembly buffer, in bytes. @default 4096 */
  readonly recvBufferCapacity?: number;
  /** Largest message accepted on this channel, in bytes; larger drops the peer. @default 22020096 */
  readonly recvMessageCapacity?: number;
}

/** A descriptor with every field set. */
export type FilledChannelDescriptor = Required<ChannelDescriptor>;

/**
 * Fills unset (or 0) capacities with CometBFT's defaults and validates the
 * descriptor. `field` prefixes the field names in {@link InvalidConfigError}
 * (e.g. `"channels[2]"`).
 */
export function fillChannelDefaults(desc: ChannelDescriptor, field = "channel"): FilledChannelDescriptor {
  const filled: FilledChannelDescriptor = {
    id: desc.id,
    priority: desc.priority,
    sendQueueCapacity: orDefault(desc.sendQueueCapacity, DEFAULT_SEND_QUEUE_CAPACITY),
    recvBufferCapacity: orDefault(desc.recvBufferCapacity, DEFAULT_RECV_BUFFER_CAPACITY_BYTES),
    recvMessageCapacity: orDefault(desc.recvMessageCapacity, DEFAULT_RECV_MESSAGE_CAPACITY_BYTES),
  };
  requireInteger(`${field}.id`, filled.id, 0, 255);
  if (!Number.isInteger(filled.priority) || filled.priority <= 0) {
    throw new InvalidConfigError(`${field}.priority`, `must be a positive integer, got ${filled.priority}`);
  }
  requireInteger(`${field}.sendQueueCapacity`, filled.sendQueueCapacity, 1, MAX_SEND_QUEUE_CAPACITY);
  requireInteger(`${field}.recvBufferCapacity`, filled.recvBufferCapacity, 1, MAX_RECV_MESSAGE_CAPACITY_BYTES);
  requireInteger(`${field}.recvMessageCapacity`, filled.recvMessageCapacity, 1, MAX_RECV_MESSAGE_CAPACITY_BYTES);
  return filled;
}

/**
 * Fills and validates a channel list: IDs must be unique. The order is kept;
 * it breaks ties in the send scheduler.
 */
export function fillChannelList(channels: readonly ChannelDescriptor[]): FilledChannelDescriptor[] {
  const seen = new Set<number>();
  return channels.map((desc, i) => {
    const filled = fillChannelDefaults(desc, `channels[${i}]`);
    if (seen.has(filled.id)) throw new InvalidConfigError(`channels[${i}].id`, `duplicate channel ${filled.id}`);
    seen.add(filled.id);
    return filled;
  });
}

function orDefault(value: number | undefined, fallback: number): number {
  return value === undefined || value === 0 ? fallback : value;
}
