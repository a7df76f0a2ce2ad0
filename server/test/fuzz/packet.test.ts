/**
 * Hostile input for the MConnection stream (`PacketDecoder`,
 * `decodePacketBody`, channel reassembly): streams of real packets mixed
 * with malformed bodies, hostile prefixes and junk, cut at random (the
 * property lives in fuzz/targets/packet.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkBySizes, concatBytes } from "../../../fuzz/targets/common.js";
import { type PacketDecoderFactory, type PacketDecoderLike, checkPacketStream } from "../../../fuzz/targets/packet.js";
import { PacketTooLargeError } from "../../src/wire/mconnection/errors.js";
import { type Packet, PacketDecoder, encodePacket, maxPacketMsgSize } from "../../src/wire/mconnection/packet.js";
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
