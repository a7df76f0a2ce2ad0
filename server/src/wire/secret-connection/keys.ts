/**
 * The key agreement of the STS handshake (§1.1–1.5 of the protocol digest):
 * X25519 ephemeral keys, their ordering, the Merlin challenge and the HKDF
 * split into the two AEAD keys. Pure functions over the process's crypto
 * backend (libsodium, or node:crypto as the fallback; see ../crypto/backend.ts).
 */
import { createHmac } from "node:crypto";
import { cryptoBackend, type CryptoBackend, type X25519KeyPair } from "../crypto/backend.js";
import { MerlinTranscript } from "../merlin/transcript.js";
import { LowOrderPointError } from "./errors.js";

export type { X25519KeyPair } from "../crypto/backend.js";

/** Size of an X25519 public key, private key and shared secret. */
export const X25519_KEY_BYTES = 32;
/** Size of the challenge each side signs. */
export const CHALLENGE_BYTES = 32;

const utf8 = new TextEncoder();
const TRANSCRIPT_LABEL = utf8.encode("TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH");
const LABEL_EPHEMERAL_LOWER = utf8.encode("EPHEMERAL_LOWER_PUBLIC_KEY");
const LABEL_EPHEMERAL_UPPER = utf8.encode("EPHEMERAL_UPPER_PUBLIC_KEY");
const LABEL_DH_SECRET = utf8.encode("DH_SECRET");
const LABEL_CHALLENGE = utf8.encode("SECRET_CONNECTION_MAC");
const HKDF_INFO = utf8.encode("TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN");
const AEAD_KEY_BYTES = 32;
const SHA256_BYTES = 32;
const ZERO_SALT = new Uint8Array(SHA256_BYTES);

/** A fresh ephemeral key pair. */
export function generateX25519KeyPair(backend: CryptoBackend = cryptoBackend()): X25519KeyPair {
  return backend.x25519Generate();
}

/** The key pair of a given private scalar (X25519 clamps it when used). */
export function x25519KeyPairFromPrivateKey(privateKey: Uint8Array, backend: CryptoBackend = cryptoBackend()): X25519KeyPair {
  checkSize("X25519 private key", privateKey);
  return backend.x25519FromPrivate(privateKey);
}

/**
 * X25519(privateKey, remotePublicKey). Throws {@link LowOrderPointError} when
 * the result is all zeros, i.e. the remote key is a low-order point (both
 * backends refuse to derive it; the explicit check does not rely on that).
 */
export function x25519SharedSecret(privateKey: Uint8Array, remotePublicKey: Uint8Array, backend: CryptoBackend = cryptoBackend()): Uint8Array {
  checkSize("X25519 private key", privateKey);
  checkSize("X25519 public key", remotePublicKey);
  const secret = backend.x25519(privateKey, remotePublicKey);
  if (secret === null || secret.every((b) => b === 0)) throw new LowOrderPointError();
  return secret;
}

/** Lexicographic unsigned-byte comparison, like Go's `bytes.Compare`. */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] as number) - (b[i] as number);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/** The two ephemeral keys ordered; `localIsLeast` tells whether ours is the lower. */
export interface SortedEphemeralKeys {
  readonly lo: Uint8Array;
  readonly hi: Uint8Array;
  readonly localIsLeast: boolean;
}

/** Orders the ephemeral public keys as CometBFT does (equal keys: the remote one counts as lower). */
export function sortEphemeralKeys(local: Uint8Array, remote: Uint8Array): SortedEphemeralKeys {
  return compareBytes(local, remote) < 0 ? { lo: local, hi: remote, localIsLeast: true } : { lo: remote, hi: local, localIsLeast: false };
}

/** The session's AEAD keys. One side's send key is the other side's receive key. */
export interface SessionKeys {
  readonly recvKey: Uint8Array;
  readonly sendKey: Uint8Array;
}

/**
 * HKDF-SHA256 over the raw DH secret (empty salt, info
 * `TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN`). CometBFT asks for
 * 96 bytes; the side whose ephemeral key is the lower one receives with bytes
 * 0..32 and sends with bytes 32..64, the other side the reverse. Bytes 64..96
 * are unused in v0.38, and HKDF's output blocks are computed in order, so we
 * compute only the first two.
 */
export function deriveSecrets(dhSecret: Uint8Array, localIsLeast: boolean): SessionKeys {
  checkSize("DH secret", dhSecret);
  const okm = hkdfSha256(dhSecret, HKDF_INFO, 2 * AEAD_KEY_BYTES);
  const first = okm.subarray(0, AEAD_KEY_BYTES);
  const second = okm.subarray(AEAD_KEY_BYTES, 2 * AEAD_KEY_BYTES);
  return localIsLeast ? { recvKey: first, sendKey: second } : { recvKey: second, sendKey: first };
}

/**
 * HKDF-SHA256 (RFC 5869) with an empty salt, on HMACs: extract, then as many
 * expand blocks as `length` needs. `hkdfSync` computes the same but builds a
 * key object from the secret on every call, which costs more than the three
 * HMACs of a handshake.
 */
export function hkdfSha256(ikm: Uint8Array, info: Uint8Array, length: number): Uint8Array {
  if (length > 255 * SHA256_BYTES) throw new RangeError(`HKDF-SHA256 cannot produce ${length} bytes`);
  // An empty salt is HashLen zero bytes (RFC 5869 §2.2).
  const prk = createHmac("sha256", ZERO_SALT).update(ikm).digest();
  const out = new Uint8Array(length);
  let block: Uint8Array = new Uint8Array(0);
  for (let i = 1, offset = 0; offset < length; i++, offset += SHA256_BYTES) {
    block = createHmac("sha256", prk).update(block).update(info).update(Uint8Array.of(i)).digest();
    out.set(block.subarray(0, Math.min(SHA256_BYTES, length - offset)), offset);
  }
  return out;
}

/** The 32-byte challenge both sides sign: Merlin over the sorted ephemeral keys and the DH secret. */
export function computeChallenge(lo: Uint8Array, hi: Uint8Array, dhSecret: Uint8Array): Uint8Array {
  const transcript = transcriptBase().clone();
  transcript.appendMessage(LABEL_EPHEMERAL_LOWER, lo);
  transcript.appendMessage(LABEL_EPHEMERAL_UPPER, hi);
  transcript.appendMessage(LABEL_DH_SECRET, dhSecret);
  return transcript.extractBytes(LABEL_CHALLENGE, CHALLENGE_BYTES);
}

// The transcript after its constant label, built once and cloned for each challenge.
let base: MerlinTranscript | null = null;
function transcriptBase(): MerlinTranscript {
  base ??= new MerlinTranscript(TRANSCRIPT_LABEL);
  return base;
}

function checkSize(what: string, bytes: Uint8Array): void {
  if (bytes.length !== X25519_KEY_BYTES) throw new RangeError(`${what} must be ${X25519_KEY_BYTES} bytes, got ${bytes.length}`);
}
