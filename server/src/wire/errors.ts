/**
 * Typed errors of the wire layer. Every failure a peer can cause has its own
 * class and a stable `code`, so that the layers above can log, count and
 * react to it without parsing messages.
 */
export abstract class WireError extends Error {
  /** Stable machine-readable identifier, e.g. `"frame_too_large"`. */
  abstract readonly code: string;

  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** A length prefix or field announced more bytes than the limit allows. */
export class MessageTooLargeError extends WireError {
  readonly code = "message_too_large";
  constructor(
    readonly what: string,
    readonly sizeBytes: number,
    readonly limitBytes: number,
  ) {
    super(`${what}: ${sizeBytes} bytes exceeds the limit of ${limitBytes} bytes`);
  }
}

/** A uvarint was longer than 10 bytes or overflowed 64 bits. */
export class VarintOverflowError extends WireError {
  readonly code = "varint_overflow";
  constructor(what: string) {
    super(`${what}: uvarint overflows 64 bits`);
  }
}

/** Bytes that do not decode as the protobuf message they should be. */
export class DecodeError extends WireError {
  readonly code = "decode_error";
  constructor(
    readonly what: string,
    reason: string,
    options?: ErrorOptions,
  ) {
    super(`${what}: ${reason}`, options);
  }
}

/** The remote closed the stream before a complete message arrived. */
export class UnexpectedEofError extends WireError {
  readonly code = "unexpected_eof";
  constructor(what: string) {
    super(`${what}: connection closed before the message was complete`);
  }
}

/** A deadline passed before the remote finished its part. */
export class DeadlineExceededError extends WireError {
  readonly code = "deadline_exceeded";
  constructor(
    readonly what: string,
    readonly timeoutMs: number,
  ) {
    super(`${what}: not completed within ${timeoutMs} ms`);
  }
}
