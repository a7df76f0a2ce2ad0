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
import { ED25519_PUBLIC_KEY_BYTES, ED25519_SIGNATURE_BYTES, nodeIdFromPublicKey, verifyEd25519, type Ed25519PrivateKey } from "../crypto/ed25519.js";
import { type Deadline, sharedDeadlines } from "../deadlines.js";
import { DeadlineExceededError, DecodeError, MessageTooLargeError, UnexpectedEofError } from "../errors.js";
import { MAX_VARINT_BYTES, encodeDelimited, readUvarint } from "../varint.js";
import {
  AuthSignatureError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
} from "./errors.js";
import { FrameOpener, FrameSealer } from "./frame.js";
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
 * A first message exchanged on the encrypted stream right after the
 * authentication, inside the same state machine (the NodeInfo exchange:
 * `../node-info-exchange.ts`). Both sides send theirs at once; each reads the
 * other's, one uvarint-delimited message, under a deadline of its own that
 * starts once the authentication is done.
 */
export interface FirstMessageExchange {
  /** Names the message in errors ("NodeInfo"). */
  readonly what: string;
  /** Names the step in the deadline's error ("NodeInfo exchange"). */
  readonly step: string;
  readonly timeoutMs: number;
  /** Largest body accepted; checked at the length prefix. */
  readonly maxBodyBytes: number;
  /**
   * Called once the remote is authenticated, before anything is sent; returns
   * our message, delimited. Throwing fails the handshake with that error
   * (e.g. the remote is not the peer we dialed): nothing is sent then.
   */
  readonly onAuthenticated: (remotePublicKey: Uint8Array, remoteNodeId: string) => Uint8Array;
}

/** What {@link runHandshake} resolves with. */
export interface HandshakeResult {
  readonly conn: SecretConnection;
  /** The remote's first message (its body), when a {@link FirstMessageExchange} was asked for. */
  readonly firstMessage: Uint8Array | null;
}

/** Options of {@link runHandshake}. */
export interface RunHandshakeOptions {
  /** Deadline for the SecretConnection handshake, until the remote is authenticated. */
  readonly timeoutMs: number;
  /** Any of them aborting rejects the handshake with its reason (one listener each, no combined signal). */
  readonly signals?: readonly (AbortSignal | undefined)[];
  readonly generateEphemeralKey?: () => X25519KeyPair;
  readonly firstMessage?: FirstMessageExchange;
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
  const result = await runHandshake(socket, localKey, {
    timeoutMs,
    signals: [options.signal],
    ...(options.generateEphemeralKey === undefined ? {} : { generateEphemeralKey: options.generateEphemeralKey }),
  });
  return result.conn;
}

/**
 * The handshake as one state machine on the raw socket's reads (see
 * {@link HandshakeMachine}), optionally followed by a first message on the
 * encrypted stream. Failures as for {@link performHandshake}; the socket is
 * left as it is, paused, with no listener of ours.
 */
export function runHandshake(socket: Duplex, localKey: Ed25519PrivateKey, options: RunHandshakeOptions): Promise<HandshakeResult> {
  return startHandshake(socket, localKey, options).result;
}

/** A handshake in progress: its result, and a way to abort it without an AbortSignal. */
export interface HandshakeHandle {
  readonly result: Promise<HandshakeResult>;
  /** Fails the handshake with `reason` (nothing happens once it is over). */
  abort(reason: Error): void;
}

/** {@link runHandshake}, returning a {@link HandshakeHandle}. */
export function startHandshake(socket: Duplex, localKey: Ed25519PrivateKey, options: RunHandshakeOptions): HandshakeHandle {
  const { timeoutMs } = options;
  const first = options.firstMessage;
  let invalid: RangeError | null = null;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) invalid = new RangeError(`timeoutMs must be a positive number, got ${timeoutMs}`);
  else if (first !== undefined && (!Number.isFinite(first.timeoutMs) || first.timeoutMs <= 0)) {
    invalid = new RangeError(`${first.step} timeoutMs must be a positive number, got ${first.timeoutMs}`);
  }
  if (invalid !== null) return { result: Promise.reject(invalid), abort: () => undefined };
  return new HandshakeMachine(socket, localKey, options);
}

