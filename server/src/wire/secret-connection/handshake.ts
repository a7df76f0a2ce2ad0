/**
 * The SecretConnection (station-to-station) handshake of CometBFT v0.38, as a
 * function over an injected duplex (§1 of the protocol digest):
 *
 * 1. Both sides send `delimited(BytesValue{32-byte X25519 ephemeral key})` in
 *    plaintext, at once, and read the other's.
 * 2. Each derives the DH secret, the two AEAD keys (HKDF) and the challenge
 *    (Merlin transcript).
 * 3. Both send `delimited(AuthSigMessage)` through the encrypted framing (one
 *    frame, nonce 0), at once, and check the other's key and signature.
 *
 * On success the socket belongs to the returned {@link SecretConnection},
 * together with every byte that arrived behind the handshake messages. On
 * failure the promise rejects with a typed error and the socket is left as it
 * is: closing it is the caller's job (it also owns the socket's 'error'
 * listener from then on).
 */
import type { Duplex } from "node:stream";
import { AuthSigMessage, EphemeralKey } from "../../gen/switchboard/p2p/v1/conn.js";
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, verifyEd25519, type Ed25519PrivateKey } from "../crypto/ed25519.js";
import { DeadlineExceededError, DecodeError, MessageTooLargeError } from "../errors.js";
import { StreamReader } from "../stream-reader.js";
import { encodeDelimited, readUvarint } from "../varint.js";
import {
  AuthSignatureError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
} from "./errors.js";
import { FrameOpener, FrameSealer, SEALED_FRAME_BYTES } from "./frame.js";
import {
  computeChallenge,
  deriveSecrets,
  generateX25519KeyPair,
  sortEphemeralKeys,
  x25519SharedSecret,
  X25519_KEY_BYTES,
  type X25519KeyPair,
} from "./keys.js";
import { SecretConnection } from "./secret-connection.js";

/**
 * Deadline for the whole handshake, in milliseconds. CometBFT hard-codes 3 s
 * (`defaultHandshakeTimeout` in `p2p/transport.go`) whatever its config says.
 */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 3000;

/**
 * Largest ephemeral-key message body we accept. An honest peer sends exactly
 * 34 bytes; Go would read up to 1 MiB, but nothing larger can be valid, so we
 * refuse early instead of buffering.
 */
export const MAX_EPHEMERAL_KEY_MESSAGE_BYTES = 1024;

/** Largest AuthSigMessage body, on the decrypted stream (Go's delimited reader limit: 1 MiB). */
export const MAX_AUTH_SIG_MESSAGE_BYTES = 1024 * 1024;

const SECP256K1_PUBLIC_KEY_BYTES = 33;

export interface HandshakeOptions {
  /**
   * Deadline for the whole handshake; past it the handshake rejects with
   * {@link DeadlineExceededError}.
   * @default DEFAULT_HANDSHAKE_TIMEOUT_MS (3000)
   */
  readonly timeoutMs?: number;
  /** Aborting rejects the handshake with the signal's reason. */
  readonly signal?: AbortSignal;
  /**
   * Source of the ephemeral X25519 key pair. Only tests replace it (to
   * reproduce fixed vectors): a key pair must never be used twice.
   * @default generateX25519KeyPair
   */
  readonly generateEphemeralKey?: () => X25519KeyPair;
}

/**
 * Runs the handshake over `socket` with the node key `localKey` and resolves
 * with the authenticated connection. Rejects with one of the typed errors of
 * `./errors.ts` or `../errors.ts` (`DeadlineExceededError`,
 * `UnexpectedEofError`, `MessageTooLargeError`, `VarintOverflowError`,
 * `DecodeError`), a transport error of the socket, or the abort reason.
 *
 * It does not check who the remote is: compare `remoteNodeId` with the
 * expected ID yourself.
 */
