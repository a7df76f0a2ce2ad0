/**
 * Ed25519 node identities on Node's own crypto (OpenSSL), without extra
 * libraries.
 *
 * A CometBFT node key is an ed25519 key; its public half is sent in the
 * AuthSigMessage and its node ID is derived from it (§1.7 of the protocol
 * digest). Keys travel as raw 32-byte values; Node wants KeyObjects, so the
 * raw values are wrapped once (PKCS#8 for the private half, JWK for public
 * keys) and the KeyObject is cached on the key.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from "node:crypto";

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

// PKCS#8 wrapping of a raw ed25519 seed: SEQUENCE { version 0, AlgorithmIdentifier { 1.3.101.112 }, OCTET STRING { OCTET STRING seed } }.
const PKCS8_ED25519_PREFIX = Buffer.from("302e020100300506032b657004220420", "hex");

class NodeEd25519PrivateKey implements Ed25519PrivateKey {
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  private readonly keyObject: KeyObject;

  constructor(seed: Uint8Array) {
    this.seed = Uint8Array.from(seed);
    this.keyObject = createPrivateKey({
      key: Buffer.concat([PKCS8_ED25519_PREFIX, this.seed]),
      format: "der",
      type: "pkcs8",
    });
    const jwk = createPublicKey(this.keyObject).export({ format: "jwk" });
    if (typeof jwk.x !== "string") throw new Error("ed25519: OpenSSL did not export a public key");
    this.publicKey = new Uint8Array(Buffer.from(jwk.x, "base64url"));
  }

  sign(message: Uint8Array): Uint8Array {
    return new Uint8Array(sign(null, message, this.keyObject));
  }
}

/** A fresh random node key. */
export function generateEd25519Key(): Ed25519PrivateKey {
  const { privateKey } = generateKeyPairSync("ed25519");
  const jwk = privateKey.export({ format: "jwk" });
  if (typeof jwk.d !== "string") throw new Error("ed25519: OpenSSL did not export a seed");
  return new NodeEd25519PrivateKey(Buffer.from(jwk.d, "base64url"));
}

/** The key whose seed is `seed` (32 bytes). Throws a RangeError on another size. */
export function ed25519KeyFromSeed(seed: Uint8Array): Ed25519PrivateKey {
  if (seed.length !== ED25519_SEED_BYTES) {
    throw new RangeError(`ed25519 seed must be ${ED25519_SEED_BYTES} bytes, got ${seed.length}`);
  }
  return new NodeEd25519PrivateKey(seed);
}

/**
 * Whether `signature` is a valid ed25519 signature of `message` by the raw
 * 32-byte `publicKey`. Never throws: a key or signature of the wrong size, or
 * a key OpenSSL refuses, is simply "not valid".
 *
 * OpenSSL verifies with the strict RFC 8032 rules; CometBFT verifies with
 * ZIP-215, which accepts a few more edge-case signatures. Honest signers
 * produce signatures both accept.
 */
export function verifyEd25519(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.length !== ED25519_PUBLIC_KEY_BYTES || signature.length !== ED25519_SIGNATURE_BYTES) return false;
  try {
    const keyObject = createPublicKey({
      key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKey).toString("base64url") },
      format: "jwk",
    });
    return verify(null, message, keyObject, signature);
  } catch {
    return false;
  }
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
