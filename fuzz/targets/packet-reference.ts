/**
 * An independent reference decoder of a `tendermint.p2p.Packet` body, written
 * from CometBFT v0.38's generated gogoproto code (`proto/tendermint/p2p/
 * conn.pb.go`: `Packet.Unmarshal`, `PacketMsg.Unmarshal`,
 * `PacketPing.Unmarshal`, `skipConn`) and sharing nothing with
 * `server/src/wire/mconnection/packet.ts`: a plain field walker on BigInt
 * varints, where the implementation is a hand-tuned decoder on 32-bit halves.
 *
 *   Packet    = oneof sum { 1: PacketPing {}, 2: PacketPong {}, 3: PacketMsg }
 *   PacketMsg = { 1: channel_id int32, 2: eof bool, 3: data bytes }
 *
 * What gogoproto does, and so what this does:
 * - every message is decoded from its own slice: no varint, length or skipped
 *   field may run past the end of the message it is in (a PacketMsg inside a
 *   Packet ends where its length says, not where the Packet ends);
 * - a varint has at most 10 bytes (an 11th is an overflow error); bits past 64
 *   are dropped; non-minimal encodings are fine;
 * - a tag's field number is `int32(wire >> 3)` (so a tag of 2^32 + 1 << 3 is
 *   field 1); field number ≤ 0 and wire type 4 (end group) are errors;
 * - a known field with another wire type is an error; unknown fields of wire
 *   types 0, 1, 2, 3 (a group, skipped to its matching depth, field numbers
 *   inside unchecked) and 5 are skipped, 6 and 7 are errors;
 * - a length is a signed 64-bit int: negative is an error, past the end too;
 * - fields may come in any order and repeat: the last one wins. A oneof
 *   member replaces the sum with a fresh message (a repeated PacketMsg is not
 *   merged with the previous one);
 * - channel_id keeps the low 32 bits, as an int32; eof is "the 64-bit value is
 *   not zero";
 * - a body that sets no member of the sum is decoded fine by gogoproto, and
 *   then refused by the MConnection ("unknown message type"): `empty`.
 */
import type { Packet } from "../../server/src/wire/mconnection/packet.js";

export type ReferenceResult =
  | { readonly kind: "packet"; readonly packet: Packet }
  | { readonly kind: "empty" }
  | { readonly kind: "malformed"; readonly reason: string };

class Malformed extends Error {}

export interface ReferenceOptions {
  /**
   * A deliberately broken reference, for the test that proves the property
   * catches decoders which read past a message's end: a varint may take this
   * many bytes beyond the end of the message it is in. @default 0
   */
  readonly varintOverrunBytes?: number;
}