/** Where a {@link HandshakeMachine} is. */
type HandshakeState =
  /** Waiting for the remote's plaintext ephemeral key message. */
  | "ephemeral"
  /** Waiting for the remote's sealed AuthSigMessage. */
  | "auth"
  /** Authenticated; waiting for the remote's first message. */
  | "first-message"
  | "done"
  | "failed";

/**
 * One handshake, driven by the socket's `'data'` events: each read is
 * consumed at once, as far as it goes, and each protocol step is one socket
 * write (our ephemeral key at the start; our AuthSig once the remote's key is
 * in; our first message once the remote is authenticated). No stream wrapper,
 * no promise per read, no abort controller: one promise for the result and
 * deadlines on the shared timer (`../deadlines.ts`).
 *
 * Buffering is bounded as the protocol's limits say: the ephemeral message is
 * refused past {@link MAX_EPHEMERAL_KEY_MESSAGE_BYTES} at its prefix, the
 * AuthSig and first message past their limits at their prefixes; a read that
 * fails is the last one (the socket is paused).
 *
 * On success the socket goes, paused, to a new {@link SecretConnection} with
 * every decrypted byte that came behind the handshake's messages.
 */
class HandshakeMachine implements HandshakeHandle {
  readonly result: Promise<HandshakeResult>;
  private state: HandshakeState = "ephemeral";
  private resolve!: (result: HandshakeResult) => void;
  private reject!: (err: Error) => void;
  private deadline: Deadline | null = null;
  private readonly abortSignals: readonly AbortSignal[];

  private readonly ephemeral: X25519KeyPair | null;
  /** The message being read: the ephemeral key (plaintext), then the AuthSig and the first message (decrypted). */
  private message: DelimitedMessage;
  private sealer: FrameSealer | null = null;
  private opener: FrameOpener | null = null;
  private challenge: Uint8Array | null = null;
  private remotePublicKey: Uint8Array | null = null;
  private firstMessage: Uint8Array | null = null;

