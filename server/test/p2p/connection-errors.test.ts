/**
 * The error codes behind `<ns>_p2p_connection_errors_total` and
 * `<ns>_p2p_peer_errors_total`: every error the transport and the
 * MConnection produce lands on its own code of the closed set, whatever it
 * is wrapped in; anything else is `other`.
 */
import { describe, expect, it } from "vitest";
import {
  CONNECTION_ERROR_CODES,
  type ConnectionErrorCode,
  ErrorCounts,
  PEER_ERROR_CODES,
  type PeerErrorCode,
  connectionErrorCode,
  peerErrorCode,
} from "../../src/p2p/connection-errors.js";
import { ConnectionRejectedError, DialError } from "../../src/p2p/errors.js";
import { ReactorReceiveError } from "../../src/p2p/peer.js";
import { DecodeError, DeadlineExceededError, MessageTooLargeError, UnexpectedEofError, VarintOverflowError } from "../../src/wire/errors.js";
import {
  ConnectionClosedError,
  EmptyPacketError,
  MessageOverCapacityError,
  PacketDecodeError,
  PacketTooLargeError,
  PongTimeoutError,
  ReadError,
  ReceiveHandlerError,
  UnknownChannelError,
  WriteError,
} from "../../src/wire/mconnection/errors.js";
import {
  AuthSignatureError,
  FrameDecryptError,
  FrameLengthError,
  InvalidEphemeralKeyError,
  InvalidPublicKeyError,
  LowOrderPointError,
  NonceOverflowError,
  ReflectedEphemeralKeyError,
  UnsupportedKeyTypeError,
} from "../../src/wire/secret-connection/errors.js";

/** As the transport wraps a handshake failure: ConnectionRejectedError(reason, …, { cause }). */
const rejected = (reason: ConnectionRejectedError["reason"], cause?: unknown): ConnectionRejectedError =>
  new ConnectionRejectedError(reason, "detail", cause === undefined ? undefined : { cause });

describe("connectionErrorCode", () => {
  const cases: [string, unknown, ConnectionErrorCode][] = [
    ["a refused TCP dial", new DialError("id@127.0.0.1:1", "ECONNREFUSED"), "dial_failed"],
    ["the per-IP attempt rate", rejected("rate_limited"), "rate_limited"],
    ["a connected peer's IP", rejected("duplicate_ip"), "duplicate_ip"],
    ["the concurrent-handshake limit", rejected("too_many_handshakes"), "too_many_handshakes"],
    ["another accept-filter refusal", rejected("filtered"), "filtered"],
    ["the handshake deadline", rejected("handshake_failed", new DeadlineExceededError("secret connection handshake", 3000)), "handshake_timeout"],
    ["the NodeInfo deadline (CometBFT files it under auth failure)", rejected("auth_failure", new DeadlineExceededError("NodeInfo exchange", 3000)), "handshake_timeout"],
    ["a transport timeout", rejected("timeout"), "handshake_timeout"],
    ["EOF in the handshake", rejected("handshake_failed", new UnexpectedEofError("AuthSigMessage")), "eof"],
    ["a short ephemeral key", rejected("handshake_failed", new InvalidEphemeralKeyError(31)), "invalid_key"],
    ["our own ephemeral key", rejected("handshake_failed", new ReflectedEphemeralKeyError()), "invalid_key"],
    ["a low-order point", rejected("handshake_failed", new LowOrderPointError()), "invalid_key"],
    ["a bad identity key", rejected("handshake_failed", new InvalidPublicKeyError("no key set")), "invalid_key"],
    ["a secp256k1 identity", rejected("handshake_failed", new UnsupportedKeyTypeError("secp256k1")), "invalid_key"],
    ["a bad challenge signature", rejected("handshake_failed", new AuthSignatureError("signature does not verify")), "auth_signature_invalid"],
    ["an oversize AuthSig", rejected("handshake_failed", new MessageTooLargeError("AuthSigMessage", 2 ** 21, 2 ** 20)), "message_too_large"],
    ["an oversize NodeInfo", rejected("auth_failure", new MessageTooLargeError("NodeInfo", 20_000, 10_240)), "message_too_large"],
    ["an undecodable NodeInfo", rejected("auth_failure", new DecodeError("NodeInfo", "bad wire type")), "decode_error"],
    ["an overflowing varint", rejected("handshake_failed", new VarintOverflowError("prefix")), "decode_error"],
    ["a wrapped cause, two levels down", rejected("handshake_failed", new Error("outer", { cause: new AuthSignatureError("x") })), "auth_signature_invalid"],
    ["a socket error in the handshake", rejected("handshake_failed", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })), "handshake_failed"],
    ["the dialed ID check (no cause)", rejected("auth_failure"), "wrong_id"],
    ["a socket error in the NodeInfo exchange", rejected("auth_failure", new Error("socket hang up")), "handshake_failed"],
    ["an invalid NodeInfo", rejected("node_info_invalid", new DecodeError("NodeInfo", "bad")), "node_info_invalid"],
    ["ourselves", rejected("self"), "self"],
    ["another network", rejected("incompatible"), "incompatible"],
    ["a bare wire error", new DeadlineExceededError("x", 1), "handshake_timeout"],
    ["anything else", new Error("boom"), "other"],
    ["not even an Error", "boom", "other"],
  ];
  it.each(cases)("%s", (_what, err, code) => {
    expect(connectionErrorCode(err)).toBe(code);
    expect(CONNECTION_ERROR_CODES).toContain(code);
  });
});

