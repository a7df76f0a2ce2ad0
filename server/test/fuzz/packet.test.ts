/**
 * Hostile input for the MConnection stream (`PacketDecoder`,
 * `decodePacketBody`, channel reassembly): streams of real packets mixed
 * with malformed bodies, hostile prefixes and junk, cut at random (the
 * property lives in fuzz/targets/packet.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bytesEqual, chunkBySizes, concatBytes, expectTyped } from "../../../fuzz/targets/common.js";
import { type PacketDecoderFactory, type PacketDecoderLike, checkPacketStream } from "../../../fuzz/targets/packet.js";
import { type ReferenceResult, referenceDecodePacketBody } from "../../../fuzz/targets/packet-reference.js";
import { EmptyPacketError, PacketDecodeError, PacketTooLargeError } from "../../src/wire/mconnection/errors.js";
import { type Packet, PacketDecoder, decodePacketBody, encodePacket, encodePacketBody, maxPacketMsgSize } from "../../src/wire/mconnection/packet.js";
import { encodeDelimited } from "../../src/wire/varint.js";
import { arrayBufferGrowth, bytesUpTo, chunkSizes, expectPropertyToFail, hostilePrefix, junk, uvarint } from "./support.js";

const packet: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ kind: "ping" }),
  fc.constant<Packet>({ kind: "pong" }),
  fc.record({
    kind: fc.constant("msg" as const),
    channelId: fc.oneof(fc.constantFrom(0x00, 0x01, 0x40), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
    eof: fc.boolean(),
    data: bytesUpTo(1100),
  }),
);

const piece = fc.oneof(
  { weight: 8, arbitrary: packet.map(encodePacket) },
  // A body that is not a valid Packet: random protobuf-ish bytes, delimited.
  { weight: 2, arbitrary: junk(40).map(encodeDelimited) },
  { weight: 1, arbitrary: fc.tuple(hostilePrefix, junk(8)).map(([p, j]) => concatBytes([p, j])) },
  { weight: 1, arbitrary: junk(16) },
);

const input = fc.record({
  bytes: fc.array(piece, { maxLength: 10 }).map(concatBytes),
  sizes: chunkSizes,
  max: fc.constantFrom(maxPacketMsgSize(1024), 0, 3, 64),
});

function property(make?: PacketDecoderFactory) {
  return ({ bytes, sizes, max }: { bytes: Uint8Array; sizes: number[]; max: number }): void => {
    checkPacketStream(bytes, chunkBySizes(bytes, sizes), max, make);
  };
}

/** Wraps a real decoder, changing one behaviour. */
function wrap(max: number, change: { next?: (d: PacketDecoder) => Packet | undefined }): PacketDecoderLike {
  const d = new PacketDecoder(max);
  return {
    get bufferedBytes() {
      return d.bufferedBytes;
    },
    get lastPacketBytes() {
      return d.lastPacketBytes;
    },
    push: (c) => {
      d.push(c);
    },
    next: () => (change.next ?? ((x: PacketDecoder) => x.next()))(d),
  };
}

describe("PacketDecoder under hostile input", () => {
  it("decodes like the reference under any chunking, fails only with typed errors in stream order, holds at most one packet", () => {
    fc.assert(fc.property(input, property()), { numRuns: 1500 });
  });

  it("an oversize length throws at the byte that completes its prefix", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 2 ** 40 }), (max, over) => {
        const dec = new PacketDecoder(max);
        const prefix = uvarint(BigInt(max + over));
        for (let i = 0; i < prefix.length - 1; i++) {
          dec.push(prefix.subarray(i, i + 1));
          expect(dec.next()).toBeUndefined();
        }
        dec.push(prefix.subarray(prefix.length - 1));
        expect(() => dec.next()).toThrow(PacketTooLargeError);
      }),
      { numRuns: 300 },
    );
  });

  it("a 256 MiB announcement allocates nothing", () => {
    const { growthBytes, result } = arrayBufferGrowth(() => {
      const dec = new PacketDecoder(maxPacketMsgSize(1024));
      dec.push(concatBytes([uvarint(256n << 20n), new Uint8Array(16)]));
      try {
        return dec.next();
      } catch (err) {
        return err;
      }
    });
    expect(result).toBeInstanceOf(PacketTooLargeError);
    expect(growthBytes).toBeLessThan(1 << 20);
  });

  describe("the property catches broken decoders", () => {
    it("one without the size limit", () => {
      expectPropertyToFail(input, property(() => new PacketDecoder(Number.MAX_SAFE_INTEGER)));
    });
    it("one that throws untyped errors", () => {
      expectPropertyToFail(
        input,
        property((max) =>
          wrap(max, {
            next: (d) => {
              try {
                return d.next();
              } catch (err) {
                throw new TypeError(String(err));
              }
            },
          }),
        ),
      );
    });
    it("one that drops every third packet", () => {
      let n = 0;
      expectPropertyToFail(
        input,
        property((max) =>
          wrap(max, {
            next: (d) => {
              const p = d.next();
              return p !== undefined && ++n % 3 === 0 ? d.next() : p;
            },
          }),
        ),
      );
    });
  });
});

