/**
 * SecretConnection framing (§2 of the protocol digest): a pure sealer and an
 * incremental opener. No sockets, no timers.
 *
 * Plaintext frame, always 1028 bytes: LE uint32 chunk length, up to 1024
 * data bytes, zero padding. Sealed with ChaCha20-Poly1305 (IETF, empty AD)
 * into 1044 bytes. The 12-byte nonce is four zero bytes followed by a LE
 * uint64 counter; each direction has its own counter, starting at 0 and
 * advancing by one per frame.
 */
import { type Aead, type CryptoBackend, cryptoBackend } from "../crypto/backend.js";
import { FrameDecryptError, FrameLengthError, NonceOverflowError } from "./errors.js";

/** Size of the LE uint32 chunk length at the start of a plaintext frame. */
export const FRAME_LENGTH_PREFIX_BYTES = 4;
/** Most data bytes one frame carries. */
export const FRAME_DATA_MAX_BYTES = 1024;
/** A plaintext frame: length prefix, data, padding. */
export const FRAME_PLAINTEXT_BYTES = FRAME_LENGTH_PREFIX_BYTES + FRAME_DATA_MAX_BYTES;
/** The Poly1305 tag appended to every sealed frame. */
export const AEAD_TAG_BYTES = 16;
/** Every frame on the wire is exactly this long. */
export const SEALED_FRAME_BYTES = FRAME_PLAINTEXT_BYTES + AEAD_TAG_BYTES;
/** ChaCha20-Poly1305 key size. */
export const AEAD_KEY_BYTES = 32;
/** ChaCha20-Poly1305 (IETF) nonce size. */
export const AEAD_NONCE_BYTES = 12;

const COUNTER_OFFSET = 4;
const EMPTY = Buffer.alloc(0);
const MAX_COUNTER = 0xffff_ffff_ffff_ffffn;

/** Number of sealed bytes a write of `plaintextBytes` produces (zero for an empty write). */
export function sealedLength(plaintextBytes: number): number {
  return Math.ceil(plaintextBytes / FRAME_DATA_MAX_BYTES) * SEALED_FRAME_BYTES;
}

/** Options shared by sealer and opener. */
export interface FrameCodecOptions {
  /**
   * The nonce counter of the first frame.
   * @default 0n (what the protocol uses; other values exist for tests)
   */
  readonly initialCounter?: bigint;
  /**
   * The ChaCha20-Poly1305 implementation.
   * @default the process's {@link cryptoBackend} (libsodium when it loads)
   */
  readonly backend?: CryptoBackend;
}

/** The per-direction nonce: 4 zero bytes, then a LE uint64 counter, used once each. */
class NonceCounter {
  readonly bytes = Buffer.alloc(AEAD_NONCE_BYTES);
  private exhausted = false;

  constructor(
    initialCounter: bigint,
    private readonly direction: "send" | "receive",
  ) {
    if (initialCounter < 0n || initialCounter > MAX_COUNTER) {
      throw new RangeError(`nonce counter out of range: ${initialCounter}`);
    }
    this.bytes.writeBigUInt64LE(initialCounter, COUNTER_OFFSET);
  }

  /** Throws {@link NonceOverflowError} once the counter 2^64-1 has been used. */
  check(): void {
    if (this.exhausted) throw new NonceOverflowError(this.direction);
  }

  /** Advances after a frame; wrapping to zero marks the counter exhausted instead of reusing nonces. */
  advance(): void {
    const b = this.bytes;
    for (let i = COUNTER_OFFSET; i < AEAD_NONCE_BYTES; i++) {
      const next = ((b[i] as number) + 1) & 0xff;
      b[i] = next;
      if (next !== 0) return;
    }
    this.exhausted = true;
  }
}

function aeadFor(key: Uint8Array, options: FrameCodecOptions): Aead {
  if (key.length !== AEAD_KEY_BYTES) throw new RangeError(`AEAD key must be ${AEAD_KEY_BYTES} bytes, got ${key.length}`);
  return (options.backend ?? cryptoBackend()).aead(key);
}

