/**
 * The key agreement of the STS handshake (§1.1–1.5 of the protocol digest):
 * X25519 ephemeral keys, their ordering, the Merlin challenge and the HKDF
 * split into the two AEAD keys. Pure functions over the process's crypto
 * backend (libsodium, or node:crypto as the fallback; see ../crypto/backend.ts).
 */
import { hkdfSync } from "node:crypto";
import { cryptoBackend, type CryptoBackend, type X25519KeyPair } from "../crypto/backend.js";
import { MerlinTranscript } from "../merlin/transcript.js";
import { LowOrderPointError } from "./errors.js";

export type { X25519KeyPair } from "../crypto/backend.js";

/** Size of an X25519 public key, private key and shared secret. */
export const X25519_KEY_BYTES = 32;
/** Size of the challenge each side signs. */
export const CHALLENGE_BYTES = 32;

const TRANSCRIPT_LABEL = "TENDERMINT_SECRET_CONNECTION_TRANSCRIPT_HASH";
const LABEL_EPHEMERAL_LOWER = "EPHEMERAL_LOWER_PUBLIC_KEY";
const LABEL_EPHEMERAL_UPPER = "EPHEMERAL_UPPER_PUBLIC_KEY";
const LABEL_DH_SECRET = "DH_SECRET";
const LABEL_CHALLENGE = "SECRET_CONNECTION_MAC";
const HKDF_INFO = "TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN";
// Two AEAD keys and 32 bytes that older protocol versions used as the challenge; v0.38 ignores them.
const HKDF_OUTPUT_BYTES = 96;

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
 * `TENDERMINT_SECRET_CONNECTION_KEY_AND_CHALLENGE_GEN`, 96 bytes). The side
 * whose ephemeral key is the lower one receives with bytes 0..32 and sends
 * with bytes 32..64; the other side the reverse. Bytes 64..96 are unused.
 */
export function deriveSecrets(dhSecret: Uint8Array, localIsLeast: boolean): SessionKeys {
  checkSize("DH secret", dhSecret);
  const okm = new Uint8Array(hkdfSync("sha256", dhSecret, new Uint8Array(0), HKDF_INFO, HKDF_OUTPUT_BYTES));
  const first = okm.slice(0, 32);
  const second = okm.slice(32, 64);
  return localIsLeast ? { recvKey: first, sendKey: second } : { recvKey: second, sendKey: first };
}

/** The 32-byte challenge both sides sign: Merlin over the sorted ephemeral keys and the DH secret. */
export function computeChallenge(lo: Uint8Array, hi: Uint8Array, dhSecret: Uint8Array): Uint8Array {
  const transcript = new MerlinTranscript(TRANSCRIPT_LABEL);
  transcript.appendMessage(LABEL_EPHEMERAL_LOWER, lo);
  transcript.appendMessage(LABEL_EPHEMERAL_UPPER, hi);
  transcript.appendMessage(LABEL_DH_SECRET, dhSecret);
  return transcript.extractBytes(LABEL_CHALLENGE, CHALLENGE_BYTES);
}

function checkSize(what: string, bytes: Uint8Array): void {
  if (bytes.length !== X25519_KEY_BYTES) throw new RangeError(`${what} must be ${X25519_KEY_BYTES} bytes, got ${bytes.length}`);
}
