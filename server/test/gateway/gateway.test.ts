import { Client, type ServiceError, credentials, status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AttachRequest, AttachResponse, ErrorReason, OverflowPolicy } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { checkReactorTrace } from "../support/reactor-trace.js";
import { AttachClient, toTrace } from "./attach-client.js";
import { createGatewayNode, gatewayFixtures } from "./support.js";
import { until } from "../support/nodes.js";
import { encodeUvarint } from "../../src/wire/varint.js";
import { MAX_REQUEST_BATCH_PAYLOAD_BYTES } from "../../src/gateway/limits.js";
import { MAX_BATCH_COMMANDS, MAX_CONTROL_MESSAGE_BYTES } from "../../src/gateway/request-screen.js";

const APP = 0x60;
const OTHER = 0x61;
const CHANNELS = [{ id: APP, priority: 5, sendQueueCapacity: 100 }];

const { gwNode, attach, cleanup } = gatewayFixtures();
afterEach(cleanup);

/** Two nodes, each with reactor "app" attached and started; A dialed B. */
async function pair(gateway: Parameters<typeof createGatewayNode>[0] = {}, clientOpts: Partial<ConstructorParameters<typeof AttachClient>[1]> = {}) {
  const a = await gwNode({ reactors: ["app"], ...gateway });
  const b = await gwNode({ reactors: ["app"], ...gateway });
  const ca = attach(a, { name: "app", channels: CHANNELS, ...clientOpts });
  const cb = attach(b, { name: "app", channels: CHANNELS, ...clientOpts });
  await Promise.all([a.start(), b.start()]);
  await a.sw.dialPeerWithAddress(b.address());
  await ca.waitFor(() => ca.kinds().includes("addPeer"), 5000, "A AddPeer");
  await cb.waitFor(() => cb.kinds().includes("addPeer"), 5000, "B AddPeer");
  return { a, b, ca, cb };
}