/**
 * Seals plaintext into frames. Owns the send nonce: use one sealer per
 * connection and direction, and never seal the same stream twice.
 */
export class FrameSealer {
  private readonly aead: Aead;
  private readonly nonce: NonceCounter;
  // One plaintext frame, reused for every frame: data is copied in, then encrypted out.
  private readonly frame = Buffer.alloc(FRAME_PLAINTEXT_BYTES);

  constructor(key: Uint8Array, options: FrameCodecOptions = {}) {
    this.aead = aeadFor(key, options);
    this.nonce = new NonceCounter(options.initialCounter ?? 0n, "send");
  }

  /** Seals `data` into ceil(length / 1024) frames in one buffer. An empty input gives an empty buffer. */
  seal(data: Uint8Array): Buffer {
    return this.sealChunks([data]);
  }

  /**
   * Seals the concatenation of `chunks` as one stream: frames are filled to
   * 1024 data bytes across chunk boundaries, so many small chunks become few
   * frames. All frames land in one freshly allocated buffer.
   *
   * Throws {@link NonceOverflowError} when the send counter is exhausted; the
   * sealer is then unusable.
   */
  sealChunks(chunks: readonly Uint8Array[]): Buffer {
    let total = 0;
    for (const c of chunks) total += c.length;
    const out = Buffer.allocUnsafe(sealedLength(total));
    const frame = this.frame;
    let outPos = 0;
    let chunkIndex = 0;
    let chunkPos = 0;
    let remaining = total;
    while (remaining > 0) {
      const len = remaining < FRAME_DATA_MAX_BYTES ? remaining : FRAME_DATA_MAX_BYTES;
      frame.writeUInt32LE(len, 0);
      let filled = 0;
      while (filled < len) {
        const chunk = chunks[chunkIndex] as Uint8Array;
        const take = Math.min(len - filled, chunk.length - chunkPos);
        frame.set(chunk.subarray(chunkPos, chunkPos + take), FRAME_LENGTH_PREFIX_BYTES + filled);
        filled += take;
        chunkPos += take;
        if (chunkPos === chunk.length) {
          chunkIndex++;
          chunkPos = 0;
        }
      }
      if (len < FRAME_DATA_MAX_BYTES) frame.fill(0, FRAME_LENGTH_PREFIX_BYTES + len);
      outPos = this.sealFrame(out, outPos);
      remaining -= len;
    }
    return out;
  }

  private sealFrame(out: Buffer, offset: number): number {
    this.nonce.check();
    const written = this.aead.seal(out, offset, this.frame, this.nonce.bytes);
    this.nonce.advance();
    return offset + written;
  }
}

/**
 * Opens sealed frames. {@link push} accepts ciphertext in pieces of any size
 * and keeps at most one partial frame (1043 bytes) between calls.
 *
 * After any error the opener stays failed and rethrows that error: a stream
 * that failed authentication once cannot be trusted again.
 */
export class FrameOpener {
  private readonly aead: Aead;
  private readonly nonce: NonceCounter;
  private readonly partial = Buffer.alloc(SEALED_FRAME_BYTES);
  private partialBytes = 0;
  private failure: Error | null = null;

  constructor(key: Uint8Array, options: FrameCodecOptions = {}) {
    this.aead = aeadFor(key, options);
    this.nonce = new NonceCounter(options.initialCounter ?? 0n, "receive");
  }

  /** Ciphertext bytes held that do not yet form a complete frame. */
  get bufferedBytes(): number {
    return this.partialBytes;
  }

