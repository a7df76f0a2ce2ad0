/**
 * SecretConnection: the authenticated, encrypted byte stream that wraps a raw
 * socket once the STS handshake succeeded. Build one with `performHandshake`.
 *
 * Writes: the bytes of any number of writes are cut into frames of at most
 * 1024 data bytes; all writes waiting in the writable buffer are sealed
 * together into one socket write (`_writev`). A write's callback fires only
 * once the socket has flushed the sealed bytes, so while one socket write is in
 * flight further writes queue up here (bounded by `writableHighWaterMark`
 * through the usual `write()` → false / `'drain'` contract) and then leave as
 * one batch: many small writes become few frames and few socket writes.
 *
 * Reads: ciphertext from the socket is opened frame by frame and the data is
 * pushed as a plain byte stream; frame boundaries mean nothing. When the
 * consumer stops reading, the socket is paused.
 *
 * A frame that fails authentication or announces an impossible length
 * destroys the connection with {@link FrameDecryptError} /
 * {@link FrameLengthError}; a socket that ends inside a frame destroys it with
 * {@link UnexpectedEofError}. Ending the connection ends the socket; destroying
 * it destroys the socket, and the socket's end, close and errors reach the
 * connection.
 */
import { Duplex } from "node:stream";
import { nodeIdFromPublicKey } from "../crypto/ed25519.js";
import { UnexpectedEofError } from "../errors.js";
import type { FrameOpener, FrameSealer } from "./frame.js";

/** What the handshake hands to the connection. */
export interface SecretConnectionInit {
  /** The raw transport, already past the handshake. The connection owns it from now on. */
  readonly socket: Duplex;
  /** Seals with the send key; its nonce counter continues after the handshake's frames. */
  readonly sealer: FrameSealer;
  /** Opens with the receive key; may already hold a partial frame. */
  readonly opener: FrameOpener;
  readonly localPublicKey: Uint8Array;
  /** The remote's verified ed25519 public key. */
  readonly remotePublicKey: Uint8Array;
  /** Decrypted bytes that arrived together with the handshake; they come first on the stream. */
  readonly bufferedPlaintext?: readonly Uint8Array[];
}

export class SecretConnection extends Duplex {
  /** The remote's authenticated raw ed25519 public key (32 bytes). */
  readonly remotePublicKey: Uint8Array;
  /** The remote's node ID, derived from {@link remotePublicKey}. */
  readonly remoteNodeId: string;
  /** Our own ed25519 public key (32 bytes). */
  readonly localPublicKey: Uint8Array;

  private readonly socket: Duplex;
  private readonly sealer: FrameSealer;
  private readonly opener: FrameOpener;
  private socketPausedByUs = false;
  private socketEnded = false;

  constructor(init: SecretConnectionInit) {
    super({ allowHalfOpen: init.socket.allowHalfOpen });
    this.socket = init.socket;
    this.sealer = init.sealer;
    this.opener = init.opener;
    this.localPublicKey = init.localPublicKey;
    this.remotePublicKey = init.remotePublicKey;
    this.remoteNodeId = nodeIdFromPublicKey(init.remotePublicKey);

    this.pushChunks(init.bufferedPlaintext ?? []);
    this.socket.on("data", this.onSocketData);
    this.socket.on("end", this.onSocketEnd);
    this.socket.on("close", this.onSocketClose);
    this.socket.on("error", this.onSocketError);
    if (!this.socketPausedByUs) this.socket.resume();
    // A peer that sent its last bytes and FIN in one burst may have ended the
    // socket while the handshake still held it; those events will not repeat.
    // Deferred, so that the caller can attach its listeners first.
    if (this.socket.readableEnded) process.nextTick(this.onSocketEnd);
    if (this.socket.closed) process.nextTick(this.onSocketClose);
  }

  override _read(): void {
    if (this.socketPausedByUs) {
      this.socketPausedByUs = false;
      this.socket.resume();
    }
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.sendChunks([chunk], callback);
  }

  override _writev(chunks: { chunk: Buffer; encoding: BufferEncoding }[], callback: (error?: Error | null) => void): void {
    this.sendChunks(
      chunks.map((c) => c.chunk),
      callback,
    );
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.socket.writableEnded) this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // The error listener stays: the socket may still report errors while it
    // closes, and with no listener Node would throw them.
    this.socket.off("data", this.onSocketData);
    this.socket.off("end", this.onSocketEnd);
    this.socket.off("close", this.onSocketClose);
    this.socket.destroy();
    callback(error);
  }

  private sendChunks(chunks: readonly Uint8Array[], callback: (error?: Error | null) => void): void {
    let sealed: Buffer;
    try {
      sealed = this.sealer.sealChunks(chunks);
    } catch (err) {
      callback(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // A zero-length write sends nothing (CometBFT never emits an empty frame).
    if (sealed.length === 0) {
      callback();
      return;
    }
    this.socket.write(sealed, (err) => {
      callback(err ?? null);
    });
  }

  private pushChunks(chunks: readonly Uint8Array[]): void {
    for (const chunk of chunks) {
      if (chunk.length === 0) continue;
      // Chunks already opened are pushed even past the high-water mark (at
      // most one socket read's worth); then the socket waits for _read.
      if (!this.push(chunk)) this.socketPausedByUs = true;
    }
    if (this.socketPausedByUs) this.socket.pause();
  }

  private readonly onSocketData = (data: Buffer): void => {
    if (this.destroyed) return;
    let chunks: Buffer[];
    try {
      chunks = this.opener.push(data);
    } catch (err) {
      this.destroy(err instanceof Error ? err : new Error(String(err)));
      return;
    }
    // The opener returns a read's frames as one chunk: one push per socket read, fewer events downstream.
    this.pushChunks(chunks);
  };

  private readonly onSocketEnd = (): void => {
    if (this.socketEnded || this.destroyed) return;
    this.socketEnded = true;
    if (this.opener.bufferedBytes > 0) {
      this.destroy(new UnexpectedEofError("secret connection frame"));
      return;
    }
    this.push(null);
  };

  private readonly onSocketClose = (): void => {
    if (this.destroyed) return;
    if (!this.socketEnded) {
      // Closed without an end: the transport was torn down under us.
      this.destroy();
      return;
    }
    // The remote finished cleanly; let the consumer drain what is buffered first.
    if (this.readableEnded) this.destroy();
    else this.once("end", () => this.destroy());
  };

  private readonly onSocketError = (err: Error): void => {
    this.destroy(err);
  };
}