describe("registration", () => {
  it("registers before start, answers with NodeInfo, and the node advertises the channels", async () => {
    const a = await gwNode({ reactors: ["app"] });
    const starting = a.start();
    const ca = attach(a, { name: "app", channels: CHANNELS });
    await starting;
    await ca.waitFor(() => ca.registered !== null && ca.kinds().includes("onStart"));
    expect(ca.registered?.nodeInfo?.nodeId).toBe(a.key.id);
    expect(ca.registered?.resumed).toBe(false);
    expect(ca.registered?.sessionToken).not.toBe("");
    expect([...(ca.registered?.nodeInfo?.channels ?? [])]).toEqual([APP]);
    expect(a.sw.nodeInfo().channels).toEqual([APP]);
  });

  it("tells the client its limits in Registered: the batch and control-request limits it enforces, and grpc.max_message_bytes", async () => {
    const a = await gwNode({ reactors: ["app"], maxMessageBytes: 8 * 1024 * 1024 });
    const starting = a.start();
    const ca = attach(a, { name: "app", channels: CHANNELS });
    await starting;
    await ca.waitFor(() => ca.registered !== null);
    expect(ca.registered?.limits).toEqual({ maxBatchCommands: MAX_BATCH_COMMANDS, maxBatchPayloadBytes: MAX_REQUEST_BATCH_PAYLOAD_BYTES, maxControlRequestBytes: MAX_CONTROL_MESSAGE_BYTES, maxMessageBytes: 8 * 1024 * 1024 });
  });

  it("fails the start with a clear message when a configured reactor never registers", async () => {
    const a = await gwNode({ reactors: ["app", "late"], registrationTimeoutMs: 200 });
    attach(a, { name: "app", channels: CHANNELS });
    await expect(a.start()).rejects.toThrow(/did not register within 200 ms: late/);
  });

  const bad: [string, Partial<ConstructorParameters<typeof AttachClient>[1]>, GrpcStatus, RegExp][] = [
    ["a bad name", { name: "no spaces allowed" }, GrpcStatus.INVALID_ARGUMENT, /register.reactor_name/],
    ["a channel over 255", { channels: [{ id: 300, priority: 1 }] }, GrpcStatus.INVALID_ARGUMENT, /register.channels\[0\].id/],
    ["priority 0", { channels: [{ id: 1, priority: 0 }] }, GrpcStatus.INVALID_ARGUMENT, /register.channels\[0\].priority/],
    ["no channels", { channels: [] }, GrpcStatus.INVALID_ARGUMENT, /register.channels/],
    ["a channel listed twice", { channels: [{ id: 7, priority: 1 }, { id: 8, priority: 1 }, { id: 7, priority: 2 }] }, GrpcStatus.INVALID_ARGUMENT, /^register\.channels\[2\]\.id: channel 0x07 is listed twice \(also register\.channels\[0\]\)$/],
    ["more channels than a NodeInfo lists", { channels: Array.from({ length: 17 }, (_, i) => ({ id: 0x70 + i, priority: 1 })) }, GrpcStatus.INVALID_ARGUMENT, /^register\.channels: reactor "x" would bring the node to 17 channels; a NodeInfo lists at most 16$/],
  ];
  for (const [what, opts, code, msg] of bad) {
    it(`refuses ${what} with a status naming the field`, async () => {
      const a = await gwNode();
      const c = attach(a, { name: "x", channels: CHANNELS, ...opts });
      await c.waitFor(() => c.status !== null);
      expect(c.status?.code).toBe(code);
      expect(c.status?.details).toMatch(msg);
    });
  }

  it("refuses a channel owned by another reactor, naming it, and a name attached elsewhere", async () => {
    const a = await gwNode();
    const first = attach(a, { name: "one", channels: CHANNELS });
    await first.waitFor(() => first.registered !== null);
    const clash = attach(a, { name: "two", channels: CHANNELS });
    await clash.waitFor(() => clash.status !== null);
    expect(clash.status?.code).toBe(GrpcStatus.ALREADY_EXISTS);
    expect(clash.status?.details).toMatch(/already owned by reactor "one"/);
    const twin = attach(a, { name: "one", channels: CHANNELS });
    await twin.waitFor(() => twin.status !== null);
    expect(twin.status?.code).toBe(GrpcStatus.ALREADY_EXISTS);
    expect(twin.status?.details).toMatch(/attached on another stream/);
  });

  it("refuses a channel of the node's own reactors (PEX's 0x00) as a bad argument, naming the field and the owner", async () => {
    const a = await gwNode();
    a.sw.addReactor("PEX", { getChannels: () => [{ id: 0x00, priority: 1 }], setSwitch: () => undefined } as unknown as Parameters<typeof a.sw.addReactor>[1]);
    const c = attach(a, { name: "x", channels: [{ id: 0x30, priority: 1 }, { id: 0x00, priority: 1 }] });
    await c.waitFor(() => c.status !== null);
    expect(c.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(c.status?.details).toBe("register.channels[1].id: channel 0x00 belongs to the node's own reactor PEX (set p2p.pex = false to run PEX as a remote reactor)");
  });

  it("refuses a new reactor after start with FAILED_PRECONDITION", async () => {
    const a = await gwNode();
    await a.start();
    const c = attach(a, { name: "late", channels: CHANNELS });
    await c.waitFor(() => c.status !== null);
    expect(c.status?.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(c.status?.details).toMatch(/before start/);
  });

  it("answers a command before Register with FAILED_PRECONDITION and keeps the stream", async () => {
    const a = await gwNode();
    const raw = new Client(a.grpc, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      "/switchboard.gateway.v1.ReactorGatewayService/Attach",
      (r: AttachRequest) => Buffer.from(AttachRequest.encode(r).finish()),
      (b: Buffer) => AttachResponse.decode(b),
    );
    const got: AttachResponse[] = [];
    call.on("data", (r: AttachResponse) => got.push(r));
    call.on("error", () => undefined); // CANCELLED when we cancel below
    call.write({ msg: { $case: "command", value: { requestId: 7n, kind: { $case: "numPeers", value: {} } } } });
    await until(() => got.length === 1, 5000, "the result");
    expect(got[0]?.msg?.$case === "result" && got[0].msg.value.error).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_NOT_REGISTERED });
    call.write({ msg: { $case: "register", value: { reactorName: "late-but-fine", channels: [{ id: 1, priority: 1, sendQueueCapacity: 0, recvBufferCapacity: 0, recvMessageCapacity: 0, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }], sessionToken: "", initialCredit: undefined, batchResults: false } } });
    await until(() => got.some((r) => r.msg?.$case === "registered"), 5000, "Registered");
    call.cancel();
    raw.close();
  });

  it("ends the stream with INVALID_ARGUMENT for bytes that are not an AttachRequest", async () => {
    const a = await gwNode();
    const raw = new Client(a.grpc, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      "/switchboard.gateway.v1.ReactorGatewayService/Attach",
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const status = new Promise<ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => undefined);
    // Field 1 (register) claims 100 bytes but only one follows.
    call.write(Buffer.from([0x0a, 0x64, 0x01]));
    const st = await status;
    expect(st.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(st.details).toMatch(/AttachRequest: malformed/);
    raw.close();
  });

  it("refuses a large request that is not a message-carrying command before decoding it", async () => {
    const a = await gwNode();
    const raw = new Client(a.grpc, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      "/switchboard.gateway.v1.ReactorGatewayService/Attach",
      (b: Buffer) => b,
      (b: Buffer) => b,
    );
    const status = new Promise<ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => undefined);
    // A Register made of 100 000 empty channel entries: 200 kB that would decode into 100 000 objects.
    const entries = Buffer.alloc(200_000);
    for (let i = 0; i < entries.length; i += 2) entries[i] = 0x12; // field 2 (channels), length 0
    const register = Buffer.concat([Buffer.from([0x0a]), Buffer.from(encodeUvarint(entries.length)), entries]);
    const heapBefore = process.memoryUsage().heapUsed;
    call.write(Buffer.concat([Buffer.from([0x0a]), Buffer.from(encodeUvarint(register.length)), register]));
    const st = await status;
    expect(st.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(st.details).toMatch(/only send, try_send and broadcast commands may exceed 65536 bytes/);
    expect(a.gw.refusedRequests).toBe(1);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(50 * 1024 * 1024);
    raw.close();
  });

  it("caps what a channel descriptor may ask the node to allocate per peer", async () => {
    const a = await gwNode({ maxMessageBytes: 8 * 1024 * 1024 });
    const cases: [Partial<ConstructorParameters<typeof AttachClient>[1]["channels"][number]>, RegExp][] = [
      [{ recvMessageCapacity: 9 * 1024 * 1024 }, /recv_message_capacity: .* exceeds grpc.max_message_bytes/],
      [{ recvBufferCapacity: 5 * 1024 * 1024 }, /recv_buffer_capacity: .* allocated per peer connection/],
      [{ sendQueueCapacity: 20_000 }, /send_queue_capacity: 20000 exceeds 10000/],
    ];
    for (const [channel, msg] of cases) {
      const c = attach(a, { name: "capped", channels: [{ id: 1, priority: 1, ...channel }] });
      await c.waitFor(() => c.status !== null);
      expect(c.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(c.status?.details).toMatch(msg);
    }
  });

  it("ends the stream with FAILED_PRECONDITION for an ack before Register", async () => {
    const a = await gwNode();
    const raw = new Client(a.grpc, credentials.createInsecure());
    const call = raw.makeBidiStreamRequest(
      "/switchboard.gateway.v1.ReactorGatewayService/Attach",
      (r: AttachRequest) => Buffer.from(AttachRequest.encode(r).finish()),
      (b: Buffer) => b,
    );
    const status = new Promise<ServiceError>((resolve) => call.on("error", resolve));
    call.on("data", () => undefined);
    call.write({ msg: { $case: "ack", value: { eventSeq: 1n } } });
    const st = await status;
    expect(st.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(st.details).toMatch(/ack before register/);
    raw.close();
  });
});

describe("events and commands between two nodes", () => {
  it("delivers InitPeer, AddPeer and Receive in grammar order, and Send reaches the other reactor", async () => {
    const { a, b, ca, cb } = await pair();
    const initA = ca.events.find((e) => e.kind?.$case === "initPeer");
    expect(initA?.kind?.$case === "initPeer" && initA.kind.value.peer?.peerId).toBe(b.key.id);
    const res = await ca.command({ $case: "send", value: { connectionId: "", peerId: b.key.id, channelId: APP, message: Buffer.from("hello"), timeoutMs: 0 } });
    expect(res.error).toBeUndefined();
    expect(res.kind).toEqual({ $case: "send", value: { queued: true } });
    await cb.waitFor(() => cb.kinds().includes("receive"));
    const got = cb.events.find((e) => e.kind?.$case === "receive");
    expect(got?.kind?.$case === "receive" && Buffer.from(got.kind.value.message).toString()).toBe("hello");
    expect(got?.kind?.$case === "receive" && got.kind.value.peerId).toBe(a.key.id);
    const seqs = cb.events.map((e) => Number(e.seq));
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
    expect(checkReactorTrace(toTrace(cb.events), { complete: false })).toEqual({ ok: true });
  });

  it("carries a message larger than the control limit in a Send", async () => {
    const { b, ca, cb } = await pair();
    const big = Buffer.alloc(600 * 1024, 7);
    const res = await ca.command({ $case: "send", value: { connectionId: "", peerId: b.key.id, channelId: APP, message: big, timeoutMs: 0 } });
    expect(res.kind).toEqual({ $case: "send", value: { queued: true } });
    await cb.waitFor(() => cb.kinds().includes("receive"), 10_000);
    const got = cb.events.find((e) => e.kind?.$case === "receive");
    expect(got?.kind?.$case === "receive" && Buffer.from(got.kind.value.message).equals(big)).toBe(true);
  });

  it("gives each command error a precise status and keeps the stream", async () => {
    const { b, ca } = await pair();
    const unknown = await ca.command({ $case: "send", value: { connectionId: "", peerId: "00".repeat(20), channelId: APP, message: Buffer.from("x"), timeoutMs: 0 } });
    expect(unknown.error).toMatchObject({ code: GrpcStatus.NOT_FOUND, reason: ErrorReason.ERROR_REASON_UNKNOWN_PEER });
    const unreg = await ca.command({ $case: "trySend", value: { connectionId: "", peerId: b.key.id, channelId: OTHER, message: Buffer.from("x") } });
    expect(unreg.error).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_CHANNEL_NOT_REGISTERED });
    expect(unreg.error?.message).toMatch(/try_send.channel_id/);
    const big = await ca.command({ $case: "send", value: { connectionId: "", peerId: b.key.id, channelId: APP, message: Buffer.alloc(1024 * 1024 + 1), timeoutMs: 0 } });
    expect(big.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_MESSAGE_TOO_LARGE });
    const noPeer = await ca.command({ $case: "send", value: { connectionId: "", peerId: "", channelId: APP, message: Buffer.from("x"), timeoutMs: 0 } });
    expect(noPeer.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    expect(noPeer.error?.message).toMatch(/send.peer_id/);
    const empty = await ca.command(undefined);
    expect(empty.error?.message).toMatch(/command.kind/);
    const badAddr = await ca.command({ $case: "dialPeers", value: { addresses: ["nonsense"], persistent: false } });
    expect(badAddr.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_ADDRESS });
    // The stream is still alive.
    const ok = await ca.command({ $case: "numPeers", value: {} });
    expect(ok.kind).toEqual({ $case: "numPeers", value: { outbound: 1, inbound: 0, dialing: 0 } });
    expect(ca.status).toBeNull();
  });

  it("reports a removed connection as removed, not unknown", async () => {
    const { b, ca } = await pair();
    const init = ca.events.find((e) => e.kind?.$case === "initPeer");
    const conn = init?.kind?.$case === "initPeer" ? (init.kind.value.peer?.connectionId ?? "") : "";
    const stop = await ca.command({ $case: "stopPeerGracefully", value: { connectionId: conn, peerId: "", flush: false } });
    expect(stop.kind).toEqual({ $case: "done", value: {} });
    await ca.waitFor(() => ca.kinds().includes("removePeer"));
    const after = await ca.command({ $case: "trySend", value: { connectionId: conn, peerId: b.key.id, channelId: APP, message: Buffer.from("x") } });
    expect(after.error).toMatchObject({ code: GrpcStatus.NOT_FOUND, reason: ErrorReason.ERROR_REASON_PEER_REMOVED });
  });

  it("stop_peer_gracefully with flush: queued messages reach the peer first, and the result comes once the peer is removed", async () => {
    // 2 MB/s out of a: the three messages below take ~0.9 s to leave, so a stop without flush would drop most of them.
    const a = await gwNode({ reactors: ["app"] }, { mconn: { sendRateBytesPerSecond: 2_000_000 } });
    const b = await gwNode({ reactors: ["app"] });
    const ca = attach(a, { name: "app", channels: CHANNELS });
    const cb = attach(b, { name: "app", channels: CHANNELS });
    await Promise.all([a.start(), b.start()]);
    await a.sw.dialPeerWithAddress(b.address());
    await ca.waitFor(() => ca.kinds().includes("addPeer"), 5000, "A AddPeer");
    await cb.waitFor(() => cb.kinds().includes("addPeer"), 5000, "B AddPeer");

    const messages = [0, 1, 2].map((i) => Buffer.alloc(600 * 1024, i + 1));
    for (const m of messages) {
      const res = await ca.command({ $case: "send", value: { connectionId: "", peerId: b.key.id, channelId: APP, message: m, timeoutMs: 0 } });
      expect(res.kind).toEqual({ $case: "send", value: { queued: true } });
    }
    const stopping = ca.command({ $case: "stopPeerGracefully", value: { connectionId: "", peerId: b.key.id, flush: true } });
    // While it flushes, the peer takes no new sends.
    const late = await ca.command({ $case: "trySend", value: { connectionId: "", peerId: b.key.id, channelId: APP, message: Buffer.from("late") } });
    expect(late.kind).toEqual({ $case: "send", value: { queued: false } });
    const stop = await stopping;
    expect(stop.kind).toEqual({ $case: "done", value: {} });
    // The result comes after the removal: the peer is gone, and the reactor's RemovePeer is on its stream.
    expect(a.sw.peers().has(b.key.id)).toBe(false);
    await ca.waitFor(() => ca.kinds().includes("removePeer"));

    // b got the three messages whole, in order, then saw the connection close.
    await cb.waitFor(() => cb.kinds().includes("removePeer"), 10_000, "b to see the close");
    const got = cb.events.flatMap((e) => (e.kind?.$case === "receive" ? [Buffer.from(e.kind.value.message)] : []));
    expect(got.map((m, i) => Buffer.compare(m, messages[i]!))).toEqual([0, 0, 0]);
  });

  it("broadcast reports a result per peer; list, count and describe peers; the key-value store is shared", async () => {
    const a = await gwNode({ reactors: ["app"] });
    const b = await gwNode({ reactors: ["app"] });
    const c = await gwNode({ reactors: ["app"] });
    const ca = attach(a, { name: "app", channels: CHANNELS });
    const cb = attach(b, { name: "app", channels: CHANNELS });
    const cc = attach(c, { name: "app", channels: CHANNELS });
    await Promise.all([a.start(), b.start(), c.start()]);
    await a.sw.dialPeerWithAddress(b.address());
    await a.sw.dialPeerWithAddress(c.address());
    await ca.waitFor(() => ca.kinds().filter((k) => k === "addPeer").length === 2);
    const res = await ca.command({ $case: "broadcast", value: { channelId: APP, message: Buffer.from("all") } });
    expect(res.kind?.$case).toBe("broadcast");
    const results = res.kind?.$case === "broadcast" ? res.kind.value.results : [];
    expect(results.map((r) => r.peerId).sort()).toEqual([b.key.id, c.key.id].sort());
    expect(results.every((r) => r.queued)).toBe(true);
    await cb.waitFor(() => cb.kinds().includes("receive"));
    await cc.waitFor(() => cc.kinds().includes("receive"));

    const list = await ca.command({ $case: "listPeers", value: {} });
    expect(list.kind?.$case === "peers" && list.kind.value.peers.length).toBe(2);
    const one = await ca.command({ $case: "getPeer", value: { peerId: b.key.id } });
    expect(one.kind?.$case === "peer" && one.kind.value.peer?.outbound).toBe(true);

    const set = await ca.command({ $case: "setPeerData", value: { connectionId: "", peerId: b.key.id, key: "height", value: Buffer.from("42") } });
    expect(set.error).toBeUndefined();
    const get = await ca.command({ $case: "getPeerData", value: { connectionId: "", peerId: b.key.id, key: "height" } });
    expect(get.kind).toEqual({ $case: "peerData", value: { found: true, value: Buffer.from("42") } });
    // In-process code sees the same store.
    expect(Buffer.from(a.sw.peers().get(b.key.id)!.get("height") as Uint8Array).toString()).toBe("42");
    const missing = await ca.command({ $case: "getPeerData", value: { connectionId: "", peerId: b.key.id, key: "nope" } });
    expect(missing.kind).toEqual({ $case: "peerData", value: { found: false, value: new Uint8Array(0) } });
    const good = await ca.command({ $case: "markPeerAsGood", value: { connectionId: "", peerId: b.key.id } });
    expect(good.kind).toEqual({ $case: "done", value: {} });
  });

  it("StopPeerForError removes the peer on both sides with the reason", async () => {
    const { b, ca, cb } = await pair();
    const res = await ca.command({ $case: "stopPeerForError", value: { connectionId: "", peerId: b.key.id, reason: "bad block", noReconnect: true } });
    expect(res.kind).toEqual({ $case: "done", value: {} });
    await ca.waitFor(() => ca.kinds().includes("removePeer"));
    const rm = ca.events.find((e) => e.kind?.$case === "removePeer");
    expect(rm?.kind?.$case === "removePeer" && rm.kind.value.reason).toBe("bad block");
    await cb.waitFor(() => cb.kinds().includes("removePeer"));
    expect(checkReactorTrace(toTrace(ca.events), { complete: false })).toEqual({ ok: true });
    expect(checkReactorTrace(toTrace(cb.events), { complete: false })).toEqual({ ok: true });
  });
});