  /**
   * Consumes `ciphertext` and returns the data of every frame it completes,
   * in order, as one chunk (an empty array when no frame completed or every
   * completed frame was empty). The chunk is a view of a buffer no one else
   * holds. Throws {@link FrameDecryptError}, {@link FrameLengthError} or
   * {@link NonceOverflowError}.
   */
  push(ciphertext: Uint8Array): Buffer[] {
    this.throwIfFailed();
    let pos = 0;
    const completing = this.partialBytes > 0 ? Math.min(SEALED_FRAME_BYTES - this.partialBytes, ciphertext.length) : 0;
    const frames = (this.partialBytes > 0 && this.partialBytes + completing === SEALED_FRAME_BYTES ? 1 : 0) + Math.floor((ciphertext.length - completing) / SEALED_FRAME_BYTES);
    // Every frame this call opens is decrypted straight into one buffer, its data right after the previous
    // frame's (see openAt): the data of a whole read comes out contiguous, without a copy.
    const plain = frames > 0 ? Buffer.allocUnsafe(FRAME_LENGTH_PREFIX_BYTES + frames * FRAME_DATA_MAX_BYTES) : EMPTY;
    let end = FRAME_LENGTH_PREFIX_BYTES;
    if (this.partialBytes > 0) {
      this.partial.set(ciphertext.subarray(0, completing), this.partialBytes);
      this.partialBytes += completing;
      pos = completing;
      if (this.partialBytes < SEALED_FRAME_BYTES) return [];
      this.partialBytes = 0;
      end = this.openAt(this.partial, plain, end);
    }
    while (ciphertext.length - pos >= SEALED_FRAME_BYTES) {
      end = this.openAt(ciphertext.subarray(pos, pos + SEALED_FRAME_BYTES), plain, end);
      pos += SEALED_FRAME_BYTES;
    }
    if (pos < ciphertext.length) {
      this.partial.set(ciphertext.subarray(pos), 0);
      this.partialBytes = ciphertext.length - pos;
    }
    return end > FRAME_LENGTH_PREFIX_BYTES ? [plain.subarray(FRAME_LENGTH_PREFIX_BYTES, end)] : [];
  }

  /**
   * Opens one sealed frame so that its data lands at `end` of `plain`, and
   * returns the new end. The frame's plaintext is its 4-byte length and then
   * its data, so it is decrypted at `end - 4`: its length prefix lands on the
   * last 4 data bytes of the frame before, which are saved first and put
   * back once the length is read. `plain` has 4 bytes of room before the
   * first frame and 1024 after each end.
   */
  private openAt(sealed: Uint8Array, plain: Buffer, end: number): number {
    try {
      this.nonce.check();
      const at = end - FRAME_LENGTH_PREFIX_BYTES;
      const saved = plain.readUInt32LE(at);
      if (!this.aead.open(plain.subarray(at, at + FRAME_PLAINTEXT_BYTES), sealed, this.nonce.bytes)) throw new FrameDecryptError();
      this.nonce.advance();
      const chunkLength = plain.readUInt32LE(at);
      if (chunkLength > FRAME_DATA_MAX_BYTES) throw new FrameLengthError(chunkLength, FRAME_DATA_MAX_BYTES);
      plain.writeUInt32LE(saved, at);
      return end + chunkLength;
    } catch (err) {
      this.failure = err instanceof Error ? err : new Error(String(err));
      throw this.failure;
    }
  }

  /** Opens exactly one sealed frame (1044 bytes) and returns its data, possibly empty. */
  openFrame(sealed: Uint8Array): Buffer {
    this.throwIfFailed();
    if (sealed.length !== SEALED_FRAME_BYTES) {
      throw new RangeError(`a sealed frame is ${SEALED_FRAME_BYTES} bytes, got ${sealed.length}`);
    }
    const plain = Buffer.allocUnsafe(FRAME_PLAINTEXT_BYTES);
    return plain.subarray(FRAME_LENGTH_PREFIX_BYTES, this.openAt(sealed, plain, FRAME_LENGTH_PREFIX_BYTES));
  }

  private throwIfFailed(): void {
    if (this.failure !== null) throw this.failure;
  }
}
