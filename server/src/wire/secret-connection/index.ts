/** CometBFT v0.38 SecretConnection: the STS handshake and the encrypted framing. */
export {
  AuthSignatureError,
  FrameDecryptError,
  FrameLengthError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  LowOrderPointError,
  NonceOverflowError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
} from "./errors.js";
export {
  AEAD_KEY_BYTES,
  AEAD_NONCE_BYTES,
  AEAD_TAG_BYTES,
  FRAME_DATA_MAX_BYTES,
  FRAME_LENGTH_PREFIX_BYTES,
  FRAME_PLAINTEXT_BYTES,
  FrameOpener,
  FrameSealer,
  SEALED_FRAME_BYTES,
  sealedLength,
  type FrameCodecOptions,
} from "./frame.js";
export {
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  MAX_AUTH_SIG_MESSAGE_BYTES,
  MAX_EPHEMERAL_KEY_MESSAGE_BYTES,
  checkAuthSigMessage,
  encodeAuthSigMessage,
  encodeEphemeralKeyMessage,
  performHandshake,
  type HandshakeOptions,
} from "./handshake.js";
export {
  CHALLENGE_BYTES,
  X25519_KEY_BYTES,
  compareBytes,
  computeChallenge,
  deriveSecrets,
  generateX25519KeyPair,
  sortEphemeralKeys,
  x25519KeyPairFromPrivateKey,
  x25519SharedSecret,
  type SessionKeys,
  type SortedEphemeralKeys,
  type X25519KeyPair,
} from "./keys.js";
export { SecretConnection, type SecretConnectionInit } from "./secret-connection.js";
