/**
 * Fuzz target: the MConnection byte stream (`PacketDecoder`,
 * `decodePacketBody`) and per-channel reassembly (`Channel.receive`).
 *
 * Properties:
 * - errors are only `PacketTooLargeError`, `PacketDecodeError` and
 *   `EmptyPacketError`, and come in stream order: every packet before a bad
 *   one is returned first, whatever the chunking;
 * - the chunked decoding equals an independent reference of the whole input:
 *   its own framing (`referencePrefix`) and its own gogoproto-style body
 *   decoder (`packet-reference.ts`), which shares no code or assumption with
 *   ours; an oversize length throws as soon as its prefix is complete;
 * - once drained, the decoder holds at most one partial packet (prefix + body
 *   below the limit);
 * - every packet re-encodes and decodes to itself, and agrees with the
 *   generated (ts-proto) decoder wherever ours accepts;
 * - reassembly yields the concatenated data per channel and refuses a message
 *   over the channel's capacity with `MessageOverCapacityError`.
 */
import { Packet as ProtoPacket } from "../../server/src/gen/switchboard/p2p/v1/conn.js";
import { Channel } from "../../server/src/wire/mconnection/channel.js";
import { fillChannelDefaults } from "../../server/src/wire/mconnection/channel-descriptor.js";
import { EmptyPacketError, MessageOverCapacityError, PacketDecodeError, PacketTooLargeError } from "../../server/src/wire/mconnection/errors.js";
import { type Packet, PacketDecoder, decodePacketBody, encodePacket, encodePacketBody, maxPacketMsgSize } from "../../server/src/wire/mconnection/packet.js";
import { FuzzInput, PropertyViolation, bytesEqual, check, chunkBySeed, chunkIndexOf, concatBytes, expectTyped, referencePrefix } from "./common.js";
import { referenceDecodePacketBody } from "./packet-reference.js";

export interface PacketDecoderLike {
  readonly bufferedBytes: number;
  readonly lastPacketBytes: number;
  push(chunk: Uint8Array): void;
  next(): Packet | undefined;
}

export type PacketDecoderFactory = (maxBodyBytes: number) => PacketDecoderLike;

const realFactory: PacketDecoderFactory = (max) => new PacketDecoder(max);

const ERRORS = [PacketTooLargeError, PacketDecodeError, EmptyPacketError] as const;

type Decoded = { readonly packet: Packet; readonly wireBytes: number };

interface Reference {
  readonly packets: Decoded[];
  /** Where the stream fails: the error class and the offset of the byte that reveals it. */
  readonly failure: { readonly cls: (typeof ERRORS)[number]; readonly at: number } | null;
}

function copyPacket(p: Packet): Packet {
  return p.kind === "msg" ? { kind: "msg", channelId: p.channelId, eof: p.eof, data: p.data.slice() } : p;
}

function reference(bytes: Uint8Array, max: number): Reference {
  const packets: Decoded[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const p = referencePrefix(bytes, offset);
    if (p.kind === "incomplete") break;
    if (p.kind === "overflow") return { packets, failure: { cls: PacketDecodeError, at: p.at } };
    const prefixEnd = offset + p.size;
    if (p.value > max) return { packets, failure: { cls: PacketTooLargeError, at: prefixEnd - 1 } };
    if (bytes.length - prefixEnd < p.value) break;
    const body = bytes.subarray(prefixEnd, prefixEnd + p.value);
    const last = prefixEnd + p.value - 1;
    const decoded = referenceDecodePacketBody(body);
    if (decoded.kind !== "packet") return { packets, failure: { cls: decoded.kind === "empty" ? EmptyPacketError : PacketDecodeError, at: last } };
    packets.push({ packet: decoded.packet, wireBytes: p.size + p.value });
    offset = prefixEnd + p.value;
  }
  return { packets, failure: null };
}

function samePacket(a: Packet, b: Packet): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== "msg" || b.kind !== "msg") return true;
  return a.channelId === b.channelId && a.eof === b.eof && bytesEqual(a.data, b.data);
}

function describe(p: Packet): string {
  return p.kind === "msg" ? `msg(ch=${p.channelId}, eof=${p.eof}, ${p.data.length} bytes)` : p.kind;
}

/** Round trip through our encoder, and agreement with the generated decoder. */
function checkPacketBody(body: Uint8Array, packet: Packet): void {
  const again = decodePacketBody(encodePacketBody(packet));
  check(samePacket(again, packet), () => `re-encoding ${describe(packet)} decodes to ${describe(again)}`);
  check(encodePacket(packet).length <= 5 + encodePacketBody(packet).length, "delimited encoding larger than prefix + body");
  let proto: ProtoPacket;
  try {
    proto = ProtoPacket.decode(body);
  } catch (err) {
    if (generatedMayDiffer(body, err)) return;
    throw new PropertyViolation(`our decoder accepted ${describe(packet)} but the generated one threw`, { cause: err });
  }
  const s = proto.sum;
  const viaProto: Packet | null =
    s === undefined
      ? null
      : s.$case === "packetPing"
        ? { kind: "ping" }
        : s.$case === "packetPong"
          ? { kind: "pong" }
          : { kind: "msg", channelId: s.value.channelId, eof: s.value.eof, data: s.value.data };
  if (generatedMayDiffer(body, null)) return;
  check(viaProto !== null && samePacket(viaProto, packet), () => `generated decoder says ${viaProto === null ? "nothing" : describe(viaProto)}, ours ${describe(packet)}`);
}

/**
 * Where the generated (bufbuild) reader and gogoproto (which ours follows)
 * legitimately part ways: inside groups bufbuild refuses field number 0,
 * mismatched end-group numbers and nesting past 100; and it truncates a tag
 * varint to 32 bits (a tag of 2^32 reads as field 0, and ends the message),
 * where Go keeps 64 bits. A tag that wide needs a run of four or more
 * continuation bytes, so any such run makes the comparison moot.
 */
