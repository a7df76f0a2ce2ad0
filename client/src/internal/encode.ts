/**
 * The SDK's encoder of AttachRequests: byte for byte what the generated
 * `AttachRequest.encode` writes, in one allocation of the exact size.
 *
 * The generated encoder writes nested messages into a growing buffer and
 * moves the bytes already written each time a nested message of 128 bytes or
 * more closes (to widen its length prefix), so a Send's payload is copied
 * once per nesting level (Send, Command, RequestBatch, AttachRequest), plus
 * the buffer's growth, the final slice and grpc-js's `Buffer.from`. Here the
 * sizes come first and each payload is copied once.
 *
 * Batches and lone commands take this path: send, try_send and broadcast
 * written field by field, other commands through the generated encoder (then
 * copied whole). Anything else, and any 64-bit number past 2^53, goes through
 * the generated encoder.
 *
 * @internal
 */
import { type AttachRequest, Command, AttachRequest as AttachRequestCodec } from "../gen/switchboard/gateway/v1/gateway.js";

const WIRE_VARINT = 0;
const WIRE_LEN = 2;
const tag = (field: number, wire: number): number => (field << 3) | wire;

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);
/** A valid uint32 (anything else goes to the generated encoder, which refuses it as it always did). */
const isUint32 = (n: number): boolean => Number.isInteger(n) && n >= 0 && n <= 0xffff_ffff;

function varintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

/** A length-delimited field's size with its tag and prefix. */
const lenField = (size: number): number => 1 + varintSize(size) + size;
const varintField = (n: number): number => (n === 0 ? 0 : 1 + varintSize(n));
const strField = (bytes: number): number => (bytes === 0 ? 0 : lenField(bytes));

/** Writes a varint field unless it is 0 (proto3 leaves defaults out); returns the new position. */
function putVarint(buf: Buffer, pos: number, field: number, n: number): number {
  if (n === 0) return pos;
  buf[pos++] = tag(field, WIRE_VARINT);
  return writeVarint(buf, pos, n);
}

/** Writes a length-delimited field's tag and length (the body follows); returns the body's position. */
function putLen(buf: Buffer, pos: number, field: number, length: number): number {
  buf[pos++] = tag(field, WIRE_LEN);
  return writeVarint(buf, pos, length);
}

/** Writes a bytes field unless it is empty. */
function putBytes(buf: Buffer, pos: number, field: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return pos;
  pos = putLen(buf, pos, field, bytes.length);
  buf.set(bytes, pos);
  return pos + bytes.length;
}

/** Writes a string field of `byteLength` UTF-8 bytes unless it is empty. */
function putString(buf: Buffer, pos: number, field: number, value: string, byteLength: number): number {
  if (byteLength === 0) return pos;
  pos = putLen(buf, pos, field, byteLength);
  return pos + buf.write(value, pos, byteLength, "utf8");
}

/** One command, measured: its body size and what the write pass needs. */
interface Sized {
  readonly cmd: Command;
  /** The Command message's size (without its own tag and prefix). */
  readonly size: number;
  /** The kind's body size (send/try_send/broadcast), or -1 when `encoded` holds the whole Command. */
  readonly kindSize: number;
  readonly conn: number;
  readonly peer: number;
  readonly encoded: Uint8Array | null;
}

/** Null when a number does not fit the fast path. */
function sizeCommand(cmd: Command): Sized | null {
  if (cmd.requestId < 0n || cmd.requestId > MAX_SAFE) return null;
  const id = varintField(Number(cmd.requestId));
  const k = cmd.kind;
  switch (k?.$case) {
    case "send":
    case "trySend": {
      const v = k.value;
      const timeoutMs = k.$case === "send" ? k.value.timeoutMs : 0;
      if (!isUint32(v.channelId) || !isUint32(timeoutMs)) return null;
      const conn = Buffer.byteLength(v.connectionId, "utf8");
      const peer = Buffer.byteLength(v.peerId, "utf8");
      const body = strField(conn) + strField(peer) + varintField(v.channelId) + strField(v.message.length) + varintField(timeoutMs);
      return { cmd, size: id + lenField(body), kindSize: body, conn, peer, encoded: null };
    }
    case "broadcast": {
      const v = k.value;
      if (!isUint32(v.channelId)) return null;
      const body = varintField(v.channelId) + strField(v.message.length);
      return { cmd, size: id + lenField(body), kindSize: body, conn: 0, peer: 0, encoded: null };
    }
    default: {
      const encoded = Command.encode(cmd).finish();
      return { cmd, size: encoded.length, kindSize: -1, conn: 0, peer: 0, encoded };
    }
  }
}