describe("flow control", () => {
  it("never sends beyond the credit granted", async () => {
    const { a, b, cb } = await pair({}, { autoCredit: false, credit: { messages: 4, bytes: 1 << 20 } });
    // B has used 3 of 4 messages (OnStart, InitPeer, AddPeer).
    expect(cb.events).toHaveLength(3);
    const peer = a.sw.peers().get(b.key.id)!;
    for (let i = 0; i < 5; i++) expect(await peer.send(APP, Uint8Array.of(i))).toBe(true);
    await cb.waitFor(() => cb.events.length === 4);
    await new Promise((r) => setTimeout(r, 150));
    expect(cb.events).toHaveLength(4);
    cb.grant(10, 1 << 20);
    await cb.waitFor(() => cb.events.length === 8);
    const msgs = cb.events.filter((e) => e.kind?.$case === "receive").map((e) => (e.kind?.$case === "receive" ? e.kind.value.message[0] : -1));
    expect(msgs).toEqual([0, 1, 2, 3, 4]);
  });

  async function overflowSetup(policy: OverflowPolicy) {
    const channels = [{ id: APP, priority: 5, sendQueueCapacity: 100, overflowPolicy: policy }];
    const a = await gwNode({ reactors: ["app"] });
    const b = await gwNode({ reactors: ["app"], eventQueueMaxMessages: 3 });
    const ca = attach(a, { name: "app", channels });
    const cb = attach(b, { name: "app", channels, autoCredit: false, autoAck: false, credit: { messages: 3, bytes: 1 << 20 } });
    await Promise.all([a.start(), b.start()]);
    await a.sw.dialPeerWithAddress(b.address());
    await cb.waitFor(() => cb.kinds().includes("addPeer"));
    await ca.waitFor(() => ca.kinds().includes("addPeer"));
    const toB = a.sw.peers().get(b.key.id)!;
    return { a, b, ca, cb, toB, rr: b.gw.remoteReactors().get("app")! };
  }

  it("drop-newest: keeps the first messages, counts the rest", async () => {
    const { cb, toB, rr } = await overflowSetup(OverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST);
    for (let i = 0; i < 10; i++) await toB.send(APP, Uint8Array.of(i));
    await until(() => rr.stats.dropped["drop-newest"] === 7, 5000, "7 drops");
    cb.grant(100, 1 << 20);
    await cb.waitFor(() => cb.kinds().filter((k) => k === "receive").length === 3);
    const msgs = cb.events.filter((e) => e.kind?.$case === "receive").map((e) => (e.kind?.$case === "receive" ? e.kind.value.message[0] : -1));
    expect(msgs).toEqual([0, 1, 2]);
  });

  it("drop-oldest: keeps the newest messages", async () => {
    const { cb, toB, rr } = await overflowSetup(OverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST);
    for (let i = 0; i < 10; i++) await toB.send(APP, Uint8Array.of(i));
    await until(() => rr.stats.dropped["drop-oldest"] === 7, 5000, "7 drops");
    cb.grant(100, 1 << 20);
    await cb.waitFor(() => cb.kinds().filter((k) => k === "receive").length === 3);
    const msgs = cb.events.filter((e) => e.kind?.$case === "receive").map((e) => (e.kind?.$case === "receive" ? e.kind.value.message[0] : -1));
    expect(msgs).toEqual([7, 8, 9]);
  });

  it("disconnect-peer: the peer that overflows the queue is removed", async () => {
    const { a, cb, toB, rr } = await overflowSetup(OverflowPolicy.OVERFLOW_POLICY_DISCONNECT_PEER);
    for (let i = 0; i < 10; i++) await toB.send(APP, Uint8Array.of(i));
    await until(() => rr.stats.dropped["disconnect-peer"] >= 1, 5000, "a disconnect");
    cb.grant(100, 1 << 20);
    await cb.waitFor(() => cb.kinds().includes("removePeer"));
    const rm = cb.events.find((e) => e.kind?.$case === "removePeer");
    expect(rm?.kind?.$case === "removePeer" && rm.kind.value.reason).toMatch(/fell behind/);
    expect(a.sw.peers().size).toBe(0);
    expect(checkReactorTrace(toTrace(cb.events), { complete: false })).toEqual({ ok: true });
  });

  it("block: holds the peer's messages (none lost, order kept) until there is room", async () => {
    const { b, a, cb, toB, rr } = await overflowSetup(OverflowPolicy.OVERFLOW_POLICY_BLOCK);
    for (let i = 0; i < 10; i++) await toB.send(APP, Uint8Array.of(i));
    await until(() => rr.stats.blocked >= 1, 5000, "blocking");
    const held = b.sw.peers().get(a.key.id)!;
    await until(() => held.status().inboundQueueMessages > 0, 5000, "messages held in the peer queue");
    // Consume: ack and grant repeatedly.
    cb.grant(100, 1 << 20);
    for (let round = 0; round < 20 && cb.kinds().filter((k) => k === "receive").length < 10; round++) {
      const last = cb.events.at(-1);
      if (last !== undefined) cb.ack(last.seq);
      await new Promise((r) => setTimeout(r, 20));
    }
    const msgs = cb.events.filter((e) => e.kind?.$case === "receive").map((e) => (e.kind?.$case === "receive" ? e.kind.value.message[0] : -1));
    expect(msgs).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe("resume", () => {
  it("inside the window: unacknowledged events come again with their numbers, acknowledged ones never", async () => {
    const { a, b, cb } = await pair({}, { autoAck: false });
    const toB = a.sw.peers().get(b.key.id)!;
    await toB.send(APP, Buffer.from("m1"));
    await cb.waitFor(() => cb.kinds().includes("receive"));
    const acked = cb.events.at(-2)!.seq; // everything before the receive
    cb.ack(acked);
    await new Promise((r) => setTimeout(r, 50));
    const token = cb.registered!.sessionToken;
    cb.close();
    await new Promise((r) => setTimeout(r, 50));
    await toB.send(APP, Buffer.from("m2"));
    const back = attach(b, { name: "app", channels: CHANNELS, sessionToken: token });
    await back.waitFor(() => back.kinds().filter((k) => k === "receive").length === 2);
    expect(back.registered?.resumed).toBe(true);
    expect(back.events[0]?.seq).toBe(acked + 1n);
    const texts = back.events.map((e) => (e.kind?.$case === "receive" ? Buffer.from(e.kind.value.message).toString() : e.kind?.$case));
    expect(texts).toEqual(["m1", "m2"]);
    expect(b.gw.remoteReactors().get("app")!.stats.resumes).toBe(1);
  });

  it("outside the window: refused with a reason, then a fresh session with a snapshot", async () => {
    const { a, b, cb } = await pair({ resumeWindowMs: 100 });
    const token = cb.registered!.sessionToken;
    cb.close();
    await new Promise((r) => setTimeout(r, 300));
    const back = attach(b, { name: "app", channels: CHANNELS, sessionToken: token });
    await back.waitFor(() => back.kinds().includes("addPeer"));
    expect(back.registered?.resumed).toBe(false);
    expect(back.registered?.resumeRefusedReason).toMatch(/expired|unknown/);
    expect(back.kinds()).toEqual(["onStart", "initPeer", "addPeer"]);
    const init = back.events[1];
    expect(init?.kind?.$case === "initPeer" && init.kind.value.peer?.peerId).toBe(a.key.id);
    expect(checkReactorTrace(toTrace(back.events), { complete: false })).toEqual({ ok: true });
  });

  it("a different channel list on re-attach is refused", async () => {
    const { b, cb } = await pair();
    cb.close();
    await new Promise((r) => setTimeout(r, 50));
    const other = attach(b, { name: "app", channels: [{ id: OTHER, priority: 1 }] });
    await other.waitFor(() => other.status !== null);
    expect(other.status?.code).toBe(GrpcStatus.FAILED_PRECONDITION);
  });

  it("a re-attach compares every descriptor field: another receive buffer capacity is refused", async () => {
    const { b, cb } = await pair();
    cb.close();
    await new Promise((r) => setTimeout(r, 50));
    const [ch] = CHANNELS;
    const other = attach(b, { name: "app", channels: [{ ...ch!, recvBufferCapacity: 8192 }] });
    await other.waitFor(() => other.status !== null);
    expect(other.status?.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(other.status?.details).toMatch(/registered different channels before/);
  });
});

describe("shutdown", () => {
  it("every reactor gets RemovePeer for every peer, then OnStop, then the stream ends cleanly", async () => {
    const { a, ca } = await pair();
    await a.stop();
    await ca.waitFor(() => ca.ended || ca.status !== null, 5000, "stream end");
    expect(ca.status === null || ca.status.code === GrpcStatus.OK).toBe(true);
    expect(ca.kinds().slice(-2)).toEqual(["removePeer", "onStop"]);
    expect(checkReactorTrace(toTrace(ca.events), { complete: true })).toEqual({ ok: true });
  });
});
