/**
 * Merlin v1.0 transcripts over STROBE-128, as CometBFT uses them (through
 * curve25519-voi's `primitives/merlin`) to derive the SecretConnection
 * challenge.
 */
import { Strobe128 } from "./strobe.js";

const utf8 = new TextEncoder();

const MERLIN_PROTOCOL_LABEL = utf8.encode("Merlin v1.0");
const DOM_SEP_LABEL = utf8.encode("dom-sep");

/** Labels may be given as strings (UTF-8 encoded) or bytes. */
export type MerlinLabel = string | Uint8Array;

function labelBytes(label: MerlinLabel): Uint8Array {
  return typeof label === "string" ? utf8.encode(label) : label;
}

function le32(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`merlin: length ${n} does not fit 32 bits`);
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}

export class MerlinTranscript {
  private readonly strobe: Strobe128;

  /** `NewTranscript(label)`: a transcript bound to an application protocol label. */
  constructor(label: MerlinLabel);
  /** @internal {@link clone}'s way in: a transcript over `strobe` as it is. */
  constructor(label: null, strobe: Strobe128);
  constructor(label: MerlinLabel | null, strobe?: Strobe128) {
    if (label === null) {
      this.strobe = strobe as Strobe128;
      return;
    }
    this.strobe = new Strobe128(MERLIN_PROTOCOL_LABEL);
    this.appendMessage(DOM_SEP_LABEL, labelBytes(label));
  }

  /**
   * An independent transcript with everything absorbed so far. A protocol
   * whose transcripts share a constant prefix builds the prefix once and
   * clones it, instead of re-absorbing it (and re-running its permutations)
   * every time.
   */
  clone(): MerlinTranscript {
    return new MerlinTranscript(null, this.strobe.clone());
  }

  /** Absorbs `message` under `label`: meta-AD(label), continued by meta-AD(LE32(length)), then AD(message). */
  appendMessage(label: MerlinLabel, message: Uint8Array): void {
    this.strobe.metaAd(labelBytes(label), false);
    this.strobe.metaAd(le32(message.length), true);
    this.strobe.ad(message, false);
  }

  /** Squeezes `n` bytes bound to `label`: meta-AD(label), continued by meta-AD(LE32(n)), then PRF(n). */
  extractBytes(label: MerlinLabel, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.strobe.metaAd(labelBytes(label), false);
    this.strobe.metaAd(le32(n), true);
    this.strobe.prf(out, false);
    return out;
  }
}
