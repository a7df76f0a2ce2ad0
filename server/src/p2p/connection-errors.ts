/**
 * Closed sets of codes for what goes wrong with connections, so that metrics
 * can count failures by cause with a bounded label set (an error's message
 * never becomes a label):
 *
 * - {@link ConnectionErrorCode}: a socket that never became a peer (refused
 *   before its handshake, failed its dial or handshake, or refused by the
 *   Switch after it);
 * - {@link PeerErrorCode}: an established peer dropped for an error.
 *
 * Anything not recognised is `other`.
 */
import { DecodeError, DeadlineExceededError, MessageTooLargeError, UnexpectedEofError, VarintOverflowError, WireError } from "../wire/errors.js";
import { MConnectionError, ReadError } from "../wire/mconnection/errors.js";
import {
  AuthSignatureError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  LowOrderPointError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
} from "../wire/secret-connection/errors.js";
import { type IncompatibilityKind, NodeInfoIncompatibleError } from "../wire/node-info.js";
import { ConnectionRejectedError, DialError } from "./errors.js";
import { ReactorReceiveError } from "./peer.js";

/** Why a connection did not become a peer. */
export const CONNECTION_ERROR_CODES = [
  // Inbound, refused before the handshake (the accept filter).
  "rate_limited",
  "duplicate_ip",
  "too_many_handshakes",
  "filtered",
  // Inbound, its handshake slot taken for a newcomer (handshake-slots.ts).
  "handshake_evicted",
  // Outbound: no TCP connection.
  "dial_failed",
  // The SecretConnection handshake and the NodeInfo exchange.
  "handshake_timeout",
  "eof",
  "invalid_key",
  "auth_signature_invalid",
  "message_too_large",
  "decode_error",
  "handshake_failed",
  // Checks after the handshake.
  "wrong_id",
  "node_info_invalid",
  "self",
  "incompatible",
  // The Switch, adding the peer.
  "duplicate_peer",
  "inbound_limit",
  "peer_start_failed",
  "switch_stopping",
  "other",
] as const;
export type ConnectionErrorCode = (typeof CONNECTION_ERROR_CODES)[number];

/** Why an established peer was dropped. */
export const PEER_ERROR_CODES = [
  // The MConnection (one per MConnectionError class).
  "unknown_channel",
  "message_over_capacity",
  "packet_too_large",
  "empty_packet",
  "packet_decode_error",
  "pong_timeout",
  "write_error",
  "read_error",
  "connection_closed",
  "receive_handler_error",
  // The SecretConnection under it (the cause of a read error).
  "frame_decrypt_failed",
  "frame_length_invalid",
  "nonce_overflow",
  "unexpected_eof",
  // Reactors: one failed on a message, or asked to stop the peer (StopPeerForError, the gateway's StopPeer).
  "reactor_receive_failed",
  "stopped_by_reactor",
  "other",
] as const;
export type PeerErrorCode = (typeof PEER_ERROR_CODES)[number];

export type ConnectionDirection = "inbound" | "outbound";

const PEER_CODES: ReadonlySet<string> = new Set(PEER_ERROR_CODES);
const SECRET_CONNECTION_READ_CODES: ReadonlySet<string> = new Set(["frame_decrypt_failed", "frame_length_invalid", "nonce_overflow", "unexpected_eof"]);

/** The causes of `err` (its `cause`, that one's cause...), nearest first; at most 8. */
function* causes(err: Error): Generator {
  let e: unknown = err.cause;
  for (let i = 0; i < 8 && e !== undefined; i++) {
    yield e;
    e = e instanceof Error ? e.cause : undefined;
  }
}

/** The code of a wire-level handshake failure, or null for anything else. */
function handshakeCode(err: unknown): ConnectionErrorCode | null {
  if (err instanceof DeadlineExceededError) return "handshake_timeout";
  if (err instanceof UnexpectedEofError) return "eof";
  if (err instanceof AuthSignatureError) return "auth_signature_invalid";
  if (
    err instanceof InvalidEphemeralKeyError ||
    err instanceof ReflectedEphemeralKeyError ||
    err instanceof LowOrderPointError ||
    err instanceof InvalidPublicKeyError ||
    err instanceof UnsupportedKeyTypeError
  ) {
    return "invalid_key";
  }
  if (err instanceof MessageTooLargeError) return "message_too_large";
  if (err instanceof DecodeError || err instanceof VarintOverflowError) return "decode_error";
  return null;
}

/** Classifies an error of the Transport (a refused inbound socket, a failed dial or upgrade). */
export function connectionErrorCode(err: unknown): ConnectionErrorCode {
  if (err instanceof DialError) return "dial_failed";
  if (!(err instanceof ConnectionRejectedError)) return handshakeCode(err) ?? "other";
  switch (err.reason) {
    case "rate_limited":
    case "duplicate_ip":
    case "too_many_handshakes":
    case "handshake_evicted":
    case "filtered":
    case "node_info_invalid":
    case "self":
    case "incompatible":
      return err.reason;
    case "timeout":
      return "handshake_timeout";
    case "handshake_failed":
    case "auth_failure":
      for (const cause of causes(err)) {
        const code = handshakeCode(cause);
        if (code !== null) return code;
      }
      // The transport's own ID checks (dialed ID, NodeInfo ID) carry no cause.
      return err.reason === "auth_failure" && err.cause === undefined ? "wrong_id" : "handshake_failed";
  }
}

/**
 * Why a connection did not become a peer, for log lines: its
 * {@link ConnectionErrorCode}, with `incompatible` told apart by what differs
 * (`wrong_network`, `wrong_block_version`, `no_common_channel`).
 */
export type RejectionReason = ConnectionErrorCode | IncompatibilityKind;

/** The {@link RejectionReason} of an error of the Transport. */
export function rejectionReason(err: unknown): RejectionReason {
  const code = connectionErrorCode(err);
  if (code !== "incompatible") return code;
  if (err instanceof Error) {
    for (const cause of causes(err)) {
      if (cause instanceof NodeInfoIncompatibleError) return cause.kind;
    }
  }
  return code;
}

/** Classifies the error that dropped an established peer (from its MConnection or its delivery to reactors). */
export function peerErrorCode(err: unknown): PeerErrorCode {
  if (err instanceof ReadError) {
    for (const cause of causes(err)) {
      if (cause instanceof WireError && SECRET_CONNECTION_READ_CODES.has(cause.code)) return cause.code as PeerErrorCode;
    }
    return "read_error";
  }
  if (err instanceof ReactorReceiveError) return "reactor_receive_failed";
  if (err instanceof MConnectionError && PEER_CODES.has(err.code)) return err.code as PeerErrorCode;
  return "other";
}

/** Counts by code, with every code of the closed set present (0 until it happens). */
export class ErrorCounts<Code extends string> {
  private readonly counts: Map<Code, number>;

  constructor(codes: readonly Code[]) {
    this.counts = new Map(codes.map((c) => [c, 0]));
  }

  add(code: Code): void {
    this.counts.set(code, (this.counts.get(code) ?? 0) + 1);
  }

  get(code: Code): number {
    return this.counts.get(code) ?? 0;
  }

  entries(): IterableIterator<[Code, number]> {
    return this.counts.entries();
  }
}
