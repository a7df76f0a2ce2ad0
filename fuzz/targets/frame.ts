/**
 * Fuzz target: SecretConnection frames (`FrameOpener`).
 *
 * The input describes a stream of frames — honest ones with any data, ones
 * whose (authenticated) length field lies, tampered ciphertext, garbage —
 * sealed with a fixed key and the protocol's nonce sequence, then cut into
 * pieces. Properties:
 * - the data of every frame before the first bad one comes out, in order
 *   (in chunks of any size: frame boundaries mean nothing);
 * - a lying length gives `FrameLengthError`, tampering or garbage
 *   `FrameDecryptError`, nothing else is thrown;
 * - the opener never holds more than one partial frame (1043 bytes);
 * - after an error the opener rethrows that error.
 */
import { createCipheriv } from "node:crypto";
import { FrameDecryptError, FrameLengthError, NonceOverflowError } from "../../server/src/wire/secret-connection/errors.js";
import { FRAME_DATA_MAX_BYTES, FRAME_PLAINTEXT_BYTES, FrameOpener, SEALED_FRAME_BYTES } from "../../server/src/wire/secret-connection/frame.js";
import { FuzzInput, bytesEqual, check, chunkBySeed, concatBytes, expectTyped } from "./common.js";

export const FRAME_KEY = Uint8Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff);

/** One frame of a fuzzed stream. */
export type FrameSpec =
  | { readonly kind: "honest"; readonly data: Uint8Array }
  | { readonly kind: "bad_length"; readonly chunkLength: number }
  | { readonly kind: "tampered"; readonly data: Uint8Array; readonly offset: number; readonly xor: number }
  | { readonly kind: "garbage"; readonly bytes: Uint8Array };

export interface FrameOpenerLike {
  readonly bufferedBytes: number;
  push(ciphertext: Uint8Array): Uint8Array[];
}

export type FrameOpenerFactory = (key: Uint8Array) => FrameOpenerLike;

const realFactory: FrameOpenerFactory = (key) => new FrameOpener(key);

