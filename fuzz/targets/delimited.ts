/**
 * Fuzz target: uvarint-delimited framing (`DelimitedDecoder`, used for the
 * handshake messages and NodeInfo).
 *
 * Properties, against an independent reference reading of the same bytes:
 * - the bodies come out whole, in order, whatever the chunking;
 * - the only errors are `MessageTooLargeError` and `VarintOverflowError`, and
 *   the same one the reference predicts;
 * - an announced length over the limit throws in the very push that completes
 *   the prefix, before any body byte is taken;
 * - the decoder never holds more than the limit plus a partial prefix.
 */
import { MessageTooLargeError, VarintOverflowError } from "../../server/src/wire/errors.js";
import { DelimitedDecoder } from "../../server/src/wire/varint.js";
import { FuzzInput, bytesEqual, check, chunkBySeed, chunkIndexOf, expectTyped, hexOf, referencePrefix } from "./common.js";

/** What `check` needs of a decoder; tests pass broken ones to prove the property can fail. */
export interface DelimitedDecoderLike {
  readonly bufferedBytes: number;
  push(chunk: Uint8Array): Uint8Array[];
}

export type DelimitedFactory = (maxBodyBytes: number) => DelimitedDecoderLike;

const realFactory: DelimitedFactory = (max) => new DelimitedDecoder(max, "fuzz");

/** The reference reading: complete bodies, then how the stream ends. */
interface Reference {
  readonly bodies: Uint8Array[];
  /** Offset just past each body: a push that throws loses the bodies it completed (the documented contract). */
  readonly ends: number[];
  readonly end:
    | { readonly kind: "clean" }
    | { readonly kind: "too_large"; readonly prefixEnd: number }
    | { readonly kind: "overflow"; readonly at: number };
}

function reference(bytes: Uint8Array, max: number): Reference {
  const bodies: Uint8Array[] = [];
  const ends: number[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const p = referencePrefix(bytes, offset);
    if (p.kind === "incomplete") break;
    if (p.kind === "overflow") return { bodies, ends, end: { kind: "overflow", at: p.at } };
    if (p.value > max) return { bodies, ends, end: { kind: "too_large", prefixEnd: offset + p.size } };
    const start = offset + p.size;
    if (bytes.length - start < p.value) break;
    bodies.push(bytes.subarray(start, start + p.value));
    offset = start + p.value;
    ends.push(offset);
  }
  return { bodies, ends, end: { kind: "clean" } };
}

export const MAX_VARINT_PREFIX_BYTES = 10;

/** Feeds `chunks` (which concatenate to `bytes`) and checks every property. */
export function checkDelimited(bytes: Uint8Array, chunks: readonly Uint8Array[], max: number, make: DelimitedFactory = realFactory): void {
  const ref = reference(bytes, max);
  const dec = make(max);
  const got: Uint8Array[] = [];
  let consumed = 0;
  let failure: { err: Error; chunk: number } | null = null;
  for (let i = 0; i < chunks.length; i++) {
    const chunk = chunks[i] as Uint8Array;
    try {
      for (const body of dec.push(chunk)) got.push(body.slice());
    } catch (err) {
      failure = { err: expectTyped(err, [MessageTooLargeError, VarintOverflowError], "DelimitedDecoder.push"), chunk: i };
      break;
    }
    consumed += chunk.length;
    // A partial prefix (< 10 bytes) or a partial body (< its length <= max): never more.
    check(dec.bufferedBytes <= Math.max(max, MAX_VARINT_PREFIX_BYTES - 1), () => `buffered ${dec.bufferedBytes} bytes with a limit of ${max}`);
    check(dec.bufferedBytes <= consumed, () => `buffered ${dec.bufferedBytes} bytes but only ${consumed} were pushed`);
  }
  // Bodies completed by the push that threw are lost with it; all earlier ones must have come out.
  let expected = ref.bodies.length;
  if (failure !== null) {
    const failedChunkStart = chunks.slice(0, failure.chunk).reduce((n, c) => n + c.length, 0);
    expected = ref.ends.filter((end) => end <= failedChunkStart).length;
  }
  check(got.length === expected, () => `decoded ${got.length} bodies, the reference ${expected} (input ${hexOf(bytes).slice(0, 200)})`);
  for (let i = 0; i < got.length; i++) {
    check(bytesEqual(got[i] as Uint8Array, ref.bodies[i] as Uint8Array), () => `body ${i} differs from the reference`);
  }
  switch (ref.end.kind) {
    case "clean":
      check(failure === null, () => `threw ${String(failure?.err)} on a valid stream`);
      return;
    case "too_large": {
      check(failure?.err instanceof MessageTooLargeError, () => `expected MessageTooLargeError, got ${String(failure?.err)}`);
      const expectedChunk = chunkIndexOf(chunks, ref.end.prefixEnd - 1);
      check(failure.chunk === expectedChunk, () => `the oversize length threw at chunk ${failure.chunk}, not at chunk ${expectedChunk} that completes the prefix`);
      return;
    }
    case "overflow": {
      check(failure?.err instanceof VarintOverflowError, () => `expected VarintOverflowError, got ${String(failure?.err)}`);
      const expectedChunk = chunkIndexOf(chunks, ref.end.at);
      check(failure.chunk === expectedChunk, () => `the overflowing prefix threw at chunk ${failure.chunk}, not at chunk ${expectedChunk}`);
      return;
    }
  }
}

const LIMITS = [0, 1, 2, 127, 128, 1024, 10_240, 1 << 20];

export function fuzz(data: Uint8Array): void {
  const input = new FuzzInput(data);
  const max = LIMITS[input.byte() % LIMITS.length] as number;
  const seed = input.u32();
  const bytes = input.rest();
  checkDelimited(bytes, chunkBySeed(bytes, seed), max);
}