export async function performHandshake(
  socket: Duplex,
  localKey: Ed25519PrivateKey,
  options: HandshakeOptions = {},
): Promise<SecretConnection> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);

  const deadline = new AbortController();
  const timer = setTimeout(() => {
    deadline.abort(new DeadlineExceededError("secret connection handshake", timeoutMs));
  }, timeoutMs);
  const external = options.signal;
  const onExternalAbort = (): void => {
    deadline.abort(external?.reason);
  };
  if (external?.aborted === true) onExternalAbort();
  else external?.addEventListener("abort", onExternalAbort, { once: true });

  const reader = new StreamReader(socket, { signal: deadline.signal });
  try {
    return await runHandshake(socket, reader, localKey, deadline.signal, options.generateEphemeralKey ?? generateX25519KeyPair);
  } finally {
    clearTimeout(timer);
    external?.removeEventListener("abort", onExternalAbort);
    reader.release(); // no-op after a successful hand-over
  }
}

async function runHandshake(
  socket: Duplex,
  reader: StreamReader,
  localKey: Ed25519PrivateKey,
  signal: AbortSignal,
  generateEphemeralKey: () => X25519KeyPair,
): Promise<SecretConnection> {
  // 1. Ephemeral keys, in plaintext, both ways at once.
  const ephemeral = generateEphemeralKey();
  const remoteEphemeral = await sendAndReceive(
    writeToSocket(socket, encodeEphemeralKeyMessage(ephemeral.publicKey), signal),
    readEphemeralKey(reader),
  );
  if (bytesEqual(remoteEphemeral, ephemeral.publicKey)) throw new ReflectedEphemeralKeyError();

  // 2. Key agreement.
  const { lo, hi, localIsLeast } = sortEphemeralKeys(ephemeral.publicKey, remoteEphemeral);
  const dhSecret = x25519SharedSecret(ephemeral.privateKey, remoteEphemeral);
  const { recvKey, sendKey } = deriveSecrets(dhSecret, localIsLeast);
  const challenge = computeChallenge(lo, hi, dhSecret);
  const sealer = new FrameSealer(sendKey);
  const opener = new FrameOpener(recvKey);

  // 3. Authentication, encrypted, both ways at once.
  const authSig = encodeAuthSigMessage(localKey.publicKey, localKey.sign(challenge));
  const received = await sendAndReceive(
    writeToSocket(socket, sealer.seal(authSig), signal),
    readSealedDelimited(reader, opener, MAX_AUTH_SIG_MESSAGE_BYTES, "AuthSigMessage"),
  );
  const remotePublicKey = checkAuthSigMessage(received.body, challenge);

  // Hand over: ciphertext pulled off the socket behind the AuthSig frame is
  // opened now (a bad frame fails the handshake rather than a half-built
  // connection); a trailing partial frame stays inside the opener.
  const trailing = opener.push(reader.release());
  return new SecretConnection({
    socket,
    sealer,
    opener,
    localPublicKey: localKey.publicKey,
    remotePublicKey,
    bufferedPlaintext: [received.rest, ...trailing],
  });
}

/** `delimited(BytesValue{value})`: 35 bytes on the wire for a 32-byte key. */
export function encodeEphemeralKeyMessage(publicKey: Uint8Array): Uint8Array {
  return encodeDelimited(EphemeralKey.encode({ value: publicKey }).finish());
}

/** `delimited(AuthSigMessage{pub_key: {ed25519}, sig})`: 103 bytes for ed25519. */
export function encodeAuthSigMessage(publicKey: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeDelimited(AuthSigMessage.encode({ pubKey: { sum: { $case: "ed25519", value: publicKey } }, sig: signature }).finish());
}

async function readEphemeralKey(reader: StreamReader): Promise<Uint8Array> {
  const what = "ephemeral key message";
  const body = await reader.readDelimited(MAX_EPHEMERAL_KEY_MESSAGE_BYTES, what);
  let message: EphemeralKey;
  try {
    message = EphemeralKey.decode(body);
  } catch (cause) {
    throw new DecodeError(what, errorMessage(cause), { cause });
  }
  if (message.value.length !== X25519_KEY_BYTES) throw new InvalidEphemeralKeyError(message.value.length);
  return Uint8Array.from(message.value);
}

