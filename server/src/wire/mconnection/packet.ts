/**
 * The MConnection packet codec: `tendermint.p2p.Packet`, uvarint-delimited,
 * hand-written for the hot path and byte-identical to gogoproto.
 *
 *   Packet    = oneof sum { 1: PacketPing {}, 2: PacketPong {}, 3: PacketMsg }
 *   PacketMsg = { 1: channel_id int32, 2: eof bool, 3: data bytes }
 *
 * Encoding omits proto3 zero values (channel 0, eof=false, empty data) and
 * always emits the empty ping/pong submessage (`0a 00`, `12 00`).
 *
 * Decoding follows the Go unmarshaller's rules: unknown fields (groups
 * included) are skipped, a known field with the wrong wire type, tag 0 or a
 * stray end-group is an error, a body without ping, pong or msg is an
 * {@link EmptyPacketError}, and later occurrences of a field win.
 */
import { VarintOverflowError } from "../errors.js";
import { MAX_VARINT_BYTES, putUvarint, uvarintSize } from "../varint.js";
import { EmptyPacketError, PacketDecodeError, PacketTooLargeError } from "./errors.js";

/** One decoded packet. `data` may be a view into the decoder's input. */
export type Packet =
  | { readonly kind: "ping" }
  | { readonly kind: "pong" }
  | { readonly kind: "msg"; readonly channelId: number; readonly eof: boolean; readonly data: Uint8Array };

const TAG_PING = 0x0a; // field 1, wire type 2
const TAG_PONG = 0x12; // field 2, wire type 2
const TAG_MSG = 0x1a; // field 3, wire type 2
const TAG_CHANNEL_ID = 0x08; // field 1, wire type 0
const TAG_EOF = 0x10; // field 2, wire type 0
const TAG_DATA = 0x1a; // field 3, wire type 2

const PING_WIRE = Uint8Array.of(0x02, TAG_PING, 0x00);
const PONG_WIRE = Uint8Array.of(0x02, TAG_PONG, 0x00);

/** Bytes of a delimited ping or pong on the wire. */
export const CONTROL_PACKET_WIRE_BYTES = 3;

/** `02 0a 00`: a delimited Packet{PacketPing{}}. */
export function encodePing(): Uint8Array {
  return PING_WIRE.slice();
}

/** `02 12 00`: a delimited Packet{PacketPong{}}. */
export function encodePong(): Uint8Array {
  return PONG_WIRE.slice();
}

/** Writes a delimited ping (`ping = true`) or pong at `offset`; returns the offset after it. */
export function writeControlPacket(out: Uint8Array, offset: number, ping: boolean): number {
  out.set(ping ? PING_WIRE : PONG_WIRE, offset);
  return offset + CONTROL_PACKET_WIRE_BYTES;
}

/**
 * The receive limit on a Packet body: the encoded size of
 * `Packet{PacketMsg{channel_id: 1, eof: true, data: <maxPayloadBytes bytes>}}`,
 * as CometBFT computes `_maxPacketMsgSize`. 1034 for the default 1024.
 */
export function maxPacketMsgSize(maxPayloadBytes: number): number {
  return packetMsgBodySize(1, true, maxPayloadBytes);
}

function packetMsgInnerSize(channelId: number, eof: boolean, dataLength: number): number {
  let size = 0;
  if (channelId !== 0) size += 1 + int32Size(channelId);
  if (eof) size += 2;
  if (dataLength !== 0) size += 1 + uvarintSize(dataLength) + dataLength;
  return size;
}

function packetMsgBodySize(channelId: number, eof: boolean, dataLength: number): number {
  const inner = packetMsgInnerSize(channelId, eof, dataLength);
  return 1 + uvarintSize(inner) + inner;
}

/** Bytes a delimited PacketMsg takes on the wire, length prefix included. */
export function packetMsgWireSize(channelId: number, eof: boolean, dataLength: number): number {
  const body = packetMsgBodySize(channelId, eof, dataLength);
  return uvarintSize(body) + body;
}

/**
 * Writes a delimited PacketMsg carrying `data` at `offset` of `out`, which
 * must have {@link packetMsgWireSize} bytes free. Returns the offset after it.
 */
