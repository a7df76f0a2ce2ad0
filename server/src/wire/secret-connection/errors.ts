/**
 * One error class per way a SecretConnection handshake or session can fail.
 * Failures that are not specific to the SecretConnection (EOF, deadline,
 * oversize or undecodable messages) use the shared classes in `../errors.ts`.
 */
import { WireError } from "../errors.js";

/** The remote's ephemeral key message did not carry exactly 32 bytes. */
export class InvalidEphemeralKeyError extends WireError {
  readonly code = "invalid_ephemeral_key";
  constructor(readonly sizeBytes: number) {
    super(`secret connection: remote ephemeral key is ${sizeBytes} bytes, expected 32`);
  }
}

/** The remote sent back our own ephemeral key (a reflection attack). */
export class ReflectedEphemeralKeyError extends WireError {
  readonly code = "reflected_ephemeral_key";
  constructor() {
    super("secret connection: remote ephemeral key equals ours");
  }
}

/** The remote's ephemeral key is a low-order point: the X25519 shared secret is all zeros. */
export class LowOrderPointError extends WireError {
  readonly code = "low_order_point";
  constructor(options?: ErrorOptions) {
    super("secret connection: remote ephemeral key is a low-order point", options);
  }
}

/** The remote's PublicKey is unset or has the wrong size for its type. */
export class InvalidPublicKeyError extends WireError {
  readonly code = "invalid_public_key";
  constructor(reason: string) {
    super(`secret connection: invalid remote public key: ${reason}`);
  }
}

/** The remote identifies with a well-formed key of a type other than ed25519. */
export class UnsupportedKeyTypeError extends WireError {
  readonly code = "unsupported_key_type";
  constructor(readonly keyType: string) {
    super(`secret connection: expected ed25519 pubkey, got ${keyType}`);
  }
}

/** The remote's signature over the challenge is not 64 bytes or does not verify. */
export class AuthSignatureError extends WireError {
  readonly code = "auth_signature_invalid";
  constructor(reason: string) {
    super(`secret connection: challenge verification failed: ${reason}`);
  }
}

/** A sealed frame failed authentication (wrong key, wrong nonce, or tampering). */
export class FrameDecryptError extends WireError {
  readonly code = "frame_decrypt_failed";
  constructor(options?: ErrorOptions) {
    super("secret connection: failed to decrypt frame", options);
  }
}

/** A decrypted frame announced more data than a frame holds. */
export class FrameLengthError extends WireError {
  readonly code = "frame_length_invalid";
  constructor(
    readonly chunkLength: number,
    readonly maxChunkLength: number,
  ) {
    super(`secret connection: frame chunk length ${chunkLength} exceeds ${maxChunkLength}`);
  }
}

/** A direction used all 2^64 nonces; the session must end rather than reuse one. */
export class NonceOverflowError extends WireError {
  readonly code = "nonce_overflow";
  constructor(readonly direction: "send" | "receive") {
    super(`secret connection: ${direction} nonce counter exhausted`);
  }
}
