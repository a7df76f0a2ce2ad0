/**
 * Hostile input for SecretConnection frames (`FrameOpener`): honest frames
 * mixed with lying lengths, tampered ciphertext and garbage, truncated and
 * cut at random (the property lives in fuzz/targets/frame.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type FrameOpenerFactory, type FrameSpec, FRAME_KEY, checkFrameStream } from "../../../fuzz/targets/frame.js";
import { FrameDecryptError } from "../../src/wire/secret-connection/errors.js";
import { FrameOpener, SEALED_FRAME_BYTES } from "../../src/wire/secret-connection/frame.js";
import { bytesUpTo, expectPropertyToFail } from "./support.js";

const spec: fc.Arbitrary<FrameSpec> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant("honest" as const), data: bytesUpTo(1024) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("bad_length" as const),
      chunkLength: fc.oneof(fc.integer({ min: 0, max: 2048 }), fc.constantFrom(1025, 0xffff_ffff, 0x8000_0000)),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant("tampered" as const),
      data: bytesUpTo(1024),
      offset: fc.integer({ min: 0, max: SEALED_FRAME_BYTES - 1 }),
      xor: fc.integer({ min: 1, max: 255 }),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("garbage" as const), bytes: fc.uint8Array({ minLength: SEALED_FRAME_BYTES, maxLength: SEALED_FRAME_BYTES }) }) },
);

const input = fc.record({
  specs: fc.array(spec, { minLength: 1, maxLength: 6 }),
  truncateBy: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: SEALED_FRAME_BYTES - 1 })),
  seed: fc.integer({ min: 0, max: 2 ** 31 }),
});

function property(make?: FrameOpenerFactory) {
  return ({ specs, truncateBy, seed }: { specs: FrameSpec[]; truncateBy: number; seed: number }): void => {
    checkFrameStream(specs, truncateBy, seed, make);
  };
}

describe("FrameOpener under hostile input", () => {
  it("opens honest frames in order, refuses lies and tampering with typed errors, holds at most one partial frame", () => {
    fc.assert(fc.property(input, property()), { numRuns: 400 });
  });

  it("random ciphertext never opens", () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 3 * SEALED_FRAME_BYTES }), (bytes) => {
        const opener = new FrameOpener(FRAME_KEY);
        if (bytes.length < SEALED_FRAME_BYTES) {
          expect(opener.push(bytes)).toEqual([]);
          expect(opener.bufferedBytes).toBe(bytes.length);
        } else {
          expect(() => opener.push(bytes)).toThrow(FrameDecryptError);
        }
      }),
      { numRuns: 300 },
    );
  });

  describe("the property catches broken openers", () => {
    it("one that skips frames it cannot authenticate", () => {
      const lenient: FrameOpenerFactory = (key) => {
        let opener = new FrameOpener(key);
        return {
          get bufferedBytes() {
            return opener.bufferedBytes;
          },
          push: (c) => {
            try {
              return opener.push(c);
            } catch {
              opener = new FrameOpener(key);
              return [];
            }
          },
        };
      };
      expectPropertyToFail(input, property(lenient));
    });
    it("one that buffers the whole stream", () => {
      const hoarder: FrameOpenerFactory = () => {
        const held: Uint8Array[] = [];
        return {
          get bufferedBytes() {
            return held.reduce((n, c) => n + c.length, 0);
          },
          push: (c) => {
            held.push(c);
            return [];
          },
        };
      };
      expectPropertyToFail(input, property(hoarder));
    });
  });
});
