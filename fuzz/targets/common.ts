/**
 * Shared pieces of the fuzz targets: a reader that turns fuzzer bytes into
 * decisions (libFuzzer's FuzzedDataProvider, simplified), a seeded PRNG for
 * chunkings, and the error type a target throws when a property fails.
 *
 * A target's `fuzz(data)` returns normally when the code under test behaved
 * (including when it rejected the input with one of its typed errors) and
 * throws otherwise: a {@link PropertyViolation}, or whatever the decoder threw
 * that it should not have. The engine and the vitest suites treat any throw as
 * a failure.
 */

/** A property of a decoder did not hold for this input. */
export class PropertyViolation extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PropertyViolation";
  }
}

export function check(condition: boolean, message: string | (() => string)): asserts condition {
  if (!condition) throw new PropertyViolation(typeof message === "string" ? message : message());
}

/** Constructor of an error class, for `instanceof` checks. */
export type ErrorClass = abstract new (...args: never[]) => Error;

/** Rethrows `err` as a violation unless it is an instance of one of `allowed`. */
export function expectTyped(err: unknown, allowed: readonly ErrorClass[], what: string): Error {
  if (err instanceof Error && allowed.some((c) => err instanceof c)) return err;
  const name = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
  throw new PropertyViolation(`${what} threw an untyped error (${name}); allowed: ${allowed.map((c) => c.name).join(", ")}`, { cause: err });
}

/** Consumes fuzzer bytes as decisions; past the end every read returns zeros. */
export class FuzzInput {
  private pos = 0;
  constructor(private readonly data: Uint8Array) {}

  get remaining(): number {
    return this.data.length - this.pos;
  }

  byte(): number {
    return this.pos < this.data.length ? (this.data[this.pos++] as number) : 0;
  }

  u16(): number {
    return this.byte() | (this.byte() << 8);
  }

  u32(): number {
    return (this.u16() | (this.u16() << 16)) >>> 0;
  }

  bool(): boolean {
    return (this.byte() & 1) === 1;
  }

  /** Up to `n` bytes (fewer at the end of the input), as a copy. */
  bytes(n: number): Uint8Array {
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += out.length;
    return out;
  }

  /** The rest of the input. */
  rest(): Uint8Array {
    return this.bytes(this.remaining);
  }
}

/** mulberry32: a tiny seeded PRNG, so that a chunking is reproducible from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Cuts `bytes` into consecutive pieces chosen by `seed`: single bytes, small
 * pieces, pieces around the interesting sizes, or the whole input, so that
 * every decoder state can be interrupted at every byte.
 */
export function chunkBySeed(bytes: Uint8Array, seed: number): Uint8Array[] {
  const rand = prng(seed);
  const style = seed % 5;
  const out: Uint8Array[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    let size: number;
    switch (style) {
      case 0:
        size = 1;
        break;
      case 1:
        size = 1 + Math.floor(rand() * 16);
        break;
      case 2:
        size = 1 + Math.floor(rand() * 2100);
        break;
      case 3:
        size = rand() < 0.5 ? 1 : 1 + Math.floor(rand() * 1100);
        break;
      default:
        size = bytes.length;
    }
    out.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

/** Cuts `bytes` at the given piece sizes (cycled; sizes below 1 count as 1). */
export function chunkBySizes(bytes: Uint8Array, sizes: readonly number[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  let pos = 0;
  let i = 0;
  while (pos < bytes.length) {
    const size = Math.max(1, sizes.length === 0 ? bytes.length : (sizes[i++ % sizes.length] as number));
    out.push(bytes.subarray(pos, pos + size));
    pos += size;
  }
  return out;
}

export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export const hexOf = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex");

/** The uvarint encoding of a non-negative integer up to 2^64 - 1 (as a bigint), for building hostile prefixes. */
export function uvarintOf(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/**
 * An independent reference reading of a uvarint prefix, with the rule both
 * of our stream decoders follow: an error as soon as the value read so far
 * exceeds 2^53 - 1, or when the 10th byte still has its continuation bit.
 */
export type PrefixRead =
  | { readonly kind: "complete"; readonly value: number; readonly size: number }
  | { readonly kind: "incomplete" }
  | { readonly kind: "overflow"; readonly at: number };

export function referencePrefix(bytes: Uint8Array, offset: number): PrefixRead {
  let value = 0n;
  for (let i = 0; i < 10; i++) {
    const at = offset + i;
    if (at >= bytes.length) return { kind: "incomplete" };
    const b = bytes[at] as number;
    value += BigInt(b & 0x7f) << BigInt(7 * i);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) return { kind: "overflow", at };
    if ((b & 0x80) === 0) return { kind: "complete", value: Number(value), size: i + 1 };
    if (i === 9) return { kind: "overflow", at };
  }
  return { kind: "overflow", at: offset + 9 };
}

/** Index of the chunk that holds byte `offset` of the concatenation of `chunks`. */
export function chunkIndexOf(chunks: readonly Uint8Array[], offset: number): number {
  let end = 0;
  for (let i = 0; i < chunks.length; i++) {
    end += (chunks[i] as Uint8Array).length;
    if (offset < end) return i;
  }
  return -1;
}