  constructor(
    private readonly socket: Duplex,
    private readonly localKey: Ed25519PrivateKey,
    private readonly options: RunHandshakeOptions,
  ) {
    this.result = new Promise<HandshakeResult>((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
    this.abortSignals = (options.signals ?? []).filter((s): s is AbortSignal => s !== undefined);
    this.message = new DelimitedMessage(MAX_EPHEMERAL_KEY_MESSAGE_BYTES, "ephemeral key message");
    for (const signal of this.abortSignals) {
      if (signal.aborted) {
        this.state = "failed";
        this.ephemeral = null;
        this.reject(asError(signal.reason));
        return;
      }
    }
    this.ephemeral = (options.generateEphemeralKey ?? generateX25519KeyPair)();
    for (const signal of this.abortSignals) signal.addEventListener("abort", this.onAbort);
    this.deadline = sharedDeadlines.add(options.timeoutMs, this.onDeadline);
    socket.on("data", this.onData);
    socket.on("end", this.onEnd);
    socket.on("close", this.onEnd);
    socket.on("error", this.fail);
    // 1. Ephemeral keys, in plaintext, both ways at once: ours goes out now.
    this.write(encodeEphemeralKeyMessage(this.ephemeral.publicKey));
    if (this.state !== "failed") {
      if (socket.destroyed || socket.readableEnded) this.onEnd();
      else socket.resume();
    }
  }

  private readonly onData = (chunk: Buffer | string): void => {
    if (this.state === "done" || this.state === "failed") return;
    try {
      this.consume(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : chunk);
    } catch (err) {
      this.fail(asError(err));
    }
  };

  private consume(chunk: Uint8Array): void {
    if (this.state === "ephemeral") {
      const used = this.message.push(chunk);
      if (used < 0) return;
      this.onEphemeralKey(this.message.body());
      chunk = chunk.subarray(used);
      if (chunk.length === 0) return;
    }
    // From here on the stream is sealed frames: open what arrived (a read's frames come out as one
    // chunk), then read the messages from the plaintext.
    const plaintext = (this.opener as FrameOpener).push(chunk);
    for (let i = 0; i < plaintext.length; i++) {
      const rest = this.consumePlaintext(plaintext[i] as Uint8Array);
      if (this.state === "done") {
        this.handOver(rest === null ? plaintext.slice(i + 1) : [rest, ...plaintext.slice(i + 1)]);
        return;
      }
    }
  }

  /** Reads the AuthSig and the first message from `part`; once done, returns what follows them in it. */
  private consumePlaintext(part: Uint8Array): Uint8Array | null {
    if (this.state === "auth") {
      const used = this.message.push(part);
      if (used < 0) return null;
      part = part.subarray(used);
      if (this.onAuthSig(this.message.body())) return part;
    }
    if (this.state === "first-message" && part.length > 0) {
      const used = this.message.push(part);
      if (used < 0) return null;
      this.firstMessage = this.message.body();
      this.state = "done";
      return part.subarray(used);
    }
    return null;
  }

  private onEphemeralKey(body: Uint8Array): void {
    const remoteEphemeral = decodeEphemeralKey(body);
    const ephemeral = this.ephemeral as X25519KeyPair;
    if (bytesEqual(remoteEphemeral, ephemeral.publicKey)) throw new ReflectedEphemeralKeyError();
    // 2. Key agreement.
    const { lo, hi, localIsLeast } = sortEphemeralKeys(ephemeral.publicKey, remoteEphemeral);
    const dhSecret = x25519SharedSecret(ephemeral.privateKey, remoteEphemeral);
    const { recvKey, sendKey } = deriveSecrets(dhSecret, localIsLeast);
    const challenge = computeChallenge(lo, hi, dhSecret);
    this.challenge = challenge;
    this.sealer = new FrameSealer(sendKey);
    this.opener = new FrameOpener(recvKey);
    // 3. Authentication, encrypted, both ways at once.
    this.state = "auth";
    this.message = new DelimitedMessage(MAX_AUTH_SIG_MESSAGE_BYTES, "AuthSigMessage");
    this.write(this.sealer.seal(encodeAuthSigMessage(this.localKey.publicKey, this.localKey.sign(challenge))));
  }

  /** Checks the remote's AuthSig; true when that completes the handshake (no first message to exchange). */
  private onAuthSig(body: Uint8Array): boolean {
    const remotePublicKey = checkAuthSigMessage(body, this.challenge as Uint8Array);
    this.remotePublicKey = remotePublicKey;
    const first = this.options.firstMessage;
    if (first === undefined) {
      this.state = "done";
      return true;
    }
    // Authenticated: the handshake's deadline is met; the first message has its own.
    (this.deadline as Deadline).cancel();
    const ours = first.onAuthenticated(remotePublicKey, nodeIdFromPublicKey(remotePublicKey));
    this.state = "first-message";
    this.message = new DelimitedMessage(first.maxBodyBytes, first.what);
    this.deadline = sharedDeadlines.add(first.timeoutMs, this.onDeadline);
    this.write((this.sealer as FrameSealer).seal(ours));
    return false;
  }

  /**
   * Done: the socket goes to the SecretConnection with the plaintext behind
   * the last message (`rest`). Ciphertext of later frames was opened in the
   * same read, so a bad frame there has already failed the handshake.
   */
  private handOver(rest: readonly Uint8Array[]): void {
    this.detach();
    const conn = new SecretConnection({
      socket: this.socket,
      sealer: this.sealer as FrameSealer,
      opener: this.opener as FrameOpener,
      localPublicKey: this.localKey.publicKey,
      remotePublicKey: this.remotePublicKey as Uint8Array,
      bufferedPlaintext: rest,
    });
    this.resolve({ conn, firstMessage: this.firstMessage });
  }

  private write(bytes: Uint8Array): void {
    this.socket.write(bytes, this.onWritten);
  }

  private readonly onWritten = (err?: Error | null): void => {
    if (err) this.fail(err);
  };

  private readonly onEnd = (): void => {
    this.fail(new UnexpectedEofError(this.message.what));
  };

  private readonly onDeadline = (): void => {
    this.deadline = null;
    const first = this.options.firstMessage;
    if (this.state === "first-message" && first !== undefined) this.fail(new DeadlineExceededError(first.step, first.timeoutMs));
    else this.fail(new DeadlineExceededError("secret connection handshake", this.options.timeoutMs));
  };

  private readonly onAbort = (event: Event): void => {
    this.fail(asError((event.target as AbortSignal).reason));
  };

  abort(reason: Error): void {
    this.fail(reason);
  }

  private readonly fail = (err: Error): void => {
    if (this.state === "done" || this.state === "failed") return;
    this.state = "failed";
    this.detach();
    this.reject(err);
  };

  /** Leaves the socket paused, with none of our listeners, and drops the deadline and the signals' listeners. */
  private detach(): void {
    this.deadline?.cancel();
    this.deadline = null;
    for (const signal of this.abortSignals) signal.removeEventListener("abort", this.onAbort);
    const socket = this.socket;
    socket.pause();
    socket.off("data", this.onData);
    socket.off("end", this.onEnd);
    socket.off("close", this.onEnd);
    socket.off("error", this.fail);
  }
}

/**
 * One uvarint-delimited message read from chunks of any size. The length is
 * checked against the limit as soon as the prefix is complete, before the
 * body is allocated.
 */
class DelimitedMessage {
  private readonly prefix = new Uint8Array(MAX_VARINT_BYTES);
  private prefixBytes = 0;
  private buffer: Uint8Array | null = null;
  private filled = 0;

  constructor(
    private readonly maxBodyBytes: number,
    readonly what: string,
  ) {}

  /** Takes bytes of `chunk`; returns how many once the message is complete, -1 while it is not (all taken). */
  push(chunk: Uint8Array): number {
    let at = 0;
    if (this.buffer === null) {
      while (at < chunk.length) {
        this.prefix[this.prefixBytes++] = chunk[at++] as number;
        const read = readUvarint(this.prefix.subarray(0, this.prefixBytes), 0, this.what);
        if (!read.complete) continue;
        if (read.value > this.maxBodyBytes) throw new MessageTooLargeError(this.what, read.value, this.maxBodyBytes);
        this.buffer = new Uint8Array(read.value);
        break;
      }
      if (this.buffer === null) return -1;
    }
    const take = Math.min(this.buffer.length - this.filled, chunk.length - at);
    this.buffer.set(chunk.subarray(at, at + take), this.filled);
    this.filled += take;
    return this.filled === this.buffer.length ? at + take : -1;
  }

  /** The complete body. */
  body(): Uint8Array {
    return this.buffer as Uint8Array;
  }
}

/** `delimited(BytesValue{value})`: 35 bytes on the wire for a 32-byte key. */
export function encodeEphemeralKeyMessage(publicKey: Uint8Array): Uint8Array {
  return encodeDelimited(EphemeralKey.encode({ value: publicKey }).finish());
}

/** `delimited(AuthSigMessage{pub_key: {ed25519}, sig})`: 103 bytes for ed25519. */
export function encodeAuthSigMessage(publicKey: Uint8Array, signature: Uint8Array): Uint8Array {
  return encodeDelimited(AuthSigMessage.encode({ pubKey: { sum: { $case: "ed25519", value: publicKey } }, sig: signature }).finish());
}

function decodeEphemeralKey(body: Uint8Array): Uint8Array {
  let message: EphemeralKey;
  try {
    message = EphemeralKey.decode(body);
  } catch (cause) {
    throw new DecodeError("ephemeral key message", errorMessage(cause), { cause });
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

function asError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(`secret connection handshake aborted: ${String(reason)}`, { cause: reason });
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
