/**
 * Protobuf base-128 varints and uvarint-delimited framing, as `libs/protoio`
 * frames every handshake message and MConnection packet.
 *
 * Lengths in this protocol never exceed 2^31, so decoders that return lengths
 * work on numbers and refuse anything beyond `Number.MAX_SAFE_INTEGER`.
 */
import { MessageTooLargeError, VarintOverflowError } from "./errors.js";

/** A uvarint takes at most 10 bytes. */
export const MAX_VARINT_BYTES = 10;

/** Number of bytes `encodeUvarint(value)` writes. */
export function uvarintSize(value: number): number {
  let size = 1;
  let v = value;
  while (v >= 0x80) {
    v = Math.floor(v / 128);
    size++;
  }
  return size;
}

/** Writes `value` (a non-negative safe integer) at `offset`; returns the offset after it. */
export function putUvarint(out: Uint8Array, offset: number, value: number): number {
  let v = value;
  let o = offset;
  while (v >= 0x80) {
    out[o++] = (v & 0x7f) | 0x80;
    v = Math.floor(v / 128);
  }
  out[o++] = v;
  return o;
}

/** The uvarint encoding of `value`. */
export function encodeUvarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`uvarint value out of range: ${value}`);
  const out = new Uint8Array(uvarintSize(value));
  putUvarint(out, 0, value);
  return out;
}

/** Result of reading a uvarint from a buffer that may hold only part of it. */
export type UvarintRead =
  | { readonly complete: true; readonly value: number; readonly size: number }
  | { readonly complete: false };

const INCOMPLETE: UvarintRead = { complete: false };

/**
 * Reads a uvarint at `offset`. Returns `{complete: false}` when the buffer
 * ends inside the varint; throws {@link VarintOverflowError} when it is longer
 * than 10 bytes or does not fit a safe integer.
 */
export function readUvarint(buf: Uint8Array, offset: number, what: string): UvarintRead {
  let value = 0;
  let multiplier = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const at = offset + i;
    if (at >= buf.length) return INCOMPLETE;
    const byte = buf[at] as number;
    value += (byte & 0x7f) * multiplier;
    if (value > Number.MAX_SAFE_INTEGER) throw new VarintOverflowError(what);
    if ((byte & 0x80) === 0) return { complete: true, value, size: i + 1 };
    multiplier *= 128;
  }
  throw new VarintOverflowError(what);
}

/** `uvarint(len(body)) || body`. */
export function encodeDelimited(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(uvarintSize(body.length) + body.length);
  const at = putUvarint(out, 0, body.length);
  out.set(body, at);
  return out;
}

/**
 * Incremental decoder of uvarint-delimited messages. Feed it chunks of any
 * size; it yields each complete body. The length is checked against
 * `maxBodyBytes` as soon as the prefix is complete, before any body byte is
 * buffered, so a hostile length costs nothing.
 *
 * Bodies are returned as views into the decoder's input where possible; a
 * body that spans chunks is copied once into a buffer of exactly its size.
 */
export class DelimitedDecoder {
  private pending: Uint8Array = new Uint8Array(0);
  private bodyBuf: Uint8Array | null = null;
  private bodyFilled = 0;

  constructor(
    private readonly maxBodyBytes: number,
    private readonly what: string,
  ) {}

  /** Bytes held that do not yet form a complete message. */
  get bufferedBytes(): number {
    return this.pending.length + this.bodyFilled;
  }

  /**
   * Consumes `chunk` and returns the bodies it completes, in order. Throws
   * {@link MessageTooLargeError} or {@link VarintOverflowError}; after a
   * throw the decoder must not be used again.
   */
  push(chunk: Uint8Array): Uint8Array[] {
    const out: Uint8Array[] = [];
    let input = chunk;
    if (this.bodyBuf !== null) {
      const need = this.bodyBuf.length - this.bodyFilled;
      const take = Math.min(need, input.length);
      this.bodyBuf.set(input.subarray(0, take), this.bodyFilled);
      this.bodyFilled += take;
      input = input.subarray(take);
      if (this.bodyFilled < this.bodyBuf.length) return out;
      out.push(this.bodyBuf);
      this.bodyBuf = null;
      this.bodyFilled = 0;
    }
    if (this.pending.length > 0) {
      // Only a partial prefix (< 10 bytes) is ever kept here.
      const joined = new Uint8Array(this.pending.length + input.length);
      joined.set(this.pending, 0);
      joined.set(input, this.pending.length);
      input = joined;
      this.pending = new Uint8Array(0);
    }
    let offset = 0;
    while (offset < input.length) {
      const prefix = readUvarint(input, offset, this.what);
      if (!prefix.complete) {
        this.pending = input.slice(offset);
        return out;
      }
      const len = prefix.value;
      if (len > this.maxBodyBytes) throw new MessageTooLargeError(this.what, len, this.maxBodyBytes);
      const start = offset + prefix.size;
      const available = input.length - start;
      if (available >= len) {
        out.push(input.subarray(start, start + len));
        offset = start + len;
        continue;
      }
      this.bodyBuf = new Uint8Array(len);
      this.bodyBuf.set(input.subarray(start));
      this.bodyFilled = available;
      return out;
    }
    return out;
  }
}
