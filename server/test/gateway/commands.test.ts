/**
 * The gateway's commands against a fake SwitchApi: each command asks the
 * Switch contract (the one in-process reactors get) for exactly what it
 * says, and each refusal is a typed error naming the field. No sockets, no
 * gRPC: the reactor is a real RemoteReactor handed the fake in `setSwitch`.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { type Command, ErrorReason } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { type CommandOutcome, runCommand } from "../../src/gateway/commands.js";
import { GatewayError } from "../../src/gateway/errors.js";
import { DEFAULT_REMOTE_REACTOR_LIMITS, RemoteReactor } from "../../src/gateway/remote-reactor.js";
import { toCommandError } from "../../src/gateway/status-mapping.js";
import { AlreadyConnectedError, ConnectionRejectedError, DialError, OutboundLimitError, P2PStartError, SwitchConfigError, SwitchStoppingError } from "../../src/p2p/errors.js";
import { fillChannelDefaults } from "../../src/wire/mconnection/channel-descriptor.js";
import { silentLogger } from "../support/nodes.js";
import { FakePeer, FakeSwitch } from "./fake-switch.js";

const APP = 0x60;
const OTHER = 0x61;
const MAX_APP_MESSAGE = 1000;

/** A fake Switch with reactor "app" on APP (1000-byte messages) and one connected peer that has APP. */
function setup() {
  const sw = new FakeSwitch();
  const rr = new RemoteReactor("app", [{ ...fillChannelDefaults({ id: APP, priority: 1, recvMessageCapacity: MAX_APP_MESSAGE }), overflowPolicy: "block" }], DEFAULT_REMOTE_REACTOR_LIMITS, silentLogger);
  sw.addReactor("app", rr);
  sw.start();
  const peer = new FakePeer([APP]);
  sw.connect(peer);
  // Exactly what a command gets from the gateway: the reactor and the SwitchApi the Switch handed it.
  const run = (kind: Command["kind"]): CommandOutcome | Promise<CommandOutcome> => runCommand({ rr, sw: rr.switchApi }, { requestId: 1n, kind });
  return { sw, rr, peer, run };
}

/** The typed error `fn` throws. */
function thrown(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return err as GatewayError;
  }
  throw new Error("expected a GatewayError");
}

const msg = (n: number): Uint8Array => new Uint8Array(n).fill(7);