export function writePacketMsg(out: Uint8Array, offset: number, channelId: number, eof: boolean, data: Uint8Array): number {
  const inner = packetMsgInnerSize(channelId, eof, data.length);
  const body = 1 + uvarintSize(inner) + inner;
  let o = putUvarint(out, offset, body);
  out[o++] = TAG_MSG;
  o = putUvarint(out, o, inner);
  if (channelId !== 0) {
    out[o++] = TAG_CHANNEL_ID;
    o = putInt32(out, o, channelId);
  }
  if (eof) {
    out[o++] = TAG_EOF;
    out[o++] = 0x01;
  }
  if (data.length !== 0) {
    out[o++] = TAG_DATA;
    o = putUvarint(out, o, data.length);
    out.set(data, o);
    o += data.length;
  }
  return o;
}

/** The Packet body (no length prefix), as gogoproto marshals it. */
export function encodePacketBody(packet: Packet): Uint8Array {
  switch (packet.kind) {
    case "ping":
      return PING_WIRE.slice(1);
    case "pong":
      return PONG_WIRE.slice(1);
    case "msg": {
      const wire = encodePacket(packet);
      return wire.subarray(wire.length - packetMsgBodySize(packet.channelId, packet.eof, packet.data.length));
    }
  }
}

/** The delimited Packet: `uvarint(len(body)) || body`. */
export function encodePacket(packet: Packet): Uint8Array {
  switch (packet.kind) {
    case "ping":
      return encodePing();
    case "pong":
      return encodePong();
    case "msg": {
      const out = new Uint8Array(packetMsgWireSize(packet.channelId, packet.eof, packet.data.length));
      writePacketMsg(out, 0, packet.channelId, packet.eof, packet.data);
      return out;
    }
  }
}

/** Size of an int32 as protobuf encodes it: negative values take 10 bytes. */
function int32Size(value: number): number {
  return value < 0 ? MAX_VARINT_BYTES : uvarintSize(value);
}

function putInt32(out: Uint8Array, offset: number, value: number): number {
  if (value >= 0) return putUvarint(out, offset, value);
  // Sign-extended to 64 bits: the low 32 bits, then 0xffffffff, as 10 bytes.
  let lo = value >>> 0;
  let o = offset;
  for (let i = 0; i < 4; i++) {
    out[o++] = (lo & 0x7f) | 0x80;
    lo >>>= 7;
  }
  // Bits 28..31 of the low word and bits 0..2 of the all-ones high word.
  out[o++] = (lo & 0x0f) | 0x70 | 0x80;
  for (let i = 0; i < 4; i++) out[o++] = 0xff;
  out[o++] = 0x01;
  return o;
}

// ---------------------------------------------------------------------------
// Body decoding

/** Low and high 32 bits of the last varint read by `readVarint`. */
let varLo = 0;
let varHi = 0;

function fail(reason: string, cause?: unknown): never {
  throw new PacketDecodeError(reason, cause === undefined ? undefined : { cause });
}

/**
 * Reads a varint of up to 10 bytes at `pos` into `varLo`/`varHi` (bits past
 * 64 are dropped, as in Go); returns the position after it.
 */
function readVarint(buf: Uint8Array, pos: number, end: number): number {
  let lo = 0;
  let hi = 0;
  let p = pos;
  for (let shift = 0; ; shift += 7) {
    if (shift >= 64) fail("varint overflows 64 bits");
    if (p >= end) fail("unexpected end of packet inside a varint");
    const b = buf[p++] as number;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else if (shift === 28) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >>> 4;
    } else hi |= (b & 0x7f) << (shift - 32);
    if (b < 0x80) break;
  }
  varLo = lo >>> 0;
  varHi = hi >>> 0;
  return p;
}

/** Reads a length varint and checks that many bytes remain; returns the position after the varint. */
function readLength(buf: Uint8Array, pos: number, end: number, what: string): number {
  const p = readVarint(buf, pos, end);
  if (varHi !== 0 || varLo > end - p) fail(`${what} length ${varHi !== 0 ? "out of range" : varLo} runs past the end`);
  return p;
}

/**
 * Reads a tag at `pos` and checks it like gogoproto does; returns the
 * position after it, with the field number in `tagField` and wire type in
 * `tagWireType`.
 */
let tagField = 0;
let tagWireType = 0;
function readTag(buf: Uint8Array, pos: number, end: number, message: string): number {
  const p = readVarint(buf, pos, end);
  tagWireType = varLo & 7;
  tagField = ((varLo >>> 3) | (varHi << 29)) | 0;
  if (tagWireType === 4) fail(`${message}: end group outside a group`);
  if (tagField <= 0) fail(`${message}: illegal tag ${tagField}`);
  return p;
}

