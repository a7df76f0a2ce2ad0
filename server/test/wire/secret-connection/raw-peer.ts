/**
 * A scripted peer that speaks the SecretConnection protocol step by step on a
 * raw socket, so that tests can make it lie at any step.
 */
import type { Duplex } from "node:stream";
import { AuthSigMessage, EphemeralKey } from "../../../src/gen/switchboard/p2p/v1/conn.js";
import type { PublicKey } from "../../../src/gen/switchboard/crypto/v1/keys.js";
import { generateEd25519Key, type Ed25519PrivateKey } from "../../../src/wire/crypto/ed25519.js";
import {
  computeChallenge,
  deriveSecrets,
  generateX25519KeyPair,
  sortEphemeralKeys,
  x25519SharedSecret,
  type X25519KeyPair,
} from "../../../src/wire/secret-connection/keys.js";
import { StreamReader } from "../../../src/wire/stream-reader.js";
import { encodeDelimited } from "../../../src/wire/varint.js";
import { openRawFrame, plainFrame, sealRawFrame } from "./support.js";

export interface RawSession {
  readonly sendKey: Uint8Array;
  readonly recvKey: Uint8Array;
  readonly challenge: Uint8Array;
}

export class RawPeer {
  readonly reader: StreamReader;
  readonly ephemeral: X25519KeyPair;
  readonly identity: Ed25519PrivateKey;
  remoteEphemeral: Uint8Array | null = null;
  private sessionKeys: RawSession | null = null;
  private sendCounter = 0n;
  private recvCounter = 0n;

  constructor(
    readonly socket: Duplex,
    options: { ephemeral?: X25519KeyPair; identity?: Ed25519PrivateKey } = {},
  ) {
    this.reader = new StreamReader(socket);
    this.ephemeral = options.ephemeral ?? generateX25519KeyPair();
    this.identity = options.identity ?? generateEd25519Key();
  }

  get session(): RawSession {
    if (this.sessionKeys === null) throw new Error("RawPeer: no session yet");
    return this.sessionKeys;
  }

  /** Writes and waits for the socket to take the bytes. */
  write(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) => {
      this.socket.write(bytes, (err) => {
        if (err) reject(err);
        else resolve();
      });
    });
  }

  /** `delimited(BytesValue{value})` with any value. */
  ephemeralMessage(value: Uint8Array = this.ephemeral.publicKey): Uint8Array {
    return encodeDelimited(EphemeralKey.encode({ value }).finish());
  }

  async readEphemeral(): Promise<Uint8Array> {
    const body = await this.reader.readDelimited(1024, "raw peer: ephemeral key");
    this.remoteEphemeral = EphemeralKey.decode(body).value;
    return this.remoteEphemeral;
  }

  /** Derives keys and challenge from the remote's ephemeral key (read first) and ours. */
  deriveSession(): RawSession {
    if (this.remoteEphemeral === null) throw new Error("RawPeer: read the remote ephemeral key first");
    const { lo, hi, localIsLeast } = sortEphemeralKeys(this.ephemeral.publicKey, this.remoteEphemeral);
    const dh = x25519SharedSecret(this.ephemeral.privateKey, this.remoteEphemeral);
    const { sendKey, recvKey } = deriveSecrets(dh, localIsLeast);
    this.sessionKeys = { sendKey, recvKey, challenge: computeChallenge(lo, hi, dh) };
    return this.sessionKeys;
  }

  /** Reads the remote's ephemeral key, sends ours and derives the session: the honest first half. */
  async exchangeEphemeral(): Promise<RawSession> {
    await Promise.all([this.write(this.ephemeralMessage()), this.readEphemeral()]);
    return this.deriveSession();
  }

  /** `delimited(AuthSigMessage)`, honest unless overridden. */
  authSig(override: { pubKey?: PublicKey | undefined; sig?: Uint8Array } = {}): Uint8Array {
    const honest: AuthSigMessage = {
      pubKey: { sum: { $case: "ed25519", value: this.identity.publicKey } },
      sig: this.identity.sign(this.session.challenge),
    };
    return encodeDelimited(AuthSigMessage.encode({ ...honest, ...override }).finish());
  }

  /** One sealed frame with any plaintext frame (1028 bytes), with the next send nonce. */
  sealFrame(plaintextFrame: Uint8Array, key: Uint8Array = this.session.sendKey): Buffer {
    return sealRawFrame(key, this.sendCounter++, plaintextFrame);
  }

  /** `data` cut into honest frames (an empty input gives one frame with chunkLength 0). */
  seal(data: Uint8Array): Buffer {
    const frames: Buffer[] = [];
    let pos = 0;
    do {
      const chunk = data.subarray(pos, pos + 1024);
      frames.push(this.sealFrame(plainFrame(chunk.length, chunk)));
      pos += 1024;
    } while (pos < data.length);
    return Buffer.concat(frames);
  }

  /** Reads one sealed frame of the remote and returns its data. */
  async readFrame(): Promise<Uint8Array> {
    const frame = openRawFrame(this.session.recvKey, this.recvCounter++, await this.reader.readExactly(1044, "raw peer: frame"));
    return frame.subarray(4, 4 + frame.readUInt32LE(0));
  }
}
