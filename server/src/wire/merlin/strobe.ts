/**
 * The subset of STROBE-128 (v1.0.2) that Merlin transcripts use: meta-AD, AD
 * and PRF, each with the `more` flag that continues the previous operation.
 *
 * The duplex construction is written here; the Keccak-f[1600] permutation
 * comes from @noble/hashes. State layout: 200 bytes, rate R = 166 bytes
 * (200 - 2 * 128/8 - 2: two bytes are reserved for STROBE's padding).
 */
import { keccakP } from "@noble/hashes/sha3.js";

/** STROBE rate in bytes for the 128-bit security level. */
export const STROBE_R = 166;

const FLAG_I = 0x01;
const FLAG_A = 0x02;
const FLAG_C = 0x04;
const FLAG_M = 0x10;
const FLAG_K = 0x20;

const FLAGS_META_AD = FLAG_M | FLAG_A;
const FLAGS_AD = FLAG_A;
const FLAGS_PRF = FLAG_I | FLAG_A | FLAG_C;

const STATE_BYTES = 200;

// keccakP works on 32-bit words in little-endian lane order. On a
// little-endian host a byte view over the same memory is that layout; on a
// big-endian one each word has to be swapped around the permutation.
const HOST_IS_LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function byteSwapWords(words: Uint32Array): void {
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as number;
    words[i] = ((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24);
  }
}

// Domain separation block of every STROBE-128 object: [1, R + 2, 1, 0, 1, 12 * 8] || "STROBEv1.0.2".
const INIT_BLOCK = Uint8Array.from([1, STROBE_R + 2, 1, 0, 1, 96, ...new TextEncoder().encode("STROBEv1.0.2")]);

export class Strobe128 {
  private readonly words = new Uint32Array(STATE_BYTES / 4);
  private readonly state = new Uint8Array(this.words.buffer);
  private pos = 0;
  private posBegin = 0;
  private curFlags = 0;

  /**
   * A STROBE-128 object initialised with the protocol label, as
   * `Strobe::new(label)`; with no label, a blank object for {@link clone}.
   */
  constructor(protocolLabel: Uint8Array | null) {
    if (protocolLabel === null) return;
    this.state.set(INIT_BLOCK, 0);
    this.permute();
    this.metaAd(protocolLabel, false);
  }

  /** An independent object in the same state: operations on one do not affect the other. */
  clone(): Strobe128 {
    const copy = new Strobe128(null);
    copy.words.set(this.words);
    copy.pos = this.pos;
    copy.posBegin = this.posBegin;
    copy.curFlags = this.curFlags;
    return copy;
  }

  /** Absorbs framing data (meta associated data). */
  metaAd(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAGS_META_AD, more);
    this.absorb(data);
  }

  /** Absorbs associated data. */
  ad(data: Uint8Array, more: boolean): void {
    this.beginOp(FLAGS_AD, more);
    this.absorb(data);
  }

  /** Squeezes pseudo-random bytes into `out`. */
  prf(out: Uint8Array, more: boolean): void {
    this.beginOp(FLAGS_PRF, more);
    this.squeeze(out);
  }

  private beginOp(flags: number, more: boolean): void {
    if (more) {
      if (flags !== this.curFlags) {
        throw new Error(`strobe: cannot continue operation 0x${this.curFlags.toString(16)} with 0x${flags.toString(16)}`);
      }
      return;
    }
    const oldBegin = this.posBegin;
    this.posBegin = this.pos + 1;
    this.curFlags = flags;
    this.absorbByte(oldBegin);
    this.absorbByte(flags);
    // Operations that use the cipher (C) or key (K) start on a fresh block.
    if ((flags & (FLAG_C | FLAG_K)) !== 0 && this.pos !== 0) this.runF();
  }

  private absorbByte(b: number): void {
    this.state[this.pos] = (this.state[this.pos] as number) ^ b;
    this.pos++;
    if (this.pos === STROBE_R) this.runF();
  }

  private absorb(data: Uint8Array): void {
    const state = this.state;
    for (let i = 0; i < data.length; i++) {
      state[this.pos] = (state[this.pos] as number) ^ (data[i] as number);
      this.pos++;
      if (this.pos === STROBE_R) this.runF();
    }
  }

  private squeeze(out: Uint8Array): void {
    const state = this.state;
    for (let i = 0; i < out.length; i++) {
      out[i] = state[this.pos] as number;
      state[this.pos] = 0;
      this.pos++;
      if (this.pos === STROBE_R) this.runF();
    }
  }

  private runF(): void {
    const state = this.state;
    state[this.pos] = (state[this.pos] as number) ^ this.posBegin;
    state[this.pos + 1] = (state[this.pos + 1] as number) ^ 0x04;
    state[STROBE_R + 1] = (state[STROBE_R + 1] as number) ^ 0x80;
    this.permute();
    this.pos = 0;
    this.posBegin = 0;
  }

  private permute(): void {
    if (HOST_IS_LITTLE_ENDIAN) {
      keccakP(this.words);
      return;
    }
    byteSwapWords(this.words);
    keccakP(this.words);
    byteSwapWords(this.words);
  }
}