/** Skips one unknown field whose tag starts at `pos` (gogoproto's `skip`); returns the position after it. */
function skipField(buf: Uint8Array, pos: number, end: number): number {
  let p = pos;
  let depth = 0;
  while (p < end) {
    p = readVarint(buf, p, end);
    const wireType = varLo & 7;
    switch (wireType) {
      case 0:
        p = readVarint(buf, p, end);
        break;
      case 1:
        p += 8;
        break;
      case 2:
        p = readLength(buf, p, end, "field");
        p += varLo;
        break;
      case 3:
        depth++;
        break;
      case 4:
        if (depth === 0) fail("unexpected end group");
        depth--;
        break;
      case 5:
        p += 4;
        break;
      default:
        fail(`illegal wire type ${wireType}`);
    }
    if (depth === 0) {
      if (p > end) fail("unexpected end of packet inside a field");
      return p;
    }
  }
  return fail("unexpected end of packet inside a group");
}

/** Validates an empty message (PacketPing or PacketPong) that may only hold unknown fields. */
function checkEmptyMessage(buf: Uint8Array, pos: number, end: number, message: string): void {
  let p = pos;
  while (p < end) {
    readTag(buf, p, end, message);
    p = skipField(buf, p, end);
  }
}

let msgChannelId = 0;
let msgEof = false;
let msgData: Uint8Array = new Uint8Array(0);

function decodePacketMsg(buf: Uint8Array, pos: number, end: number): void {
  msgChannelId = 0;
  msgEof = false;
  msgData = buf.subarray(pos, pos);
  let p = pos;
  while (p < end) {
    const start = p;
    p = readTag(buf, p, end, "PacketMsg");
    switch (tagField) {
      case 1:
        if (tagWireType !== 0) fail(`PacketMsg: wrong wire type ${tagWireType} for channel_id`);
        p = readVarint(buf, p, end);
        msgChannelId = varLo | 0; // int32: the low 32 bits
        break;
      case 2:
        if (tagWireType !== 0) fail(`PacketMsg: wrong wire type ${tagWireType} for eof`);
        p = readVarint(buf, p, end);
        msgEof = (varLo | varHi) !== 0;
        break;
      case 3:
        if (tagWireType !== 2) fail(`PacketMsg: wrong wire type ${tagWireType} for data`);
        p = readLength(buf, p, end, "PacketMsg.data");
        msgData = buf.subarray(p, p + varLo);
        p += varLo;
        break;
      default:
        p = skipField(buf, start, end);
    }
  }
}

const PING: Packet = Object.freeze({ kind: "ping" });
const PONG: Packet = Object.freeze({ kind: "pong" });

/**
 * Decodes a Packet body (without its length prefix). Throws
 * {@link PacketDecodeError} or {@link EmptyPacketError}. A msg's `data` is
 * a view into `body`.
 */
export function decodePacketBody(body: Uint8Array): Packet {
  const end = body.length;
  let sum: "ping" | "pong" | "msg" | null = null;
  let channelId = 0;
  let eof = false;
  let data: Uint8Array | null = null;
  let p = 0;
  while (p < end) {
    const start = p;
    p = readTag(body, p, end, "Packet");
    const field = tagField;
    if (field >= 1 && field <= 3) {
      if (tagWireType !== 2) fail(`Packet: wrong wire type ${tagWireType} for field ${field}`);
      p = readLength(body, p, end, "Packet field");
      const subEnd = p + varLo;
      if (field === 3) {
        decodePacketMsg(body, p, subEnd);
        sum = "msg";
        channelId = msgChannelId;
        eof = msgEof;
        data = msgData;
      } else {
        checkEmptyMessage(body, p, subEnd, field === 1 ? "PacketPing" : "PacketPong");
        sum = field === 1 ? "ping" : "pong";
      }
      p = subEnd;
    } else {
      p = skipField(body, start, end);
    }
  }
  switch (sum) {
    case null:
      throw new EmptyPacketError();
    case "ping":
      return PING;
    case "pong":
      return PONG;
    case "msg":
      return { kind: "msg", channelId, eof, data: data ?? body.subarray(0, 0) };
  }
}

