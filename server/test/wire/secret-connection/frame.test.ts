import { createCipheriv, createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { FrameDecryptError, FrameLengthError, NonceOverflowError } from "../../../src/wire/secret-connection/errors.js";
import {
  FRAME_DATA_MAX_BYTES,
  FrameOpener,
  FrameSealer,
  SEALED_FRAME_BYTES,
  sealedLength,
} from "../../../src/wire/secret-connection/frame.js";
import { hex, loadHandshakeVector, openRawFrame, plainFrame, pseudoRandomBytes, sealRawFrame, toHex } from "./support.js";

const vector = loadHandshakeVector();
const KEY = pseudoRandomBytes(32, 7);
const MAX_COUNTER = 2n ** 64n - 1n;

function concat(parts: readonly Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

describe("FrameSealer", () => {
  it.each(["A", "B"] as const)("reproduces side %s's first sealed frame (the AuthSig, nonce 0)", (name) => {
    const side = vector[name];
    const sealed = new FrameSealer(hex(side.send_key)).seal(hex(side.authsig_delimited));
    expect(sealed).toHaveLength(1044);
    expect(toHex(sealed)).toBe(side.first_sealed_frame);
    expect(createHash("sha256").update(sealed).digest("hex")).toBe(side.first_sealed_frame_sha256);
  });

  it("lays the plaintext frame out as LE32 length, data, zero padding", () => {
    const data = pseudoRandomBytes(300, 1);
    const sealer = new FrameSealer(KEY);
    const frame = openRawFrame(KEY, 0n, sealer.seal(data));
    expect(frame.readUInt32LE(0)).toBe(300);
    expect(toHex(frame.subarray(4, 304))).toBe(toHex(data));
    expect(frame.subarray(304).every((b) => b === 0)).toBe(true);
    // The reused frame buffer is re-padded after a full frame.
    const full = new Uint8Array(1024).fill(0xee);
    const sealed = sealer.seal(new Uint8Array([...full, 1, 2]));
    expect(openRawFrame(KEY, 2n, sealed.subarray(1044)).subarray(6).every((b) => b === 0)).toBe(true);
  });

  it.each([
    ["counter_1", 1n],
    ["counter_256", 256n],
  ] as const)("uses the nonce layout of %s", (name, counter) => {
    // Seal with the vector's literal nonce bytes, independently of any counter encoding.
    const cipher = createCipheriv("chacha20-poly1305", KEY, hex(vector.nonce_examples[name]), { authTagLength: 16 });
    const frame = plainFrame(1, new Uint8Array([9]));
    const expected = Buffer.concat([cipher.update(frame), cipher.final(), cipher.getAuthTag()]);
    const sealed = new FrameSealer(KEY, { initialCounter: counter }).seal(new Uint8Array([9]));
    expect(toHex(sealed)).toBe(toHex(expected));
  });

  it("advances the counter by one per frame, starting at 0", () => {
    const data = pseudoRandomBytes(3000, 2);
    const sealed = new FrameSealer(KEY).seal(data);
    expect(sealed).toHaveLength(3 * 1044);
    const out: number[] = [];
    for (let i = 0; i < 3; i++) {
      const frame = openRawFrame(KEY, BigInt(i), sealed.subarray(i * 1044, (i + 1) * 1044));
      out.push(...frame.subarray(4, 4 + frame.readUInt32LE(0)));
    }
    expect(toHex(Uint8Array.from(out))).toBe(toHex(data));
  });

  it.each([
    [0, 0],
    [1, 1044],
    [1023, 1044],
    [1024, 1044],
    [1025, 2088],
    [4096, 4176],
  ])("seals %i bytes into %i bytes", (n, expected) => {
    expect(sealedLength(n)).toBe(expected);
    expect(new FrameSealer(KEY).seal(new Uint8Array(n))).toHaveLength(expected);
  });

  it("seals many chunks as one stream: frames are filled across chunk boundaries", () => {
    const chunks = Array.from({ length: 1000 }, (_, i) => pseudoRandomBytes(1 + (i % 7), i + 1));
    const whole = concat(chunks);
    const batched = new FrameSealer(KEY).sealChunks(chunks);
    expect(batched).toHaveLength(sealedLength(whole.length));
    expect(toHex(batched)).toBe(toHex(new FrameSealer(KEY).seal(whole)));
    // Empty chunks anywhere change nothing.
    const withEmpty = [new Uint8Array(0), ...chunks.slice(0, 10), new Uint8Array(0), ...chunks.slice(10), new Uint8Array(0)];
    expect(toHex(new FrameSealer(KEY).sealChunks(withEmpty))).toBe(toHex(batched));
  });

  it("refuses to reuse a nonce: after counter 2^64-1 it throws NonceOverflowError", () => {
    const sealer = new FrameSealer(KEY, { initialCounter: MAX_COUNTER });
    const last = sealer.seal(new Uint8Array([1]));
    expect(toHex(last)).toBe(toHex(sealRawFrame(KEY, MAX_COUNTER, plainFrame(1, new Uint8Array([1])))));
    expect(() => sealer.seal(new Uint8Array([2]))).toThrow(NonceOverflowError);
    expect(() => new FrameSealer(KEY, { initialCounter: MAX_COUNTER }).seal(new Uint8Array(1025))).toThrow(NonceOverflowError);
    // An empty write needs no nonce.
    expect(sealer.seal(new Uint8Array(0))).toHaveLength(0);
  });

  it("carries the counter across byte boundaries", () => {
    const sealer = new FrameSealer(KEY, { initialCounter: 255n });
    const sealed = sealer.seal(new Uint8Array(2048));
    expect(toHex(sealed.subarray(1044))).toBe(toHex(sealRawFrame(KEY, 256n, plainFrame(1024))));
  });

  it("validates key size and initial counter", () => {
    expect(() => new FrameSealer(new Uint8Array(31))).toThrow(RangeError);
    expect(() => new FrameSealer(KEY, { initialCounter: -1n })).toThrow(RangeError);
    expect(() => new FrameSealer(KEY, { initialCounter: 2n ** 64n })).toThrow(RangeError);
  });
});

describe("FrameOpener", () => {
  // A stream of frames of every interesting size, including an empty one (which our sealer never emits).
  const payloads = [pseudoRandomBytes(1024, 3), new Uint8Array(0), pseudoRandomBytes(1, 4), pseudoRandomBytes(700, 5)];
  const stream = concat(payloads.map((p, i) => sealRawFrame(KEY, BigInt(i), plainFrame(p.length, p))));
  const expected = toHex(concat(payloads));

  it("opens the vector's first frames with the other side's receive key", () => {
    for (const [from, to] of [
      ["A", "B"],
      ["B", "A"],
    ] as const) {
      const chunks = new FrameOpener(hex(vector[to].recv_key)).push(hex(vector[from].first_sealed_frame));
      expect(chunks.map(toHex).join("")).toBe(vector[from].authsig_delimited);
    }
  });

  it("decodes the same data when fed in chunks of every size from 1 to the whole stream", () => {
    expect(stream).toHaveLength(4 * SEALED_FRAME_BYTES);
    for (let size = 1; size <= stream.length; size++) {
      const opener = new FrameOpener(KEY);
      const out: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += size) {
        for (const chunk of opener.push(stream.subarray(i, i + size))) {
          expect(chunk.length).toBeGreaterThan(0);
          out.push(chunk);
        }
        expect(opener.bufferedBytes).toBeLessThan(SEALED_FRAME_BYTES);
      }
      expect(opener.bufferedBytes).toBe(0);
      expect(toHex(concat(out)), `chunk size ${size}`).toBe(expected);
    }
  });

  it("accepts an empty push and a frame with chunkLength 0", () => {
    const opener = new FrameOpener(KEY);
    expect(opener.push(new Uint8Array(0))).toEqual([]);
    expect(opener.push(sealRawFrame(KEY, 0n, plainFrame(0)))).toEqual([]);
    // The empty frame still used nonce 0.
    expect(opener.push(sealRawFrame(KEY, 1n, plainFrame(2, new Uint8Array([5, 6])))).map(toHex)).toEqual(["0506"]);
  });

  it("returns the frames of one push as one contiguous chunk, short and empty frames included, and the same fed piece by piece", () => {
    // Frames shorter than the 4-byte length prefix are where decrypting each frame right after the previous
    // one's data must put back the bytes the next prefix lands on.
    const lengths = [3, 0, 1, 1024, 2, 0, 500, 4, 1024, 1];
    const datas = lengths.map((len, i) => pseudoRandomBytes(len, 100 + i));
    const sealed = concat(lengths.map((len, i) => sealRawFrame(KEY, BigInt(i), plainFrame(len, datas[i]))));
    const expected = toHex(concat(datas));
    const whole = new FrameOpener(KEY).push(sealed);
    expect(whole).toHaveLength(1);
    expect(toHex(whole[0]!)).toBe(expected);
    for (const size of [1, 3, 1043, 1044, 1045, 2100, 5000]) {
      const opener = new FrameOpener(KEY);
      const out: Uint8Array[] = [];
      for (let i = 0; i < sealed.length; i += size) {
        const chunks = opener.push(sealed.subarray(i, i + size));
        expect(chunks.length).toBeLessThanOrEqual(1);
        out.push(...chunks);
      }
      expect(toHex(concat(out)), `pieces of ${size}`).toBe(expected);
    }
  });

  it("ignores whatever the padding holds", () => {
    const frame = plainFrame(3, new Uint8Array([1, 2, 3]));
    frame.fill(0xab, 7);
    expect(new FrameOpener(KEY).push(sealRawFrame(KEY, 0n, frame)).map(toHex)).toEqual(["010203"]);
  });

  it.each([1025, 0x10000, 0xffffffff])("rejects chunkLength %i with FrameLengthError", (len) => {
    const opener = new FrameOpener(KEY);
    expect(() => opener.push(sealRawFrame(KEY, 0n, plainFrame(len)))).toThrow(FrameLengthError);
  });

  it("accepts chunkLength 1024 exactly", () => {
    expect(new FrameOpener(KEY).push(sealRawFrame(KEY, 0n, plainFrame(1024)))[0]).toHaveLength(FRAME_DATA_MAX_BYTES);
  });

  it.each([
    ["first length byte", 0],
    ["data", 500],
    ["padding", 1027],
    ["tag", 1030],
    ["last tag byte", 1043],
  ])("rejects a flipped bit in the %s with FrameDecryptError, and stays failed", (_where, at) => {
    const sealed = sealRawFrame(KEY, 0n, plainFrame(600, pseudoRandomBytes(600, 9)));
    sealed[at] = (sealed[at] as number) ^ 0x01;
    const opener = new FrameOpener(KEY);
    expect(() => opener.push(sealed)).toThrow(FrameDecryptError);
    expect(() => opener.push(sealRawFrame(KEY, 0n, plainFrame(1)))).toThrow(FrameDecryptError);
  });

  it("rejects frames under the wrong key, out of order, or replayed", () => {
    const f0 = sealRawFrame(KEY, 0n, plainFrame(1, new Uint8Array([1])));
    const f1 = sealRawFrame(KEY, 1n, plainFrame(1, new Uint8Array([2])));
    expect(() => new FrameOpener(pseudoRandomBytes(32, 99)).push(f0)).toThrow(FrameDecryptError);
    expect(() => new FrameOpener(KEY).push(f1)).toThrow(FrameDecryptError);
    const opener = new FrameOpener(KEY);
    opener.push(f0);
    expect(() => opener.push(f0)).toThrow(FrameDecryptError);
  });

  it("releases no plaintext of a frame whose tag fails, even when later frames in the same push are fine", () => {
    const good = sealRawFrame(KEY, 0n, plainFrame(1, new Uint8Array([1])));
    const bad = sealRawFrame(KEY, 1n, plainFrame(1, new Uint8Array([2])));
    bad[1043] = (bad[1043] as number) ^ 0x80;
    const opener = new FrameOpener(KEY);
    expect(() => opener.push(concat([good, bad]))).toThrow(FrameDecryptError);
  });

  it("throws NonceOverflowError after opening the frame with counter 2^64-1", () => {
    const opener = new FrameOpener(KEY, { initialCounter: MAX_COUNTER });
    expect(opener.push(sealRawFrame(KEY, MAX_COUNTER, plainFrame(1, new Uint8Array([7])))).map(toHex)).toEqual(["07"]);
    expect(() => opener.push(sealRawFrame(KEY, 0n, plainFrame(1)))).toThrow(NonceOverflowError);
  });

  it("openFrame wants exactly one sealed frame", () => {
    expect(() => new FrameOpener(KEY).openFrame(new Uint8Array(1043))).toThrow(RangeError);
  });

  it("round-trips with the sealer for many sizes", () => {
    const sealer = new FrameSealer(KEY);
    const opener = new FrameOpener(KEY);
    for (const n of [1, 2, 1023, 1024, 1025, 2048, 5000, 65536]) {
      const data = pseudoRandomBytes(n, n);
      expect(toHex(concat(opener.push(sealer.seal(data))))).toBe(toHex(data));
    }
  });
});
