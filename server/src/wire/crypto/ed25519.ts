/**
 * Ed25519 node identities on the process's crypto backend (libsodium, or
 * node:crypto as the fallback; see backend.ts).
 *
 * A CometBFT node key is an ed25519 key; its public half is sent in the
 * AuthSigMessage and its node ID is derived from it (§1.7 of the protocol
 * digest). Keys travel as raw 32-byte values.
 */
import { createHash } from "node:crypto";
import { cryptoBackend, type CryptoBackend, type Ed25519Signer } from "./backend.js";

/** Size in bytes of an ed25519 seed (the private key as CometBFT stores its first half). */
export const ED25519_SEED_BYTES = 32;
/** Size in bytes of a raw ed25519 public key. */
export const ED25519_PUBLIC_KEY_BYTES = 32;
/** Size in bytes of an ed25519 signature. */
export const ED25519_SIGNATURE_BYTES = 64;
/** Bytes of SHA-256 kept for a node ID (CometBFT's `tmhash` truncation). */
export const NODE_ID_BYTES = 20;

/** A long-term ed25519 key: the node identity. */
export interface Ed25519PrivateKey {
  /** The 32-byte seed. Treat it as secret: never log it. */
  readonly seed: Uint8Array;
  /** The raw 32-byte public key. */
  readonly publicKey: Uint8Array;
  /** A standard (pure, non-prehashed) 64-byte ed25519 signature over `message`. */
  sign(message: Uint8Array): Uint8Array;
}

class BackendEd25519PrivateKey implements Ed25519PrivateKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  private readonly signer: Ed25519Signer;

  constructor(seed: Uint8Array, backend: CryptoBackend) {
    this.seed = Uint8Array.from(seed);
    this.signer = backend.ed25519FromSeed(this.seed);
    this.publicKey = this.signer.publicKey;
  }

  sign(message: Uint8Array): Uint8Array {
    return this.signer.sign(message);
  }
}

/** A fresh random node key. */
export function generateEd25519Key(backend: CryptoBackend = cryptoBackend()): Ed25519PrivateKey {
  return new BackendEd25519PrivateKey(backend.ed25519GenerateSeed(), backend);
}

/** The key whose seed is `seed` (32 bytes). Throws a RangeError on another size. */
export function ed25519KeyFromSeed(seed: Uint8Array, backend: CryptoBackend = cryptoBackend()): Ed25519PrivateKey {
  if (seed.length !== ED25519_SEED_BYTES) {
    throw new RangeError(`ed25519 seed must be ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
  }
  return new BackendEd25519PrivateKey(seed, backend);
}

/**
 * Whether `signature` is a valid ed25519 signature of `message` by the raw
 * 32-byte `publicKey`. Never throws: a key or signature of the wrong size, or
 * a key the backend refuses, is simply "not valid".
 *
 * libsodium and OpenSSL verify with strict RFC 8032 rules (libsodium also
 * refuses small-order keys); CometBFT verifies with ZIP-215, which accepts a
 * few more edge-case signatures. Honest signers produce signatures all of
 * them accept.
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array, backend: CryptoBackend = cryptoBackend()): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  return backend.ed25519Verify(publicKey, message, signature);
}

/**
 * CometBFT's node ID of an ed25519 public key: lower-case hex of the first
 * 20 bytes of SHA-256 over the raw 32-byte key (40 characters).
 */
export function nodeIdFromPublicKey(publicKey: Uint8Array): string {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new RangeError(`ed25519 public key must be ${ED25519_PUBLIC_KEY_BYTES} bytes, got ${publicKey.length}`);
  }
  return createHash("sha256").update(publicKey).digest().subarray(0, NODE_ID_BYTES).toString("hex");
}