// ---------------------------------------------------------------------------
// Bodies: ours against the independent gogoproto-style reference
// (fuzz/targets/packet-reference.ts, written from CometBFT's conn.pb.go).

/** `value` as a varint, minimal, or padded with `pad` extra continuation bytes (non-minimal; past 10 bytes, an overflow). */
function varintOf(value: bigint, pad = 0): Uint8Array {
  const out = [...uvarint(value)];
  if (pad > 0) {
    out[out.length - 1] = (out[out.length - 1] as number) | 0x80;
    for (let i = 1; i < pad; i++) out.push(0x80);
    out.push(0x00);
  }
  return Uint8Array.from(out);
}

const tagOf = (field: bigint, wireType: number, pad = 0): Uint8Array => varintOf((field << 3n) | BigInt(wireType), pad);

const hex = (h: string): Uint8Array => Uint8Array.from(Buffer.from(h.replace(/\s+/g, ""), "hex"));

/** What a decoder made of a body, in the reference's terms. */
type Outcome = { readonly kind: "packet"; readonly packet: Packet } | { readonly kind: "empty" } | { readonly kind: "malformed" };

function ours(body: Uint8Array, decode: (b: Uint8Array) => Packet = decodePacketBody): Outcome {
  try {
    return { kind: "packet", packet: decode(body) };
  } catch (err) {
    const e = expectTyped(err, [PacketDecodeError, EmptyPacketError], "decodePacketBody");
    return e instanceof EmptyPacketError ? { kind: "empty" } : { kind: "malformed" };
  }
}

function show(o: Outcome | ReferenceResult): string {
  if (o.kind !== "packet") return o.kind;
  const p = o.packet;
  return p.kind === "msg" ? `msg(ch=${p.channelId}, eof=${p.eof}, data=${Buffer.from(p.data).toString("hex")})` : p.kind;
}

function sameOutcome(a: Outcome | ReferenceResult, b: Outcome | ReferenceResult): boolean {
  if (a.kind !== b.kind) return false;
  if (a.kind !== "packet" || b.kind !== "packet") return true;
  const x = a.packet;
  const y = b.packet;
  if (x.kind !== "msg" || y.kind !== "msg") return x.kind === y.kind;
  return x.channelId === y.channelId && x.eof === y.eof && bytesEqual(x.data, y.data);
}

function bodyProperty(decode?: (b: Uint8Array) => Packet) {
  return (body: Uint8Array): void => {
    const want = referenceDecodePacketBody(body);
    const got = ours(body, decode);
    if (!sameOutcome(got, want)) {
      throw new Error(`body ${Buffer.from(body).toString("hex")}: ours ${show(got)}, gogoproto ${show(want)}${want.kind === "malformed" ? ` (${want.reason})` : ""}`);
    }
  };
}

// Generators of protobuf-shaped hostile bodies: the right fields and wire types mostly, unknown fields (groups
// included), fields out of order and repeated, non-minimal and over-long varints, 10-byte varints with bits past
// 64, tags whose field number wraps at 32 bits, and lengths that are exact, short (the rest of the sub-message is
// then read by the enclosing one), long, huge or negative.