describe("peerErrorCode", () => {
  const cases: [string, unknown, PeerErrorCode][] = [
    ["an unknown channel", new UnknownChannelError(0x99), "unknown_channel"],
    ["a message over capacity", new MessageOverCapacityError(0x40, 10, 5), "message_over_capacity"],
    ["an oversize packet", new PacketTooLargeError(2000, 1034), "packet_too_large"],
    ["an empty packet", new EmptyPacketError(), "empty_packet"],
    ["a bad packet", new PacketDecodeError("x"), "packet_decode_error"],
    ["no pong", new PongTimeoutError(45_000), "pong_timeout"],
    ["a failed write", new WriteError(new Error("EPIPE")), "write_error"],
    ["EOF", new ConnectionClosedError(), "connection_closed"],
    ["a throwing handler", new ReceiveHandlerError(0x40, new Error("x")), "receive_handler_error"],
    ["a reset socket", new ReadError(Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" })), "read_error"],
    ["a frame that fails authentication", new ReadError(new FrameDecryptError()), "frame_decrypt_failed"],
    ["a frame that announces too much", new ReadError(new FrameLengthError(2000, 1024)), "frame_length_invalid"],
    ["exhausted nonces", new ReadError(new NonceOverflowError("receive")), "nonce_overflow"],
    ["a socket that ends inside a frame", new ReadError(new UnexpectedEofError("secret connection frame")), "unexpected_eof"],
    ["a reactor that failed on a message", new ReactorReceiveError(0x40, { cause: new Error("x") }), "reactor_receive_failed"],
    ["anything else", new Error("x"), "other"],
    ["an error that merely claims a code", Object.assign(new Error("x"), { code: "pong_timeout" }), "other"],
  ];
  it.each(cases)("%s", (_what, err, code) => {
    expect(peerErrorCode(err)).toBe(code);
    expect(PEER_ERROR_CODES).toContain(code);
  });
});

describe("ErrorCounts", () => {
  it("lists every code of its set, at 0 until counted", () => {
    const counts = new ErrorCounts<PeerErrorCode>(PEER_ERROR_CODES);
    counts.add("pong_timeout");
    counts.add("pong_timeout");
    const all = new Map(counts.entries());
    expect([...all.keys()]).toEqual([...PEER_ERROR_CODES]);
    expect(all.get("pong_timeout")).toBe(2);
    expect(all.get("other")).toBe(0);
  });
});
