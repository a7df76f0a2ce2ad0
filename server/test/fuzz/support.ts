/**
 * Helpers of the fuzz suites: fast-check arbitraries for hostile byte streams
 * and chunkings, a real garbage collection for allocation checks, and
 * {@link expectPropertyToFail}, with which every suite proves that its
 * property catches a deliberately broken decoder.
 */
import { runInNewContext } from "node:vm";
import { setFlagsFromString } from "node:v8";
import fc from "fast-check";
import { expect } from "vitest";

/** Runs a full GC (enabling `gc` if the process was started without --expose-gc). */
export const collectGarbage: () => void = (() => {
  setFlagsFromString("--expose-gc");
  return runInNewContext("gc") as () => void;
})();

/**
 * Bytes held by ArrayBuffers (Buffers and typed arrays) that `fn` allocated
 * and still holds when it returns, measured around a GC.
 */
export function arrayBufferGrowth(fn: () => unknown): { growthBytes: number; result: unknown } {
  collectGarbage();
  const before = process.memoryUsage().arrayBuffers;
  const result = fn();
  const after = process.memoryUsage().arrayBuffers;
  return { growthBytes: after - before, result };
}

/** Piece sizes to cut a stream at: single bytes, small pieces, frame- and packet-sized pieces. */
export const chunkSizes: fc.Arbitrary<number[]> = fc.oneof(
  fc.constant<number[]>([1]),
  fc.array(fc.integer({ min: 1, max: 16 }), { minLength: 1, maxLength: 16 }),
  fc.array(fc.integer({ min: 1, max: 2100 }), { minLength: 1, maxLength: 8 }),
  fc.array(fc.constantFrom(1, 2, 3, 9, 10, 11, 1033, 1034, 1035, 1043, 1044, 1045), { minLength: 1, maxLength: 8 }),
  fc.constant<number[]>([1 << 30]),
);

/** Random bytes, biased towards the bytes protobuf and uvarints care about. */
export const junk = (maxLength = 64): fc.Arbitrary<Uint8Array> =>
  fc.oneof(
    fc.uint8Array({ maxLength }),
    fc.array(fc.constantFrom(0x00, 0x01, 0x02, 0x08, 0x0a, 0x0b, 0x0c, 0x10, 0x12, 0x1a, 0x7f, 0x80, 0xff), { maxLength }).map((a) => Uint8Array.from(a)),
  );

/** The uvarint of `value`, for hostile length prefixes. */
export function uvarint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Hostile length prefixes: just over common limits, past 2^32, past 2^53, 10-byte and 11-byte varints. */
export const hostilePrefix: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.constantFrom(1025n, 1035n, 10_241n, 2n ** 31n, 2n ** 32n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n).map(uvarint),
  fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(uvarint),
  fc.constant(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01)),
  fc.constant(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80)),
);

/**
 * Asserts that `property` fails. Each suite runs its property against a
 * broken decoder this way, so that a property that cannot fail is caught.
 */
export function expectPropertyToFail<T>(arb: fc.Arbitrary<T>, predicate: (value: T) => void, numRuns = 300): void {
  expect(() => {
    fc.assert(fc.property(arb, predicate), { numRuns, endOnFailure: true });
  }).toThrow(/Property failed/);
}

export async function expectAsyncPropertyToFail<T>(arb: fc.Arbitrary<T>, predicate: (value: T) => Promise<void>, numRuns = 100): Promise<void> {
  await expect(fc.assert(fc.asyncProperty(arb, predicate), { numRuns, endOnFailure: true })).rejects.toThrow(/Property failed/);
}

/**
 * Bytes of a length drawn uniformly from 0..maxLength (fast-check's own
 * `uint8Array` keeps most arrays short, which would leave limits untested).
 */
export const bytesUpTo = (maxLength: number, minLength = 0): fc.Arbitrary<Uint8Array> =>
  fc.oneof(fc.integer({ min: minLength, max: maxLength }), fc.constantFrom(minLength, maxLength)).chain((n) => fc.uint8Array({ minLength: n, maxLength: n }));