/** Seals one 1028-byte plaintext frame with the nonce for `counter`, independently of FrameSealer. */
export function sealPlainFrame(key: Uint8Array, counter: number, plaintext: Uint8Array): Uint8Array {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64LE(BigInt(counter), 4);
  const cipher = createCipheriv("chacha20-poly1305", key, nonce, { authTagLength: 16 });
  return concatBytes([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function plain(chunkLength: number, data: Uint8Array): Uint8Array {
  const frame = new Uint8Array(FRAME_PLAINTEXT_BYTES);
  new DataView(frame.buffer).setUint32(0, chunkLength >>> 0, true);
  frame.set(data.subarray(0, FRAME_DATA_MAX_BYTES), 4);
  return frame;
}

/** The sealed stream of `specs`, and what an opener must make of it. */
export function buildFrameStream(specs: readonly FrameSpec[], truncateBy = 0): { bytes: Uint8Array; data: Uint8Array; failure: typeof FrameLengthError | typeof FrameDecryptError | null; failAt: number } {
  const sealed: Uint8Array[] = [];
  let failure: typeof FrameLengthError | typeof FrameDecryptError | null = null;
  let failAt = -1;
  specs.forEach((s, i) => {
    let frame: Uint8Array;
    switch (s.kind) {
      case "honest":
        frame = sealPlainFrame(FRAME_KEY, i, plain(Math.min(s.data.length, FRAME_DATA_MAX_BYTES), s.data));
        break;
      case "bad_length":
        frame = sealPlainFrame(FRAME_KEY, i, plain(s.chunkLength, new Uint8Array(0)));
        if (failure === null) {
          failure = s.chunkLength > FRAME_DATA_MAX_BYTES ? FrameLengthError : null;
          if (failure !== null) failAt = i;
        }
        break;
      case "tampered": {
        frame = sealPlainFrame(FRAME_KEY, i, plain(Math.min(s.data.length, FRAME_DATA_MAX_BYTES), s.data));
        const at = s.offset % SEALED_FRAME_BYTES;
        frame[at] = (frame[at] as number) ^ (s.xor === 0 ? 1 : s.xor);
        if (failure === null) {
          failure = FrameDecryptError;
          failAt = i;
        }
        break;
      }
      case "garbage":
        frame = new Uint8Array(SEALED_FRAME_BYTES);
        frame.set(s.bytes.subarray(0, SEALED_FRAME_BYTES));
        if (failure === null) {
          failure = FrameDecryptError;
          failAt = i;
        }
        break;
    }
    sealed.push(frame);
  });
  let bytes = concatBytes(sealed);
  if (truncateBy > 0) bytes = bytes.subarray(0, Math.max(0, bytes.length - truncateBy));
  // Frames cut off by the truncation never arrive whole.
  const whole = Math.floor(bytes.length / SEALED_FRAME_BYTES);
  if (failAt >= whole) {
    failure = null;
    failAt = -1;
  }
  const goodWhole = specs.slice(0, Math.min(whole, failAt === -1 ? whole : failAt));
  const data = concatBytes(
    goodWhole.map((s) => (s.kind === "honest" ? s.data.subarray(0, FRAME_DATA_MAX_BYTES) : s.kind === "bad_length" ? new Uint8Array(s.chunkLength) : new Uint8Array(0))),
  );
  return { bytes, data, failure, failAt };
}

export function checkFrameStream(specs: readonly FrameSpec[], truncateBy: number, chunkSeed: number, make: FrameOpenerFactory = realFactory): void {
  const expected = buildFrameStream(specs, truncateBy);
  const chunks = chunkBySeed(expected.bytes, chunkSeed);
  const opener = make(FRAME_KEY);
  const out: Uint8Array[] = [];
  let failure: Error | null = null;
  let failedChunkLength = 0;
  let pushed = 0;
  for (const chunk of chunks) {
    try {
      for (const c of opener.push(chunk)) {
        // Frame boundaries mean nothing: any chunking of the data is fine, but no empty chunks.
        check(c.length > 0, "an empty chunk came out");
        out.push(c.slice());
      }
    } catch (err) {
      failure = expectTyped(err, [FrameDecryptError, FrameLengthError, NonceOverflowError], "FrameOpener.push");
      let again: unknown = null;
      try {
        opener.push(new Uint8Array(SEALED_FRAME_BYTES));
      } catch (e) {
        again = e;
      }
      check(again === failure, "a failed opener accepted more ciphertext");
      failedChunkLength = chunk.length;
      break;
    }
    pushed += chunk.length;
    check(opener.bufferedBytes < SEALED_FRAME_BYTES, () => `holds ${opener.bufferedBytes} bytes of ciphertext`);
    check(opener.bufferedBytes === pushed % SEALED_FRAME_BYTES, () => `holds ${opener.bufferedBytes} bytes, expected ${pushed % SEALED_FRAME_BYTES}`);
  }
  // A push that throws loses the frames it opened before the bad one (the documented contract: the
  // connection is destroyed); every frame completed by an earlier push must have come out.
  const framesBefore = failure === null ? Infinity : Math.floor(pushed / SEALED_FRAME_BYTES);
  const want = concatBytes(
    specs
      .slice(0, Math.min(framesBefore, Math.floor(expected.bytes.length / SEALED_FRAME_BYTES), expected.failAt === -1 ? Infinity : expected.failAt))
      .map((s) => (s.kind === "honest" ? s.data.subarray(0, FRAME_DATA_MAX_BYTES) : s.kind === "bad_length" ? new Uint8Array(s.chunkLength) : new Uint8Array(0))),
  );
  const got = concatBytes(out);
  check(bytesEqual(got, want), () => `opened ${got.length} data bytes, expected ${want.length}`);
  if (expected.failure === null) check(failure === null, () => `threw ${String(failure)} on an honest stream`);
  else {
    const cls = expected.failure;
    check(failure instanceof cls, () => `expected ${cls.name}, got ${String(failure)}`);
    const failingFrameEnd = (expected.failAt + 1) * SEALED_FRAME_BYTES;
    check(pushed < failingFrameEnd && pushed + failedChunkLength >= failingFrameEnd, "the error did not surface in the push that completed the bad frame");
  }
}

/** Decodes frame specs from fuzzer bytes. */
export function frameSpecsFrom(input: FuzzInput): FrameSpec[] {
  const n = 1 + (input.byte() % 6);
  const specs: FrameSpec[] = [];
  for (let i = 0; i < n; i++) {
    const mode = input.byte();
    if (mode < 200) {
      const len = input.u16() % (FRAME_DATA_MAX_BYTES + 1);
      specs.push({ kind: "honest", data: input.bytes(len) });
    } else if (mode < 225) {
      const choice = input.byte() % 4;
      const chunkLength = choice === 0 ? FRAME_DATA_MAX_BYTES + 1 : choice === 1 ? 0xffffffff : choice === 2 ? input.u32() : input.u16() % 2048;
      specs.push({ kind: "bad_length", chunkLength });
    } else if (mode < 245) {
      const len = input.u16() % (FRAME_DATA_MAX_BYTES + 1);
      specs.push({ kind: "tampered", data: input.bytes(len), offset: input.u16(), xor: input.byte() });
    } else {
      specs.push({ kind: "garbage", bytes: input.bytes(SEALED_FRAME_BYTES) });
    }
  }
  return specs;
}

export function fuzz(data: Uint8Array): void {
  const input = new FuzzInput(data);
  const truncate = input.byte() < 64 ? input.u16() % SEALED_FRAME_BYTES : 0;
  const seed = input.u32();
  checkFrameStream(frameSpecsFrom(input), truncate, seed);
}