const pad = fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 2, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.integer({ min: 4, max: 10 }) });
const value = fc.oneof(
  { weight: 4, arbitrary: fc.bigInt({ min: 0n, max: 300n }) },
  { weight: 2, arbitrary: fc.constantFrom(0x40n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 32n + 7n, 2n ** 63n, 2n ** 64n - 1n) },
  { weight: 1, arbitrary: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) },
  { weight: 1, arbitrary: fc.bigInt({ min: 2n ** 64n, max: 2n ** 70n - 1n }) },
);
const varintField = fc.tuple(value, pad).map(([v, p]) => varintOf(v, p));
const fieldNumber = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(1n, 2n, 3n) },
  { weight: 3, arbitrary: fc.bigInt({ min: 4n, max: 40n }) },
  { weight: 1, arbitrary: fc.constantFrom(0n, 2n ** 29n - 1n, 2n ** 31n - 1n, 2n ** 31n, 2n ** 32n + 1n, 2n ** 32n + 3n, 2n ** 60n) },
);
/** A length for `content`: exact, a few bytes short or long, huge, or negative (as a 10-byte varint). */
const lengthFor = (n: number): fc.Arbitrary<Uint8Array> =>
  fc.tuple(
    fc.oneof(
      { weight: 8, arbitrary: fc.constant(BigInt(n)) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }).map((d) => BigInt(Math.max(0, n - d))) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }).map((d) => BigInt(n + d)) },
      { weight: 1, arbitrary: fc.constantFrom(2n ** 31n, 2n ** 32n + BigInt(n), 2n ** 63n, 2n ** 64n - 1n) },
    ),
    pad,
  ).map(([v, p]) => varintOf(v, p));
const delimitedOf = (content: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  content.chain((c) => lengthFor(c.length).map((len) => concatBytes([len, c])));

/** The field number a tag decodes to: gogoproto keeps the low 32 bits of `wire >> 3` as an int32. */
const effectiveField = (f: bigint): number => Number(BigInt.asIntN(32, f));

/** Any field: its tag, then a payload for its wire type (the expected one for `known` fields, mostly). */
function fieldOf(known: ReadonlyMap<number, number>, contentFor: (field: number) => fc.Arbitrary<Uint8Array>, depth = 0): fc.Arbitrary<Uint8Array> {
  const anyWireType = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(0, 1, 2, 5) }, { weight: 1, arbitrary: fc.constantFrom(3, 4, 6, 7) });
  return fc.tuple(fieldNumber, fc.oneof({ weight: 6, arbitrary: fc.constant(-1) }, { weight: 1, arbitrary: anyWireType }), pad).chain(([f, choice, p]) => {
    const expected = known.get(effectiveField(f));
    const wireType = choice >= 0 ? fc.constant(choice) : expected !== undefined ? fc.constant(expected) : anyWireType;
    return wireType.chain((wt) => payloadOf(wt, contentFor(effectiveField(f)), depth).map((payload) => concatBytes([tagOf(f, wt, p), payload])));
  });
}

function payloadOf(wireType: number, content: fc.Arbitrary<Uint8Array>, depth: number): fc.Arbitrary<Uint8Array> {
  switch (wireType) {
    case 0:
      return varintField;
    case 1:
      return fc.uint8Array({ minLength: 8, maxLength: 8 });
    case 2:
      return delimitedOf(content);
    case 3: {
      // A group: fields of any number (unchecked inside), maybe a nested group, then an end-group tag of any field
      // number (gogoproto does not match them), or none.
      const inner = depth < 2 ? fieldOf(new Map(), () => junk(6), depth + 1) : fc.tuple(fieldNumber, varintField).map(([f, v]) => concatBytes([tagOf(f, 0), v]));
      const end = fc.option(fc.tuple(fieldNumber, pad).map(([f, p]) => tagOf(f, 4, p)), { nil: new Uint8Array(0), freq: 5 });
      return fc.tuple(fc.array(inner, { maxLength: 3 }), end).map(([fields, e]) => concatBytes([...fields, e]));
    }
    case 5:
      return fc.uint8Array({ minLength: 4, maxLength: 4 });
    default:
      return fc.uint8Array({ maxLength: 3 });
  }
}

/**
 * A field cut inside a varint (its tag, its value, or its length): 1 to 3 bytes with the continuation bit set,
 * after a tag or not. At the end of a sub-message, the enclosing message's next bytes follow it.
 */
const dangling = fc
  .tuple(fc.constantFrom(new Uint8Array(0), hex("08"), hex("10"), hex("1a"), hex("20")), fc.array(fc.integer({ min: 0x80, max: 0xff }), { minLength: 1, maxLength: 3 }))
  .map(([tag, rest]) => concatBytes([tag, Uint8Array.from(rest)]));
