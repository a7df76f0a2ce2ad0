/**
 * Why an MConnection was dropped. Each condition under which CometBFT's
 * MConnection stops for an error (`stopForError`) has its own class and a
 * stable `code`; `onError` receives exactly one of them.
 */
import { WireError } from "../errors.js";

/** Base class of every reason an MConnection drops its connection. */
export abstract class MConnectionError extends WireError {}

/** A PacketMsg named a channel that is not registered here, or an ID outside 0..255. */
export class UnknownChannelError extends MConnectionError {
  readonly code = "unknown_channel";
  constructor(readonly channelId: number) {
    super(`unknown channel ${channelId} (0x${(channelId >>> 0).toString(16)})`);
  }
}

/** Reassembling a message would exceed the channel's `recvMessageCapacity`. */
export class MessageOverCapacityError extends MConnectionError {
  readonly code = "message_over_capacity";
  constructor(
    readonly channelId: number,
    readonly sizeBytes: number,
    readonly capacityBytes: number,
  ) {
    super(`channel ${channelId}: received message of at least ${sizeBytes} bytes exceeds its capacity of ${capacityBytes} bytes`);
  }
}

/** A packet's length prefix announced more than `maxPacketMsgSize` bytes. */
export class PacketTooLargeError extends MConnectionError {
  readonly code = "packet_too_large";
  constructor(
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super(`packet of ${sizeBytes} bytes exceeds the limit of ${limitBytes} bytes`);
  }
}

/** A Packet with none of ping, pong or msg set (for instance a zero-length body). */
export class EmptyPacketError extends MConnectionError {
  readonly code = "empty_packet";
  constructor() {
    super("packet has no ping, pong or msg set");
  }
}

/** Packet bytes that are not valid protobuf, or a length prefix that overflows. */
export class PacketDecodeError extends MConnectionError {
  readonly code = "packet_decode_error";
  constructor(
    readonly reason: string,
    options?: ErrorOptions,
  ) {
    super(`cannot decode packet: ${reason}`, options);
  }
}

/** No pong arrived within `pongTimeoutMs` of a ping. */
export class PongTimeoutError extends MConnectionError {
  readonly code = "pong_timeout";
  constructor(readonly timeoutMs: number) {
    super(`no pong within ${timeoutMs} ms of our ping`);
  }
}

/** Writing to the underlying connection failed. */
export class WriteError extends MConnectionError {
  readonly code = "write_error";
  constructor(cause: unknown) {
    super(`write failed: ${describe(cause)}`, { cause });
  }
}

/** The underlying connection reported an error (e.g. a reset or a decryption failure). */
export class ReadError extends MConnectionError {
  readonly code = "read_error";
  constructor(cause: unknown) {
    super(`connection failed: ${describe(cause)}`, { cause });
  }
}

/** The remote closed the connection (EOF). The protocol has no goodbye message. */
export class ConnectionClosedError extends MConnectionError {
  readonly code = "connection_closed";
  constructor() {
    super("connection closed by the remote (EOF)");
  }
}

/** `onReceive` threw; CometBFT likewise stops a peer whose Receive panics. */
export class ReceiveHandlerError extends MConnectionError {
  readonly code = "receive_handler_error";
  constructor(
    readonly channelId: number,
    cause: unknown,
  ) {
    super(`receive handler for channel ${channelId} failed: ${describe(cause)}`, { cause });
  }
}

/** A configuration value or channel descriptor is invalid; `field` names it. */
export class InvalidConfigError extends WireError {
  readonly code = "invalid_config";
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
  }
}

/** A method was called in a state that does not allow it (e.g. `start()` twice). */
export class MConnectionStateError extends WireError {
  readonly code = "invalid_state";
  constructor(
    readonly operation: string,
    readonly state: string,
  ) {
    super(`cannot ${operation}: the MConnection is ${state}`);
  }
}

function describe(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