describe("commands run against the reactor's SwitchApi", () => {
  it("the SwitchApi a command uses is the one the Switch handed the reactor", () => {
    const { sw, rr } = setup();
    expect(rr.switchApi).toBe(sw);
  });

  it("send: with room, queued at once (no promise); without, waits for the peer's send with the timeout asked", async () => {
    const { peer, run } = setup();
    const at = { connectionId: peer.connectionId, peerId: "", channelId: APP, message: msg(3), timeoutMs: 0 };
    expect(run({ $case: "send", value: at })).toEqual({ $case: "send", value: { queued: true } });
    expect(peer.sent).toHaveLength(1);
    peer.room = false;
    const waiting = run({ $case: "send", value: { ...at, timeoutMs: 250 } });
    expect(waiting).toBeInstanceOf(Promise);
    expect(peer.waiting[0]?.timeoutMs).toBe(250);
    peer.release(false);
    await expect(waiting).resolves.toEqual({ $case: "send", value: { queued: false } });
  });

  it("try_send never waits: not queued when the peer has no room", () => {
    const { peer, run } = setup();
    peer.room = false;
    expect(run({ $case: "trySend", value: { connectionId: "", peerId: peer.id, channelId: APP, message: msg(1) } })).toEqual({ $case: "send", value: { queued: false } });
    expect(peer.waiting).toHaveLength(0);
  });

  it("refuses, naming the field: a channel not registered, a message over the channel's limit, a peer without the channel, a long timeout", () => {
    const { sw, peer, run } = setup();
    const other = new FakePeer([OTHER]);
    sw.connect(other);
    const send = (over: object) => ({ $case: "send" as const, value: { connectionId: peer.connectionId, peerId: "", channelId: APP, message: msg(1), timeoutMs: 0, ...over } });
    expect(thrown(() => run(send({ channelId: OTHER })))).toMatchObject({ grpcCode: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_CHANNEL_NOT_REGISTERED });
    const big = thrown(() => run(send({ message: msg(MAX_APP_MESSAGE + 1) })));
    expect(big).toMatchObject({ grpcCode: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_MESSAGE_TOO_LARGE });
    expect(big.message).toBe(`send.message: ${MAX_APP_MESSAGE + 1} bytes exceeds channel 0x60's limit of ${MAX_APP_MESSAGE} bytes`);
    expect(thrown(() => run(send({ connectionId: other.connectionId })))).toMatchObject({ reason: ErrorReason.ERROR_REASON_CHANNEL_NOT_SUPPORTED_BY_PEER });
    expect(thrown(() => run(send({ timeoutMs: 60_001 }))).message).toBe("send.timeout_ms: at most 60000");
    expect(peer.sent).toHaveLength(0);
  });

  it("tells a removed connection from an unknown one, and checks that a connection and a peer ID agree", () => {
    const { sw, peer, run } = setup();
    const at = (connectionId: string, peerId = "") => ({ $case: "markPeerAsGood" as const, value: { connectionId, peerId } });
    expect(thrown(() => run(at(peer.connectionId, "ff".repeat(20))))).toMatchObject({ grpcCode: GrpcStatus.INVALID_ARGUMENT });
    sw.disconnect(peer);
    expect(thrown(() => run(at(peer.connectionId)))).toMatchObject({ grpcCode: GrpcStatus.NOT_FOUND, reason: ErrorReason.ERROR_REASON_PEER_REMOVED });
    expect(thrown(() => run(at("nobody#1")))).toMatchObject({ grpcCode: GrpcStatus.NOT_FOUND, reason: ErrorReason.ERROR_REASON_UNKNOWN_PEER });
    expect(thrown(() => run(at("", peer.id)))).toMatchObject({ reason: ErrorReason.ERROR_REASON_UNKNOWN_PEER });
    expect(thrown(() => run(at("", ""))).message).toBe("mark_peer_as_good.peer_id: required when connection_id is empty");
    expect(sw.calls).toEqual([]);
  });

  it("broadcast, stop, mark good and flush ask the SwitchApi for exactly that", async () => {
    const { sw, peer, run } = setup();
    await expect(run({ $case: "broadcast", value: { channelId: APP, message: msg(2) } })).resolves.toEqual({ $case: "broadcast", value: { results: [{ peerId: peer.id, queued: true }] } });
    await run({ $case: "markPeerAsGood", value: { connectionId: peer.connectionId, peerId: "" } });
    await run({ $case: "stopPeerForError", value: { connectionId: peer.connectionId, peerId: "", reason: "bad block", noReconnect: true } });
    await run({ $case: "stopPeerForError", value: { connectionId: "", peerId: peer.id, reason: "", noReconnect: false } });
    await run({ $case: "stopPeerGracefully", value: { connectionId: peer.connectionId, peerId: "", flush: false } });
    await run({ $case: "stopPeerGracefully", value: { connectionId: peer.connectionId, peerId: "", flush: true } });
    expect(sw.calls.map((c) => (c.op === "broadcast" ? { op: c.op, channelId: c.channelId } : c))).toEqual([
      { op: "broadcast", channelId: APP },
      { op: "markPeerAsGood", peer: peer.id },
      { op: "stopPeerForError", peer: peer.id, reason: "bad block", reconnect: false },
      { op: "stopPeerForError", peer: peer.id, reason: 'stopped by reactor "app"', reconnect: true },
      { op: "stopPeerGracefully", peer: peer.id },
      { op: "flushStopPeer", peer: peer.id },
    ]);
  });

  it("dial_peers: persistent peers are added to the SwitchApi's persistent peers, then dialed; a bad address dials none", async () => {
    const { sw, run } = setup();
    const id = "cd".repeat(20);
    await run({ $case: "dialPeers", value: { addresses: [`${id}@10.0.0.1:26656`], persistent: true } });
    expect(sw.calls).toEqual([
      { op: "addPersistentPeers", addresses: [{ id, host: "10.0.0.1", port: 26656 }] },
      { op: "dialPeersAsync", addresses: [`${id}@10.0.0.1:26656`] },
    ]);
    const bad = thrown(() => run({ $case: "dialPeers", value: { addresses: [`${id}@10.0.0.1:26656`, "not-an-address"], persistent: true } }));
    expect(bad).toMatchObject({ grpcCode: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_ADDRESS });
    expect(bad.message).toMatch(/^dial_peers\.addresses\[1\]: /);
    expect(thrown(() => run({ $case: "dialPeers", value: { addresses: [], persistent: false } })).message).toBe("dial_peers.addresses: empty");
    expect(sw.calls).toHaveLength(2);
  });

  it("peer data, peer lists and counts come from the SwitchApi's view of the peers", async () => {
    const { peer, run } = setup();
    const at = { connectionId: peer.connectionId, peerId: "" };
    expect(run({ $case: "getPeerData", value: { ...at, key: "k" } })).toEqual({ $case: "peerData", value: { found: false, value: new Uint8Array(0) } });
    await run({ $case: "setPeerData", value: { ...at, key: "k", value: msg(4) } });
    expect(run({ $case: "getPeerData", value: { ...at, key: "k" } })).toEqual({ $case: "peerData", value: { found: true, value: msg(4) } });
    const peers = run({ $case: "listPeers", value: {} });
    expect(peers).toMatchObject({ $case: "peers", value: { peers: [{ peerId: peer.id, connectionId: peer.connectionId }] } });
    expect(run({ $case: "numPeers", value: {} })).toEqual({ $case: "numPeers", value: { outbound: 1, inbound: 0, dialing: 0 } });
    expect(run({ $case: "getPeer", value: { peerId: peer.id } })).toMatchObject({ $case: "peer", value: { peer: { peerId: peer.id } } });
  });
});