function generatedMayDiffer(body: Uint8Array, err: unknown): boolean {
  if (err instanceof Error && /recursion|illegal tag: field no 0|end group/.test(err.message)) return true;
  let run = 0;
  for (const b of body) {
    run = b >= 0x80 ? run + 1 : 0;
    if (run >= 4) return true;
  }
  return false;
}

/** Channels of the reassembly check: small capacities so that fuzzed data can exceed them. */
const REASSEMBLY_CHANNELS = [
  { id: 0x00, priority: 1, recvMessageCapacity: 1, recvBufferCapacity: 1 },
  { id: 0x01, priority: 1, recvMessageCapacity: 64, recvBufferCapacity: 16 },
  { id: 0x40, priority: 1, recvMessageCapacity: 3000, recvBufferCapacity: 4096 },
];

/** Feeds the decoded msg packets to channels and compares with a plain concatenation. */
function checkReassembly(packets: readonly Packet[]): void {
  const channels = new Map(REASSEMBLY_CHANNELS.map((d) => [d.id, new Channel(fillChannelDefaults(d))]));
  const partial = new Map<number, Uint8Array[]>();
  for (const p of packets) {
    if (p.kind !== "msg") continue;
    const ch = channels.get(p.channelId);
    if (ch === undefined) return; // the MConnection drops the peer: UnknownChannelError
    const cap = REASSEMBLY_CHANNELS.find((d) => d.id === p.channelId)?.recvMessageCapacity ?? 0;
    const parts = [...(partial.get(p.channelId) ?? []), p.data];
    const total = parts.reduce((n, x) => n + x.length, 0);
    let message: Uint8Array | null;
    try {
      message = ch.receive(p.data, p.eof);
    } catch (err) {
      expectTyped(err, [MessageOverCapacityError], "Channel.receive");
      check(total > cap, () => `MessageOverCapacityError at ${total} bytes, capacity ${cap}`);
      return; // the MConnection drops the peer
    }
    check(total <= cap, () => `accepted ${total} bytes on a channel of capacity ${cap}`);
    if (p.eof) {
      check(message !== null && bytesEqual(message, concatBytes(parts)), "reassembled message differs from the concatenated packets");
      partial.delete(p.channelId);
    } else {
      check(message === null, "a message completed without eof");
      partial.set(p.channelId, parts);
    }
  }
}

export function checkPacketStream(bytes: Uint8Array, chunks: readonly Uint8Array[], max: number, make: PacketDecoderFactory = realFactory): void {
  const ref = reference(bytes, max);
  const dec = make(max);
  const got: Decoded[] = [];
  let failure: { err: Error; chunk: number } | null = null;
  outer: for (let i = 0; i < chunks.length; i++) {
    dec.push(chunks[i] as Uint8Array);
    for (;;) {
      let p: Packet | undefined;
      try {
        p = dec.next();
      } catch (err) {
        failure = { err: expectTyped(err, ERRORS, "PacketDecoder.next"), chunk: i };
        // A failed decoder keeps failing with the same error.
        let again: unknown = null;
        try {
          dec.next();
        } catch (e) {
          again = e;
        }
        check(again === failure.err, "a failed decoder did not rethrow its error");
        break outer;
      }
      if (p === undefined) break;
      got.push({ packet: copyPacket(p), wireBytes: dec.lastPacketBytes });
    }
    // Drained: what is left is at most one packet's prefix, or part of a body below the limit.
    check(dec.bufferedBytes <= Math.max(9, max), () => `holds ${dec.bufferedBytes} bytes after draining, limit ${max}`);
  }
  check(got.length === ref.packets.length, () => `decoded ${got.length} packets, the reference ${ref.packets.length}`);
  got.forEach((d, i) => {
    const r = ref.packets[i] as Decoded;
    check(samePacket(d.packet, r.packet), () => `packet ${i}: ${describe(d.packet)} vs reference ${describe(r.packet)}`);
    check(d.wireBytes === r.wireBytes, () => `packet ${i}: lastPacketBytes ${d.wireBytes}, expected ${r.wireBytes}`);
    if (d.packet.kind === "msg") check(d.packet.data.length <= max, "packet data over the limit");
  });
  if (ref.failure === null) {
    check(failure === null, () => `threw ${String(failure?.err)} on a stream the reference accepts`);
  } else {
    const want = ref.failure;
    check(failure !== null && failure.err instanceof want.cls, () => `expected ${want.cls.name}, got ${String(failure?.err)}`);
    const expectedChunk = chunkIndexOf(chunks, want.at);
    check(failure.chunk === expectedChunk, () => `${want.cls.name} surfaced at chunk ${failure.chunk}, expected chunk ${expectedChunk}`);
  }
  // Body-level properties on the whole input's packets.
  let offset = 0;
  for (const d of ref.packets) {
    const p = referencePrefix(bytes, offset);
    if (p.kind !== "complete") break;
    checkPacketBody(bytes.subarray(offset + p.size, offset + p.size + p.value), d.packet);
    offset += d.wireBytes;
  }
  checkReassembly(ref.packets.map((d) => d.packet));
}

const LIMITS = [maxPacketMsgSize(1024), 0, 1, 3, 16, maxPacketMsgSize(64)];

export function fuzz(data: Uint8Array): void {
  const input = new FuzzInput(data);
  const max = LIMITS[input.byte() % LIMITS.length] as number;
  const seed = input.u32();
  const bytes = input.rest();
  checkPacketStream(bytes, chunkBySeed(bytes, seed), max);
}