/**
 * Validates the remote's AuthSigMessage in CometBFT's order (decode, key
 * conversion, key type, signature) and returns its ed25519 public key.
 */
export function checkAuthSigMessage(body: Uint8Array, challenge: Uint8Array): Uint8Array {
  let message: AuthSigMessage;
  try {
    message = AuthSigMessage.decode(body);
  } catch (cause) {
    throw new DecodeError("AuthSigMessage", errorMessage(cause), { cause });
  }
  const key = message.pubKey?.sum;
  if (key === undefined) throw new InvalidPublicKeyError("no key set");
  if (key.$case === "secp256k1") {
    if (key.value.length !== SECP256K1_PUBLIC_KEY_BYTES) {
      throw new InvalidPublicKeyError(`secp256k1 key is ${key.value.length} bytes, expected ${SECP256K1_PUBLIC_KEY_BYTES}`);
    }
    throw new UnsupportedKeyTypeError("secp256k1");
  }
  if (key.value.length !== ED25519_PUBLIC_KEY_BYTES) {
    throw new InvalidPublicKeyError(`ed25519 key is ${key.value.length} bytes, expected ${ED25519_PUBLIC_KEY_BYTES}`);
  }
  if (message.sig.length !== ED25519_SIGNATURE_BYTES) {
    throw new AuthSignatureError(`signature is ${message.sig.length} bytes, expected ${ED25519_SIGNATURE_BYTES}`);
  }
  if (!verifyEd25519(key.value, challenge, message.sig)) throw new AuthSignatureError("signature does not verify");
  return Uint8Array.from(key.value);
}

/**
 * Reads one uvarint-delimited message from the decrypted stream, pulling one
 * sealed frame at a time off the raw reader (so no ciphertext past the message's
 * last frame is consumed). The length is checked before the body is allocated.
 * `rest` is the decrypted data of the last frame that follows the message.
 */
async function readSealedDelimited(
  reader: StreamReader,
  opener: FrameOpener,
  maxBodyBytes: number,
  what: string,
): Promise<{ body: Uint8Array; rest: Uint8Array }> {
  const nextChunk = async (): Promise<Uint8Array> => opener.openFrame(await reader.readExactly(SEALED_FRAME_BYTES, what));

  // The prefix: at most 10 bytes, possibly spread over several frames.
  let pending: Uint8Array = new Uint8Array(0);
  let prefix = readUvarint(pending, 0, what);
  while (!prefix.complete) {
    pending = concat(pending, await nextChunk());
    prefix = readUvarint(pending, 0, what);
  }
  if (prefix.value > maxBodyBytes) throw new MessageTooLargeError(what, prefix.value, maxBodyBytes);

  const body = new Uint8Array(prefix.value);
  let rest = pending.subarray(prefix.size);
  let filled = 0;
  for (;;) {
    const take = Math.min(body.length - filled, rest.length);
    body.set(rest.subarray(0, take), filled);
    filled += take;
    rest = rest.subarray(take);
    if (filled === body.length) return { body, rest };
    rest = await nextChunk();
  }
}

/**
 * Awaits a concurrent send and receive. A failed receive wins, since it says
 * why the peer went away; a failed send is reported once the receive is done.
 */
async function sendAndReceive<T>(send: Promise<void>, receive: Promise<T>): Promise<T> {
  const sendFailure = send.then(
    () => null,
    (err: unknown) => asError(err),
  );
  const value = await receive;
  const failure = await sendFailure;
  if (failure !== null) throw failure;
  return value;
}

function writeToSocket(socket: Duplex, bytes: Uint8Array, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) {
      reject(asError(signal.reason));
      return;
    }
    const onAbort = (): void => {
      reject(asError(signal.reason));
    };
    signal.addEventListener("abort", onAbort, { once: true });
    socket.write(bytes, (err) => {
      signal.removeEventListener("abort", onAbort);
      if (err) reject(err);
      else resolve();
    });
  });
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`secret connection handshake aborted: ${String(reason)}`, { cause: reason });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