describe("the Switch's errors (p2p/errors.ts) reach a remote reactor as one status each", () => {
  const cases: [Error, GrpcStatus, ErrorReason][] = [
    [new SwitchStoppingError("switch is stopping"), GrpcStatus.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_NODE_NOT_RUNNING],
    [new AlreadyConnectedError("peer x is already connected"), GrpcStatus.ALREADY_EXISTS, ErrorReason.ERROR_REASON_UNSPECIFIED],
    [new OutboundLimitError("max_num_outbound_peers"), GrpcStatus.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_UNSPECIFIED],
    [new SwitchConfigError("channel taken"), GrpcStatus.FAILED_PRECONDITION, ErrorReason.ERROR_REASON_UNSPECIFIED],
    [new DialError("x@1.2.3.4:5", "connection refused"), GrpcStatus.UNAVAILABLE, ErrorReason.ERROR_REASON_UNSPECIFIED],
    [new ConnectionRejectedError("incompatible", "wrong network"), GrpcStatus.UNAVAILABLE, ErrorReason.ERROR_REASON_UNSPECIFIED],
  ];
  it.each(cases)("%s", (err, code, reason) => {
    expect(toCommandError(err, silentLogger)).toEqual({ code, reason, message: err.message });
  });

  it("P2PStartError never reaches a command (the Switch handles it inside the add sequence): it maps to UNKNOWN without its message", () => {
    expect(toCommandError(new P2PStartError("peer x stopped while starting"), silentLogger)).toEqual({ code: GrpcStatus.UNKNOWN, reason: ErrorReason.ERROR_REASON_UNSPECIFIED, message: "internal error" });
  });
});
