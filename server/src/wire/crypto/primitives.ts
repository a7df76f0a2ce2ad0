/** The interface every crypto backend implements (see backend.ts). */

/** ChaCha20-Poly1305 (IETF) with one fixed key. */
export interface Aead {
  /**
   * Encrypts `plaintext` under `nonce` (12 bytes) with empty associated data
   * and writes ciphertext then the 16-byte tag into `out` at `offset`.
   * Returns the number of bytes written (plaintext length + 16).
   */
  seal(out: Uint8Array, offset: number, plaintext: Uint8Array, nonce: Uint8Array): number;
  /**
   * Authenticates and decrypts `sealed` (ciphertext then tag) into `out`
   * (at least `sealed.length - 16` bytes). False when authentication fails;
   * `out` then holds no plaintext worth reading.
   */
  open(out: Uint8Array, sealed: Uint8Array, nonce: Uint8Array): boolean;
}

/** An ed25519 signing key, ready to sign. */
export interface Ed25519Signer {
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Uint8Array;
}

/** An X25519 key pair as raw bytes. The private half is the unclamped 32-byte scalar. */
export interface X25519KeyPair {
  readonly publicKey: Uint8Array;
  readonly privateKey: Uint8Array;
}

/** The primitives the wire protocol needs. Sizes are checked by the callers. */
export interface CryptoBackend {
  readonly name: "libsodium" | "node:crypto";
  /** A ChaCha20-Poly1305 instance for a 32-byte key. */
  aead(key: Uint8Array): Aead;
  /** A fresh random X25519 key pair. */
  x25519Generate(): X25519KeyPair;
  /** The key pair of a 32-byte private scalar. */
  x25519FromPrivate(privateKey: Uint8Array): X25519KeyPair;
  /**
   * X25519(privateKey, publicKey); null when the primitive refuses the
   * remote key (a low-order point). The caller still checks for all zeros.
   */
  x25519(privateKey: Uint8Array, publicKey: Uint8Array): Uint8Array | null;
  /** The signing key of a 32-byte seed. */
  ed25519FromSeed(seed: Uint8Array): Ed25519Signer;
  /** A fresh random 32-byte ed25519 seed. */
  ed25519GenerateSeed(): Uint8Array;
  /** Whether `signature` (64 bytes) is valid for `message` under `publicKey` (32 bytes); never throws. */
  ed25519Verify(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean;
}