function writeCommand(buf: Buffer, pos: number, s: Sized): number {
  if (s.encoded !== null) {
    buf.set(s.encoded, pos);
    return pos + s.encoded.length;
  }
  pos = putVarint(buf, pos, 1, Number(s.cmd.requestId));
  const k = s.cmd.kind;
  if (k === undefined) return pos;
  switch (k.$case) {
    case "send":
    case "trySend": {
      const v = k.value;
      pos = putLen(buf, pos, k.$case === "send" ? 2 : 3, s.kindSize);
      pos = putString(buf, pos, 1, v.connectionId, s.conn);
      pos = putString(buf, pos, 2, v.peerId, s.peer);
      pos = putVarint(buf, pos, 3, v.channelId);
      pos = putBytes(buf, pos, 4, v.message);
      return putVarint(buf, pos, 5, k.$case === "send" ? k.value.timeoutMs : 0);
    }
    case "broadcast": {
      const v = k.value;
      pos = putLen(buf, pos, 4, s.kindSize);
      pos = putVarint(buf, pos, 1, v.channelId);
      return putBytes(buf, pos, 2, v.message);
    }
    default:
      return pos; // sized with `encoded`
  }
}

function generic(req: AttachRequest): Buffer {
  const bytes = AttachRequestCodec.encode(req).finish();
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Encodes `req` as `AttachRequest.encode(req).finish()` would, into a Buffer of its own. */
export function encodeAttachRequest(req: AttachRequest): Buffer {
  const m = req.msg;
  if (m?.$case === "command") {
    const s = sizeCommand(m.value);
    if (s === null) return generic(req);
    const buf = Buffer.allocUnsafe(lenField(s.size));
    const end = writeCommand(buf, putLen(buf, 0, 4, s.size), s);
    return end === buf.length ? buf : generic(req);
  }
  if (m?.$case !== "batch") return generic(req);
  const b = m.value;
  const ack = b.ack?.eventSeq;
  const credit = b.credit;
  if ((ack !== undefined && (ack < 0n || ack > MAX_SAFE)) || (credit !== undefined && (credit.bytes < 0n || credit.bytes > MAX_SAFE || !isUint32(credit.messages)))) return generic(req);
  const sized: Sized[] = [];
  let size = 0;
  let ackSize = 0;
  let creditSize = 0;
  if (ack !== undefined) {
    ackSize = varintField(Number(ack));
    size += lenField(ackSize);
  }
  if (credit !== undefined) {
    creditSize = varintField(credit.messages) + varintField(Number(credit.bytes));
    size += lenField(creditSize);
  }
  for (const c of b.commands) {
    const s = sizeCommand(c);
    if (s === null) return generic(req);
    sized.push(s);
    size += lenField(s.size);
  }
  const buf = Buffer.allocUnsafe(lenField(size));
  let pos = putLen(buf, 0, 5, size);
  if (ack !== undefined) {
    pos = putLen(buf, pos, 1, ackSize);
    pos = putVarint(buf, pos, 1, Number(ack));
  }
  if (credit !== undefined) {
    pos = putLen(buf, pos, 2, creditSize);
    pos = putVarint(buf, pos, 1, credit.messages);
    pos = putVarint(buf, pos, 2, Number(credit.bytes));
  }
  for (const s of sized) pos = writeCommand(buf, putLen(buf, pos, 3, s.size), s);
  // A mismatch would be a bug here; the generated encoder is always right.
  return pos === buf.length ? buf : generic(req);
}