/** Message content, sometimes ending in a field cut inside a varint. */
const withDangling = (content: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> =>
  fc.oneof({ weight: 3, arbitrary: content }, { weight: 1, arbitrary: fc.tuple(content, dangling).map(([c, d]) => concatBytes([c, d])) });
/** PacketPing and PacketPong: empty messages, which may carry unknown fields. */
const emptyMessageContent = withDangling(
  fc.oneof({ weight: 3, arbitrary: fc.constant(new Uint8Array(0)) }, { weight: 1, arbitrary: fc.array(fieldOf(new Map(), () => junk(6)), { maxLength: 3 }).map(concatBytes) }),
);
/** PacketMsg: channel_id (1, varint), eof (2, varint), data (3, bytes), in any order, repeated, among others. */
const packetMsgContent = withDangling(fc.array(fieldOf(new Map([[1, 0], [2, 0], [3, 2]]), (f) => (f === 3 ? bytesUpTo(40) : junk(6))), { maxLength: 6 }).map(concatBytes));
const packetBody = fc.array(
  fieldOf(new Map([[1, 2], [2, 2], [3, 2]]), (f) => (f === 3 ? packetMsgContent : f === 1 || f === 2 ? emptyMessageContent : junk(8))),
  { maxLength: 4 },
).map(concatBytes);
/** Well-formed fields: what the boundary cases are built from. */
const unknownField = fc
  .tuple(fc.bigInt({ min: 4n, max: 40n }), fc.constantFrom(0, 1, 2, 5), pad)
  .chain(([f, wt, p]) => payloadOf(wt, junk(6), 2).map((payload) => concatBytes([tagOf(f, wt, p), payload])));
const exactly = (content: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> => fc.tuple(content, pad).map(([c, p]) => concatBytes([varintOf(BigInt(c.length), p), c]));
const validMsgField = fc.oneof(
  fc.tuple(fc.constantFrom(1n, 2n), pad, varintField).map(([f, p, v]) => concatBytes([tagOf(f, 0, p), v])),
  fc.tuple(pad, exactly(bytesUpTo(40))).map(([p, d]) => concatBytes([tagOf(3n, 2, p), d])),
  unknownField,
);
const validMsgContent = fc.array(validMsgField, { maxLength: 4 }).map(concatBytes);
const validPacketField = fc.oneof(
  fc.constantFrom(hex("0a00"), hex("1200")),
  fc.tuple(pad, exactly(validMsgContent)).map(([p, c]) => concatBytes([tagOf(3n, 2, p), c])),
  unknownField,
);
/**
 * A sub-message (PacketMsg, PacketPing or PacketPong) whose own bytes end inside a varint, with a correct
 * length, followed by well-formed fields of the Packet: gogoproto refuses it; a decoder that lets a varint run
 * past the end of its message reads the Packet's next bytes into it and may accept it.
 */
const boundaryBody = fc
  .tuple(fc.constantFrom(1n, 2n, 3n), pad, fc.oneof(validMsgContent, fc.constant(new Uint8Array(0))), dangling, fc.array(validPacketField, { minLength: 1, maxLength: 3 }))
  .map(([f, p, content, d, tail]) => {
    const inner = concatBytes([content, d]);
    return concatBytes([tagOf(f, 2, p), varintOf(BigInt(inner.length)), inner, ...tail]);
  });
/** Well-formed bodies, protobuf-shaped hostile ones, boundary cases, and all of these cut short, changed or extended. */
const hostileBody = fc.oneof(
  { weight: 4, arbitrary: packetBody },
  { weight: 2, arbitrary: fc.array(validPacketField, { maxLength: 4 }).map(concatBytes) },
  { weight: 2, arbitrary: boundaryBody },
  { weight: 1, arbitrary: packet.map((p) => encodePacketBody(p)) },
  { weight: 1, arbitrary: fc.tuple(fc.oneof(packetBody, boundaryBody), fc.nat()).map(([b, n]) => b.subarray(0, b.length === 0 ? 0 : n % b.length)) },
  {
    weight: 1,
    arbitrary: fc.tuple(fc.oneof(packetBody, boundaryBody), fc.nat(), fc.integer({ min: 0, max: 255 })).map(([b, n, x]) => (b.length === 0 ? b : Uint8Array.from(b, (v, i) => (i === n % b.length ? x : v)))),
  },
  { weight: 1, arbitrary: fc.tuple(packetBody, junk(8)).map(([b, j]) => concatBytes([b, j])) },
);

describe("decodePacketBody against an independent gogoproto-style reference", () => {
  // Each case is what CometBFT's generated gogoproto code does with the body (conn.pb.go, v0.38).
  const cases: [string, Uint8Array, string][] = [
    ["a ping, a pong", hex("0a00"), "ping"],
    ["a msg", hex("1a 07 0840 1001 1a01aa"), "msg(ch=64, eof=true, data=aa)"],
    ["a varint cut by the end of its PacketMsg, completed by the Packet's next field", hex("1a 02 08 80 0a 00"), "malformed"],
    ["a data length cut by the end of its PacketMsg", hex("1a 02 1a 81 01 0a 00"), "malformed"],
    ["data running past the end of its PacketMsg, within the Packet", hex("1a 03 1a 03 aa bb cc"), "malformed"],
    ["an unknown field skipped past the end of a PacketPing, within the Packet", hex("0a 02 20 80 01 1a 00"), "malformed"],
    ["non-minimal varints (tag, length, value)", concatBytes([tagOf(3n, 2, 2), varintOf(5n, 1), hex("08 c0 80 80 00")]), "msg(ch=64, eof=false, data=)"],
    ["an 11-byte varint", hex("1a 0c 08 80 80 80 80 80 80 80 80 80 80 00"), "malformed"],
    ["a 10-byte channel_id: -1 as an int32", hex("1a 0b 08 ff ff ff ff ff ff ff ff ff 01"), "msg(ch=-1, eof=false, data=)"],
    ["a channel_id past 32 bits keeps the low 32", concatBytes([hex("1a 06 08"), varintOf(2n ** 32n + 7n)]), "msg(ch=7, eof=false, data=)"],
    ["eof set by bit 64 alone is dropped with it", hex("1a 0b 10 80 80 80 80 80 80 80 80 80 02"), "msg(ch=0, eof=false, data=)"],
    ["eof = 2 is true", hex("1a 02 10 02"), "msg(ch=0, eof=true, data=)"],
    ["repeated fields: the last one wins", hex("1a 0b 0801 1001 1a01aa 0802 1a00"), "msg(ch=2, eof=true, data=)"],
    ["fields out of order", hex("1a 07 1a01aa 1001 0805"), "msg(ch=5, eof=true, data=aa)"],
    ["unknown fields in the Packet and the PacketMsg", hex("2007 1a 04 0801 3809 2d 01020304"), "msg(ch=1, eof=false, data=)"],
    ["a repeated PacketMsg replaces the first, unmerged", hex("1a 02 0801 1a 03 1a01aa"), "msg(ch=0, eof=false, data=aa)"],
    ["the last member of the oneof wins", hex("1a 02 0801 12 00"), "pong"],
    ["a group, skipped, end-group numbers unmatched", hex("2b 0801 33 34 3c 0a00"), "ping"],
    ["an unterminated group", hex("0a00 2b 0801"), "malformed"],
    ["an end group outside a group", hex("0a00 2c"), "malformed"],
    ["a tag whose field number wraps at 32 bits to PacketPing", concatBytes([tagOf(2n ** 32n + 1n, 2), hex("00")]), "ping"],
    ["a tag whose field number is negative as an int32", concatBytes([tagOf(2n ** 31n, 0), hex("00")]), "malformed"],
    ["field number 0", hex("02 00"), "malformed"],
    ["a known field with the wrong wire type", hex("18 01"), "malformed"],
    ["an unknown field of wire type 6", hex("0a00 26"), "malformed"],
    ["a negative length", concatBytes([hex("1a"), varintOf(2n ** 64n - 1n)]), "malformed"],
    ["a length past the end", hex("1a 05 0801"), "malformed"],
    ["an empty body", new Uint8Array(0), "empty"],
    ["only unknown fields", hex("2001 2a00"), "empty"],
  ];
  it.each(cases)("%s", (_what, body, expected) => {
    expect(show(referenceDecodePacketBody(body))).toBe(expected);
    expect(show(ours(body))).toBe(expected);
  });

  it("agrees on hostile protobuf-shaped bodies", () => {
    fc.assert(fc.property(hostileBody, bodyProperty()), { numRuns: 4000 });
  });

  it("agrees on arbitrary bytes", () => {
    fc.assert(fc.property(junk(48), bodyProperty()), { numRuns: 2000 });
  });

  it("the property catches a decoder that reads one byte past the end of a message inside a varint", () => {
    const overrun = (b: Uint8Array): Packet => {
      const r = referenceDecodePacketBody(b, { varintOverrunBytes: 1 });
      if (r.kind === "packet") return r.packet;
      throw r.kind === "empty" ? new EmptyPacketError() : new PacketDecodeError(r.reason);
    };
    expectPropertyToFail(hostileBody, bodyProperty(overrun), 2000);
  });
});
