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
  const id = Number(s.cmd.requestId);
  if (id !== 0) {
    buf[pos++] = tag(1, WIRE_VARINT);
    pos = writeVarint(buf, pos, id);
  }
  const k = s.cmd.kind;
  if (k === undefined) return pos;
  switch (k.$case) {
    case "send":
    case "trySend": {
      const v = k.value;
      buf[pos++] = tag(k.$case === "send" ? 2 : 3, WIRE_LEN);
      pos = writeVarint(buf, pos, s.kindSize);
      if (s.conn > 0) {
        buf[pos++] = tag(1, WIRE_LEN);
        pos = writeVarint(buf, pos, s.conn);
        pos += buf.write(v.connectionId, pos, s.conn, "utf8");
      }
      if (s.peer > 0) {
        buf[pos++] = tag(2, WIRE_LEN);
        pos = writeVarint(buf, pos, s.peer);
        pos += buf.write(v.peerId, pos, s.peer, "utf8");
      }
      if (v.channelId !== 0) {
        buf[pos++] = tag(3, WIRE_VARINT);
        pos = writeVarint(buf, pos, v.channelId);
      }
      if (v.message.length > 0) {
        buf[pos++] = tag(4, WIRE_LEN);
        pos = writeVarint(buf, pos, v.message.length);
        buf.set(v.message, pos);
        pos += v.message.length;
      }
      const timeoutMs = k.$case === "send" ? k.value.timeoutMs : 0;
      if (timeoutMs !== 0) {
        buf[pos++] = tag(5, WIRE_VARINT);
        pos = writeVarint(buf, pos, timeoutMs);
      }
      return pos;
    }
    case "broadcast": {
      const v = k.value;
      buf[pos++] = tag(4, WIRE_LEN);
      pos = writeVarint(buf, pos, s.kindSize);
      if (v.channelId !== 0) {
        buf[pos++] = tag(1, WIRE_VARINT);
        pos = writeVarint(buf, pos, v.channelId);
      }
      if (v.message.length > 0) {
        buf[pos++] = tag(2, WIRE_LEN);
        pos = writeVarint(buf, pos, v.message.length);
        buf.set(v.message, pos);
        pos += v.message.length;
      }
      return pos;
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
    buf[0] = tag(4, WIRE_LEN);
    const end = writeCommand(buf, writeVarint(buf, 1, s.size), s);
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
  buf[0] = tag(5, WIRE_LEN);
  let pos = writeVarint(buf, 1, size);
  if (ack !== undefined) {
    buf[pos++] = tag(1, WIRE_LEN);
    pos = writeVarint(buf, pos, ackSize);
    if (ack !== 0n) {
      buf[pos++] = tag(1, WIRE_VARINT);
      pos = writeVarint(buf, pos, Number(ack));
    }
  }
  if (credit !== undefined) {
    buf[pos++] = tag(2, WIRE_LEN);
    pos = writeVarint(buf, pos, creditSize);
    if (credit.messages !== 0) {
      buf[pos++] = tag(1, WIRE_VARINT);
      pos = writeVarint(buf, pos, credit.messages);
    }
    if (credit.bytes !== 0n) {
      buf[pos++] = tag(2, WIRE_VARINT);
      pos = writeVarint(buf, pos, Number(credit.bytes));
    }
  }
  for (const s of sized) {
    buf[pos++] = tag(3, WIRE_LEN);
    pos = writeVarint(buf, pos, s.size);
    pos = writeCommand(buf, pos, s);
  }
  // A mismatch would be a bug here; the generated encoder is always right.
  return pos === buf.length ? buf : generic(req);
}