/** Decodes a Packet body as gogoproto would; never throws. */
export function referenceDecodePacketBody(body: Uint8Array, options: ReferenceOptions = {}): ReferenceResult {
  const overrun = options.varintOverrunBytes ?? 0;

  /** gogoproto's varint loop over `buf[pos:end]`: returns the 64-bit value and the position after it. */
  const varint = (pos: number, end: number): [bigint, number] => {
    let value = 0n;
    let p = pos;
    for (let shift = 0n; ; shift += 7n) {
      if (shift >= 64n) throw new Malformed("integer overflow");
      if (p >= end + overrun || p >= body.length) throw new Malformed("unexpected EOF in a varint");
      const b = body[p] as number;
      p++;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return [BigInt.asUintN(64, value), p];
    }
  };

  /** A length-delimited field's extent: [start, end) of its bytes. */
  const delimited = (pos: number, end: number): [number, number] => {
    const [raw, p] = varint(pos, end);
    const length = BigInt.asIntN(64, raw);
    if (length < 0n) throw new Malformed("negative length");
    if (BigInt(p) + length > BigInt(end)) throw new Malformed("length past the end");
    return [p, p + Number(length)];
  };

  /** `skipConn` on `buf[pos:end]`, starting at a tag: returns the position after the field (or group). */
  const skip = (pos: number, end: number): number => {
    let p = pos;
    let depth = 0;
    while (p < end) {
      const [tag, afterTag] = varint(p, end);
      p = afterTag;
      const wireType = Number(tag & 7n);
      if (wireType === 0) p = varint(p, end)[1];
      else if (wireType === 1) p += 8;
      else if (wireType === 2) p = delimitedSkip(p, end);
      else if (wireType === 3) depth++;
      else if (wireType === 4) {
        if (depth === 0) throw new Malformed("unexpected end of group");
        depth--;
      } else if (wireType === 5) p += 4;
      else throw new Malformed(`illegal wire type ${wireType}`);
      if (depth === 0) {
        if (p > end) throw new Malformed("skipped field runs past the end");
        return p;
      }
    }
    throw new Malformed("unexpected EOF in a group");
  };

  /** skipConn's wire type 2: a length (negative is an error), then that many bytes, checked by the caller. */
  const delimitedSkip = (pos: number, end: number): number => {
    const [raw, p] = varint(pos, end);
    const length = BigInt.asIntN(64, raw);
    if (length < 0n) throw new Malformed("negative length");
    return BigInt(p) + length > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : p + Number(length);
  };

  /**
   * The generated Unmarshal loop of one message on `buf[start:end]`:
   * `known(field, wireType, pos)` returns the position after a known field,
   * or null for an unknown one (then skipped).
   */
  const message = (name: string, start: number, end: number, known: (field: number, wireType: number, pos: number) => number | null): void => {
    let p = start;
    while (p < end) {
      const tagAt = p;
      const [tag, afterTag] = varint(p, end);
      const field = Number(BigInt.asIntN(32, tag >> 3n));
      const wireType = Number(tag & 7n);
      if (wireType === 4) throw new Malformed(`${name}: end group for non-group`);
      if (field <= 0) throw new Malformed(`${name}: illegal tag ${field}`);
      const next = known(field, wireType, afterTag);
      p = next ?? skip(tagAt, end);
    }
  };

  const emptyMessage = (name: string, start: number, end: number): void => {
    message(name, start, end, () => null);
  };

  const packetMsg = (start: number, end: number): Packet => {
    let channelId = 0;
    let eof = false;
    let data = new Uint8Array(0);
    message("PacketMsg", start, end, (field, wireType, pos) => {
      if (field === 1) {
        if (wireType !== 0) throw new Malformed(`PacketMsg: wrong wire type ${wireType} for channel_id`);
        const [v, p] = varint(pos, end);
        channelId = Number(BigInt.asIntN(32, v));
        return p;
      }
      if (field === 2) {
        if (wireType !== 0) throw new Malformed(`PacketMsg: wrong wire type ${wireType} for eof`);
        const [v, p] = varint(pos, end);
        eof = v !== 0n;
        return p;
      }
      if (field === 3) {
        if (wireType !== 2) throw new Malformed(`PacketMsg: wrong wire type ${wireType} for data`);
        const [from, to] = delimited(pos, end);
        data = body.slice(from, to);
        return to;
      }
      return null;
    });
    return { kind: "msg", channelId, eof, data };
  };

  try {
    const decoded: { sum: Packet | null } = { sum: null };
    message("Packet", 0, body.length, (field, wireType, pos) => {
      if (field < 1 || field > 3) return null;
      if (wireType !== 2) throw new Malformed(`Packet: wrong wire type ${wireType} for field ${field}`);
      const [from, to] = delimited(pos, body.length);
      if (field === 3) decoded.sum = packetMsg(from, to);
      else {
        emptyMessage(field === 1 ? "PacketPing" : "PacketPong", from, to);
        decoded.sum = { kind: field === 1 ? "ping" : "pong" };
      }
      return to;
    });
    return decoded.sum === null ? { kind: "empty" } : { kind: "packet", packet: decoded.sum };
  } catch (err) {
    if (err instanceof Malformed) return { kind: "malformed", reason: err.message };
    throw err;
  }
}