// ---------------------------------------------------------------------------
// Stream decoding

/**
 * Incremental decoder of the MConnection byte stream. `push` chunks of any
 * size, then call `next` until it returns `undefined`. Packets come out one
 * at a time, so the caller can stop between any two (to pause, rate-limit
 * or drop the connection) and errors surface in stream order: every packet
 * before a bad one is returned first.
 *
 * The length prefix is checked against `maxBodyBytes` as soon as it is
 * complete, before any body byte is buffered. A body inside one chunk is
 * returned as a view; one that spans chunks is copied once into a buffer of
 * exactly its size. After a throw the decoder keeps throwing the same error.
 */
export class PacketDecoder {
  private readonly chunks: Uint8Array[] = [];
  private offset = 0;
  private buffered = 0;
  private prefixValue = 0;
  private prefixMultiplier = 1;
  private prefixBytes = 0;
  private body: Uint8Array | null = null;
  private bodyFilled = 0;
  private bodyPrefixBytes = 0;
  private error: Error | null = null;
  private lastSize = 0;

  constructor(readonly maxBodyBytes: number) {}

  /** Bytes pushed and not yet returned as packets. */
  get bufferedBytes(): number {
    return this.buffered + this.bodyFilled + this.prefixBytes;
  }

  /** Wire size (prefix + body) of the packet `next` returned last. */
  get lastPacketBytes(): number {
    return this.lastSize;
  }

  /** Queues `chunk`; the decoder keeps a reference and does not copy it. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.buffered += chunk.length;
  }

  /**
   * The next complete packet, or `undefined` when more bytes are needed.
   * Throws {@link PacketTooLargeError}, {@link PacketDecodeError} or
   * {@link EmptyPacketError}.
   */
  next(): Packet | undefined {
    if (this.error !== null) throw this.error;
    try {
      const body = this.nextBody();
      return body === undefined ? undefined : decodePacketBody(body);
    } catch (err) {
      this.error = err instanceof Error ? err : new PacketDecodeError(String(err));
      throw this.error;
    }
  }

  private nextBody(): Uint8Array | undefined {
    if (this.body === null) {
      const length = this.readPrefix();
      if (length === undefined) return undefined;
      if (length > this.maxBodyBytes) throw new PacketTooLargeError(length, this.maxBodyBytes);
      const head = this.chunks[0];
      if (head !== undefined && head.length - this.offset >= length) {
        const view = head.subarray(this.offset, this.offset + length);
        this.consume(head, length);
        this.lastSize = this.bodyPrefixBytes + length;
        return view;
      }
      this.body = new Uint8Array(length);
      this.bodyFilled = 0;
    }
    const body = this.body;
    while (this.bodyFilled < body.length) {
      const head = this.chunks[0];
      if (head === undefined) return undefined;
      const take = Math.min(body.length - this.bodyFilled, head.length - this.offset);
      body.set(head.subarray(this.offset, this.offset + take), this.bodyFilled);
      this.bodyFilled += take;
      this.consume(head, take);
    }
    this.body = null;
    this.bodyFilled = 0;
    this.lastSize = this.bodyPrefixBytes + body.length;
    return body;
  }

  /** Reads the uvarint length prefix byte by byte across chunks. */
  private readPrefix(): number | undefined {
    for (;;) {
      const head = this.chunks[0];
      if (head === undefined) return undefined;
      const b = head[this.offset] as number;
      this.consume(head, 1);
      this.prefixBytes++;
      this.prefixValue += (b & 0x7f) * this.prefixMultiplier;
      if (this.prefixValue > Number.MAX_SAFE_INTEGER || (b >= 0x80 && this.prefixBytes >= MAX_VARINT_BYTES)) {
        throw new PacketDecodeError("length prefix overflows", { cause: new VarintOverflowError("packet length prefix") });
      }
      if (b < 0x80) break;
      this.prefixMultiplier *= 128;
    }
    const length = this.prefixValue;
    this.bodyPrefixBytes = this.prefixBytes;
    this.prefixValue = 0;
    this.prefixMultiplier = 1;
    this.prefixBytes = 0;
    return length;
  }

  private consume(head: Uint8Array, n: number): void {
    this.offset += n;
    this.buffered -= n;
    if (this.offset === head.length) {
      this.chunks.shift();
      this.offset = 0;
    }
  }
}
