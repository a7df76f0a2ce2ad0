/**
 * The NodeInfo exchange, right after the SecretConnection handshake: both
 * sides send their delimited NodeInfo at once through the encrypted framing,
 * and each reads the other's with a 10240-byte body limit under a deadline of
 * its own. It runs as the last step of the handshake's state machine
 * (`secret-connection/handshake.ts`), on the raw socket's reads.
 */
import type { Duplex } from "node:stream";
import type { Ed25519PrivateKey } from "./crypto/ed25519.js";
import { MAX_NODE_INFO_SIZE_BYTES, type NodeInfo, decodeNodeInfo, encodeNodeInfoDelimited } from "./node-info.js";
import { type HandshakeHandle, startHandshake } from "./secret-connection/handshake.js";
import type { SecretConnection } from "./secret-connection/secret-connection.js";

/** The step's name in its deadline's error. */
const NODE_INFO_STEP = "NodeInfo exchange";

export interface HandshakeWithNodeInfoOptions {
  /** Deadline for the SecretConnection handshake. */
  readonly handshakeTimeoutMs: number;
  /** Deadline for the NodeInfo exchange, from the moment the remote is authenticated. */
  readonly nodeInfoTimeoutMs: number;
  /** Any of them aborting rejects with its reason. */
  readonly signals?: readonly (AbortSignal | undefined)[];
  /**
   * Called once the remote is authenticated, before our NodeInfo is sent;
   * throwing fails the handshake with that error and sends nothing (the
   * transport checks the dialed ID here).
   */
  readonly onAuthenticated?: (remoteNodeId: string) => void;
}

/**
 * The SecretConnection handshake and the NodeInfo exchange as one state
 * machine on `socket`'s reads (`runHandshake`): our NodeInfo is sealed and
 * written as soon as the remote is authenticated, and the remote's is read
 * from the decrypted frames; the SecretConnection is built only after it.
 * Resolves with the connection and the remote's NodeInfo, decoded but not
 * validated.
 *
 * `authenticatedId` is set once the remote is authenticated, so that a
 * caller can tell a failed handshake (still null) from a failed exchange.
 */
export class NodeInfoHandshake {
  readonly result: Promise<{ readonly conn: SecretConnection; readonly nodeInfo: NodeInfo }>;
  /** The remote's node ID once it is authenticated; null before. */
  authenticatedId: string | null = null;
  private readonly handle: HandshakeHandle;

  constructor(socket: Duplex, localKey: Ed25519PrivateKey, ours: NodeInfo, options: HandshakeWithNodeInfoOptions) {
    const onAuthenticated = options.onAuthenticated;
    this.handle = startHandshake(socket, localKey, {
      timeoutMs: options.handshakeTimeoutMs,
      ...(options.signals === undefined ? {} : { signals: options.signals }),
      firstMessage: {
        what: "NodeInfo",
        step: NODE_INFO_STEP,
        timeoutMs: options.nodeInfoTimeoutMs,
        maxBodyBytes: MAX_NODE_INFO_SIZE_BYTES,
        onAuthenticated: (_remotePublicKey, remoteNodeId) => {
          this.authenticatedId = remoteNodeId;
          onAuthenticated?.(remoteNodeId);
          return encodeNodeInfoDelimited(ours);
        },
      },
    });
    this.result = this.handle.result.then(({ conn, firstMessage }) => {
      try {
        return { conn, nodeInfo: decodeNodeInfo(firstMessage as Uint8Array) };
      } catch (err) {
        conn.destroy();
        throw err;
      }
    });
  }

  /** Fails the handshake with `reason`, unless it is over. */
  abort(reason: Error): void {
    this.handle.abort(reason);
  }
}
