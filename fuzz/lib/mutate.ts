/**
 * Byte mutations in the style of libFuzzer's MutationDispatcher: each child
 * is its parent with one to five stacked edits — bit flips, random and
 * "interesting" bytes and integers, inserted and erased runs, copies within
 * the input, splices with another corpus entry, and dictionary tokens
 * (protobuf tags, uvarint encodings of the limits our decoders enforce).
 */

export type Rng = () => number;

export interface MutationContext {
  readonly rng: Rng;
  readonly corpus: readonly Uint8Array[];
  readonly dictionary: readonly Uint8Array[];
  readonly maxLen: number;
}

const INTERESTING = [
  0, 1, 2, 3, 4, 7, 8, 15, 16, 31, 32, 63, 64, 100, 127, 128, 255, 256, 511, 512, 1000, 1023, 1024, 1025, 1028, 1033, 1034, 1035, 1043, 1044, 1045, 4096,
  10_239, 10_240, 10_241, 32_767, 32_768, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0xffff_ffff,
];

function uvarint(value: bigint): Uint8Array {
  const out: number[] = [];
  let v = value;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return Uint8Array.from(out);
}

/** Tokens every target gets: protobuf tags of fields 1..12 in every wire type, and uvarints of interesting values. */
export function defaultDictionary(): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let field = 1; field <= 12; field++) for (let wt = 0; wt <= 5; wt++) out.push(uvarint(BigInt((field << 3) | wt)));
  for (const v of INTERESTING) out.push(uvarint(BigInt(v)));
  for (const v of [2n ** 31n, 2n ** 32n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n, 2n ** 64n - 1n]) out.push(uvarint(v));
  // An 11-byte varint: longer than any varint may be.
  out.push(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01));
  return out;
}

function int(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

function splice(data: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  const out = new Uint8Array(data.length - remove + insert.length);
  out.set(data.subarray(0, at), 0);
  out.set(insert, at);
  out.set(data.subarray(at + remove), at + insert.length);
  return out;
}

function overwrite(data: Uint8Array, at: number, bytes: Uint8Array): Uint8Array {
  const out = data.slice();
  out.set(bytes.subarray(0, Math.max(0, out.length - at)), at);
  return out;
}

function intBytes(value: number, width: number, littleEndian: boolean): Uint8Array {
  const out = new Uint8Array(width);
  for (let i = 0; i < width; i++) {
    const byte = Math.floor(value / 2 ** (8 * i)) & 0xff;
    out[littleEndian ? i : width - 1 - i] = byte;
  }
  return out;
}

type Mutator = (data: Uint8Array, ctx: MutationContext) => Uint8Array;

const MUTATORS: readonly Mutator[] = [
  // Flip one bit.
  (d, { rng }) => {
    if (d.length === 0) return d;
    const out = d.slice();
    const at = int(rng, out.length);
    out[at] = (out[at] as number) ^ (1 << int(rng, 8));
    return out;
  },
  // Set one byte at random.
  (d, { rng }) => (d.length === 0 ? Uint8Array.of(int(rng, 256)) : overwrite(d, int(rng, d.length), Uint8Array.of(int(rng, 256)))),
  // Add or subtract a little.
  (d, { rng }) => {
    if (d.length === 0) return d;
    const out = d.slice();
    const at = int(rng, out.length);
    out[at] = ((out[at] as number) + int(rng, 71) - 35) & 0xff;
    return out;
  },
  // Insert random bytes.
  (d, { rng }) => splice(d, int(rng, d.length + 1), 0, Uint8Array.from({ length: 1 + int(rng, 8) }, () => int(rng, 256))),
  // Insert a run of one repeated byte.
  (d, { rng }) => splice(d, int(rng, d.length + 1), 0, new Uint8Array(1 + int(rng, 64)).fill(rng() < 0.5 ? 0 : int(rng, 256))),
  // Erase a run.
  (d, { rng }) => {
    if (d.length === 0) return d;
    const at = int(rng, d.length);
    return splice(d, at, 1 + int(rng, Math.min(32, d.length - at)), new Uint8Array(0));
  },
  // Copy a part of the input elsewhere (insert or overwrite).
  (d, { rng }) => {
    if (d.length < 2) return d;
    const from = int(rng, d.length);
    const part = d.slice(from, from + 1 + int(rng, d.length - from));
    const to = int(rng, d.length + 1);
    return rng() < 0.5 ? splice(d, to, 0, part) : overwrite(d, Math.min(to, d.length - 1), part);
  },
  // An interesting integer, 1/2/4/8 bytes, either endianness.
  (d, { rng }) => {
    const width = [1, 2, 4, 8][int(rng, 4)] as number;
    const bytes = intBytes(INTERESTING[int(rng, INTERESTING.length)] as number, width, rng() < 0.5);
    const at = int(rng, d.length + 1);
    return rng() < 0.5 || at >= d.length ? splice(d, at, 0, bytes) : overwrite(d, at, bytes);
  },
  // A dictionary token, inserted or written over.
  (d, { rng, dictionary }) => {
    if (dictionary.length === 0) return d;
    const token = dictionary[int(rng, dictionary.length)] as Uint8Array;
    const at = int(rng, d.length + 1);
    return rng() < 0.5 || at >= d.length ? splice(d, at, 0, token) : overwrite(d, at, token);
  },
  // Splice with another corpus entry.
  (d, { rng, corpus }) => {
    if (corpus.length === 0) return d;
    const other = corpus[int(rng, corpus.length)] as Uint8Array;
    if (other.length === 0) return d;
    const from = int(rng, other.length);
    const part = other.subarray(from, from + 1 + int(rng, other.length - from));
    const at = int(rng, d.length + 1);
    return rng() < 0.5 ? splice(d, at, rng() < 0.5 ? 0 : Math.min(part.length, d.length - at), part) : splice(d.subarray(0, at), at, 0, part);
  },
  // Shuffle a few bytes.
  (d, { rng }) => {
    if (d.length < 2) return d;
    const out = d.slice();
    const at = int(rng, out.length - 1);
    const n = Math.min(out.length - at, 2 + int(rng, 7));
    for (let i = n - 1; i > 0; i--) {
      const j = int(rng, i + 1);
      const a = out[at + i] as number;
      out[at + i] = out[at + j] as number;
      out[at + j] = a;
    }
    return out;
  },
  // Truncate.
  (d, { rng }) => (d.length === 0 ? d : d.slice(0, int(rng, d.length))),
];

/** A child of `parent`: one to five stacked mutations, at most `maxLen` bytes. */
export function mutate(parent: Uint8Array, ctx: MutationContext): Uint8Array {
  let out = parent;
  const n = 1 + int(ctx.rng, 5);
  for (let i = 0; i < n; i++) out = (MUTATORS[int(ctx.rng, MUTATORS.length)] as Mutator)(out, ctx);
  return out.length > ctx.maxLen ? out.slice(0, ctx.maxLen) : out;
}
