/**
 * Hostile input for uvarint-delimited framing (`DelimitedDecoder`): random
 * streams of well-formed, oversize and overflowing messages and junk, cut at
 * random, checked against an independent reference reading (the property
 * lives in fuzz/targets/delimited.ts, shared with the coverage-guided fuzzer).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkDelimited, type DelimitedFactory } from "../../../fuzz/targets/delimited.js";
import { chunkBySizes, concatBytes } from "../../../fuzz/targets/common.js";
import { MessageTooLargeError } from "../../src/wire/errors.js";
import { DelimitedDecoder, encodeDelimited } from "../../src/wire/varint.js";
import { arrayBufferGrowth, bytesUpTo, chunkSizes, expectPropertyToFail, hostilePrefix, junk, uvarint } from "./support.js";

const LIMIT = fc.constantFrom(0, 1, 16, 127, 128, 1024, 10_240);

const stream = fc
  .array(
    fc.oneof(
      { weight: 6, arbitrary: bytesUpTo(300).map(encodeDelimited) },
      { weight: 1, arbitrary: fc.tuple(hostilePrefix, junk(8)).map(([p, j]) => concatBytes([p, j])) },
      { weight: 1, arbitrary: junk(32) },
    ),
    { maxLength: 8 },
  )
  .map(concatBytes);

const input = fc.record({ bytes: stream, sizes: chunkSizes, max: LIMIT });

function property(make?: DelimitedFactory) {
  return ({ bytes, sizes, max }: { bytes: Uint8Array; sizes: number[]; max: number }): void => {
    checkDelimited(bytes, chunkBySizes(bytes, sizes), max, make);
  };
}

describe("DelimitedDecoder under hostile input", () => {
  it("decodes like the reference under any chunking, fails only with typed errors, buffers at most the limit", () => {
    fc.assert(fc.property(input, property()), { numRuns: 3000 });
  });

  it("an oversize length throws at the byte that completes its prefix, before any body byte", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4096 }), fc.bigInt({ min: 1n, max: 2n ** 53n - 1n - 4096n }), (max, over) => {
        const dec = new DelimitedDecoder(max, "t");
        const prefix = uvarint(BigInt(max) + over);
        for (let i = 0; i < prefix.length - 1; i++) {
          expect(dec.push(prefix.subarray(i, i + 1))).toEqual([]);
          expect(dec.bufferedBytes).toBeLessThanOrEqual(9);
        }
        expect(() => dec.push(prefix.subarray(prefix.length - 1))).toThrow(MessageTooLargeError);
      }),
      { numRuns: 500 },
    );
  });

  it("a 256 MiB announcement with a 1 MiB limit allocates nothing", () => {
    const { growthBytes, result } = arrayBufferGrowth(() => {
      const dec = new DelimitedDecoder(1 << 20, "t");
      try {
        dec.push(concatBytes([uvarint(256n << 20n), new Uint8Array(16)]));
        return dec;
      } catch (err) {
        return err;
      }
    });
    expect(result).toBeInstanceOf(MessageTooLargeError);
    expect(growthBytes).toBeLessThan(1 << 20);
  });

  describe("the property catches broken decoders", () => {
    it("one without the length check", () => {
      expectPropertyToFail(input, property(() => new DelimitedDecoder(Number.MAX_SAFE_INTEGER, "broken")));
    });
    it("one that throws untyped errors", () => {
      const untyped: DelimitedFactory = (max) => {
        const d = new DelimitedDecoder(max, "broken");
        return {
          get bufferedBytes() {
            return d.bufferedBytes;
          },
          push: (c) => {
            try {
              return d.push(c);
            } catch (err) {
              throw new Error(String(err));
            }
          },
        };
      };
      expectPropertyToFail(input, property(untyped));
    });
    it("one that loses a byte at a chunk boundary", () => {
      const lossy: DelimitedFactory = (max) => {
        const d = new DelimitedDecoder(max, "broken");
        let n = 0;
        return {
          get bufferedBytes() {
            return d.bufferedBytes;
          },
          push: (c) => d.push(++n === 2 && c.length > 1 ? c.subarray(1) : c),
        };
      };
      expectPropertyToFail(input, property(lossy));
    });
  });
});
