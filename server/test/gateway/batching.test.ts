/**
 * RequestBatch and ResultBatch on real gRPC streams: a batch behaves exactly
 * like its parts sent one by one (ack, then credit, then each command in
 * order, each answered on its own), its limits answer per command while the
 * stream lives on, and results come batched only to clients that asked.
 */
import { Client, type ServiceError, credentials, status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { AttachRequest, AttachResponse, type Command, ErrorReason, OverflowPolicy } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { MAX_INFLIGHT_COMMANDS_PER_STREAM } from "../../src/gateway/attach-stream.js";
import { MAX_RESULT_BATCH_BYTES } from "../../src/gateway/results.js";
import { MAX_BATCH_COMMANDS, MAX_LARGE_REQUEST_COMMANDS } from "../../src/gateway/request-screen.js";
import { until } from "../support/nodes.js";
import { AttachClient } from "./attach-client.js";
import { type GatewayNode, type createGatewayNode, gatewayFixtures } from "./support.js";

const APP = 0x60;
const OTHER = 0x61;
const CHANNELS = [{ id: APP, priority: 5, sendQueueCapacity: 100 }];
const ATTACH = "/switchboard.gateway.v1.ReactorGatewayService/Attach";

const { gwNode, attach, cleanup } = gatewayFixtures();
const raws: Client[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  await cleanup();
});

type ClientOpts = Partial<ConstructorParameters<typeof AttachClient>[1]>;

/** Two nodes with reactor "app" attached and started; A dialed B. */
async function pair(opts: { a?: ClientOpts; b?: ClientOpts; gwA?: Parameters<typeof createGatewayNode>[0]; gwB?: Parameters<typeof createGatewayNode>[0]; p2pA?: Parameters<typeof createGatewayNode>[1] } = {}) {
  const a = await gwNode({ reactors: ["app"], ...opts.gwA }, opts.p2pA);
  const b = await gwNode({ reactors: ["app"], ...opts.gwB });
  const ca = attach(a, { name: "app", channels: CHANNELS, ...opts.a });
  const cb = attach(b, { name: "app", channels: CHANNELS, ...opts.b });
  await Promise.all([a.start(), b.start()]);
  await a.sw.dialPeerWithAddress(b.address());
  await ca.waitFor(() => ca.kinds().includes("addPeer"), 5000, "A AddPeer");
  await cb.waitFor(() => cb.kinds().includes("addPeer"), 5000, "B AddPeer");
  return { a, b, ca, cb };
}

const send = (peerId: string, message: Uint8Array, channelId = APP, timeoutMs = 0): Command["kind"] => ({ $case: "send", value: { connectionId: "", peerId, channelId, message, timeoutMs } });
const receivedMessages = (c: AttachClient): string[] => c.events.flatMap((e) => (e.kind?.$case === "receive" ? [Buffer.from(e.kind.value.message).toString()] : []));
const receives = (c: AttachClient): number => c.kinds().filter((k) => k === "receive").length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A raw Attach stream with generated messages both ways. */
function rawStream(node: GatewayNode) {
  const raw = new Client(node.grpc, credentials.createInsecure());
  raws.push(raw);
  const call = raw.makeBidiStreamRequest(
    ATTACH,
    (r: AttachRequest) => Buffer.from(AttachRequest.encode(r).finish()),
    (b: Buffer) => AttachResponse.decode(b),
  );
  const got: AttachResponse[] = [];
  call.on("data", (r: AttachResponse) => got.push(r));
  const status = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  return { call, got, status };
}

/** A raw Attach stream that writes bytes as they are. */
function bytesStream(node: GatewayNode) {
  const raw = new Client(node.grpc, credentials.createInsecure());
  raws.push(raw);
  const call = raw.makeBidiStreamRequest(ATTACH, (b: Buffer) => b, (b: Buffer) => AttachResponse.decode(b));
  const got: AttachResponse[] = [];
  call.on("data", (r: AttachResponse) => got.push(r));
  const status = new Promise<ServiceError>((resolve) => call.on("error", resolve));
  return { call, got, status };
}

const registerRequest = (name: string, batchResults = false): AttachRequest => ({
  msg: {
    $case: "register",
    value: {
      reactorName: name,
      channels: [{ id: APP, priority: 1, sendQueueCapacity: 10, recvBufferCapacity: 0, recvMessageCapacity: 1024 * 1024, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }],
      sessionToken: "",
      initialCredit: { messages: 100, bytes: 1_000_000n },
      batchResults,
    },
  },
});

describe("a batch is its parts sent one by one", () => {
  it("runs its commands in order: messages arrive in order, and each command sees the effects of the ones before it", async () => {
    const { b, ca, cb } = await pair({ a: { batchResults: true } });
    const texts = Array.from({ length: 50 }, (_, i) => `m${i}`);
    const kinds: Command["kind"][] = [
      ...texts.slice(0, 25).map((t) => send(b.key.id, Buffer.from(t))),
      { $case: "setPeerData", value: { connectionId: "", peerId: b.key.id, key: "k", value: Buffer.from("one") } },
      { $case: "getPeerData", value: { connectionId: "", peerId: b.key.id, key: "k" } },
      { $case: "setPeerData", value: { connectionId: "", peerId: b.key.id, key: "k", value: Buffer.from("two") } },
      { $case: "getPeerData", value: { connectionId: "", peerId: b.key.id, key: "k" } },
      ...texts.slice(25).map((t) => ({ $case: "trySend" as const, value: { connectionId: "", peerId: b.key.id, channelId: APP, message: Buffer.from(t) } })),
    ];
    const ids = ca.batch(kinds);
    const results = await ca.resultsOf(ids);
    expect(results.every((r) => r.error === undefined)).toBe(true);
    expect(results[26]?.kind).toEqual({ $case: "peerData", value: { found: true, value: Buffer.from("one") } });
    expect(results[28]?.kind).toEqual({ $case: "peerData", value: { found: true, value: Buffer.from("two") } });
    expect(results.filter((r) => r.kind?.$case === "send").every((r) => r.kind?.$case === "send" && r.kind.value.queued)).toBe(true);
    // Every command completed at once, so the results came in command order.
    expect(ca.resultOrder.map((r) => r.requestId)).toEqual(ids);
    await cb.waitFor(() => receives(cb) === 50, 10_000, "50 messages");
    expect(receivedMessages(cb)).toEqual(texts);
  });

  it("answers each failing command with its own error, and the stream lives on", async () => {
    // A small capacity on our channel, so that a "too large" message keeps the batch small.
    const { b, ca } = await pair({ a: { batchResults: true, channels: [{ id: APP, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: 1024 }] } });
    const ids = ca.batch([
      send(b.key.id, Buffer.from("ok")),
      send("00".repeat(20), Buffer.from("x")),
      { $case: "trySend", value: { connectionId: "", peerId: b.key.id, channelId: OTHER, message: Buffer.from("x") } },
      undefined,
      send(b.key.id, Buffer.alloc(1025)),
      { $case: "dialPeers", value: { addresses: ["nonsense"], persistent: false } },
      { $case: "numPeers", value: {} },
    ]);
    const [ok, unknown, unreg, empty, big, badAddr, num] = await ca.resultsOf(ids);
    expect(ok?.kind).toEqual({ $case: "send", value: { queued: true } });
    expect(unknown?.error).toMatchObject({ code: GrpcStatus.NOT_FOUND, reason: ErrorReason.ERROR_REASON_UNKNOWN_PEER });
    expect(unreg?.error).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_CHANNEL_NOT_REGISTERED });
    expect(unreg?.error?.message).toMatch(/try_send.channel_id/);
    expect(empty?.error?.message).toMatch(/command.kind/);
    expect(big?.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_MESSAGE_TOO_LARGE });
    expect(badAddr?.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_ADDRESS });
    expect(num?.kind).toEqual({ $case: "numPeers", value: { outbound: 1, inbound: 0, dialing: 0 } });
    const after = await ca.command({ $case: "numPeers", value: {} });
    expect(after.error).toBeUndefined();
    expect(ca.status).toBeNull();
  });

  it("before Register: each command is answered NOT_REGISTERED and the stream lives on; an ack in a batch ends it, as a lone ack does", async () => {
    const a = await gwNode();
    const s = rawStream(a);
    s.call.write({ msg: { $case: "batch", value: { ack: undefined, credit: undefined, commands: [1n, 2n, 3n].map((requestId) => ({ requestId, kind: { $case: "numPeers" as const, value: {} } })) } } });
    await until(() => s.got.length === 3, 5000, "three results");
    // Not registered, so the client's batch_results is unknown: one result per message.
    const results = s.got.map((r) => (r.msg?.$case === "result" ? r.msg.value : null));
    expect(results.map((r) => r?.requestId)).toEqual([1n, 2n, 3n]);
    for (const r of results) expect(r?.error).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_NOT_REGISTERED });
    s.call.write(registerRequest("late-but-fine"));
    await until(() => s.got.some((r) => r.msg?.$case === "registered"), 5000, "Registered");
    s.call.cancel();

    const t = rawStream(a);
    t.call.on("data", () => undefined);
    t.call.write({ msg: { $case: "batch", value: { ack: { eventSeq: 1n }, credit: undefined, commands: [{ requestId: 9n, kind: { $case: "numPeers", value: {} } }] } } });
    const st = await t.status;
    expect(st.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(st.details).toMatch(/batch.ack before register/);
    // The stream ended at the ack: the command after it never ran.
    expect(t.got.filter((r) => r.msg?.$case === "result")).toEqual([]);

    const u = rawStream(a);
    u.call.write({ msg: { $case: "batch", value: { ack: undefined, credit: { messages: 1, bytes: 1n }, commands: [] } } });
    const st2 = await u.status;
    expect(st2.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect(st2.details).toMatch(/batch.credit before register/);
  });

  it("an ack beyond the last event ends the stream with INVALID_ARGUMENT naming batch.ack.event_seq", async () => {
    const a = await gwNode({ reactors: ["app"] });
    const ca = attach(a, { name: "app", channels: CHANNELS });
    await a.start();
    await ca.waitFor(() => ca.kinds().includes("onStart"));
    ca.batch([], { ack: 1000n });
    await ca.waitFor(() => ca.status !== null);
    expect(ca.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ca.status?.details).toMatch(/batch.ack.event_seq: ack 1000 is beyond the last event sent/);
  });
});

describe("batch limits", () => {
  it(`more than ${MAX_BATCH_COMMANDS} commands: each is answered INVALID_ARGUMENT naming the limit, none runs, the ack and credit apply, and the stream lives on`, async () => {
    const { a, b, cb } = await pair({ b: { autoCredit: false, credit: { messages: 3, bytes: 1 << 20 } } });
    // B's reactor has used its credit on OnStart, InitPeer, AddPeer.
    const toB = a.sw.peers().get(b.key.id)!;
    expect(await toB.send(APP, Buffer.from("held"))).toBe(true);
    await sleep(100);
    expect(receives(cb)).toBe(0);
    const kinds: Command["kind"][] = Array.from({ length: MAX_BATCH_COMMANDS + 1 }, () => ({ $case: "setPeerData" as const, value: { connectionId: "", peerId: a.key.id, key: "k", value: Buffer.from("v") } }));
    const ids = cb.batch(kinds, { credit: { messages: 10, bytes: 1 << 20 } });
    const results = await cb.resultsOf(ids);
    for (const r of results) {
      expect(r.error).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_FIELD });
      expect(r.error?.message).toBe(`batch.commands: ${MAX_BATCH_COMMANDS + 1} commands exceed the limit of ${MAX_BATCH_COMMANDS} per batch; none of them ran`);
    }
    // None ran: the key was never set.
    expect(b.sw.peers().get(a.key.id)!.get("k")).toBeUndefined();
    // The credit in the same batch was applied: the held message came.
    await cb.waitFor(() => receives(cb) === 1, 5000, "the held message");
    const ok = await cb.command({ $case: "numPeers", value: {} });
    expect(ok.error).toBeUndefined();
    expect(cb.status).toBeNull();
  });

  it("a large batch just over the limit (sends, over 64 KiB) is still answered per command", async () => {
    const { b, ca } = await pair({ a: { batchResults: true } });
    const kinds = Array.from({ length: MAX_BATCH_COMMANDS + 1 }, () => send(b.key.id, Buffer.alloc(256, 1)));
    const ids = ca.batch(kinds);
    const results = await ca.resultsOf(ids);
    expect(results.every((r) => r.error?.reason === ErrorReason.ERROR_REASON_INVALID_FIELD && /exceed the limit of 1024/.test(r.error.message))).toBe(true);
    expect(ca.status).toBeNull();
    expect((await ca.command({ $case: "numPeers", value: {} })).error).toBeUndefined();
  });

  it(`a request over 64 KiB with more than ${MAX_LARGE_REQUEST_COMMANDS} commands ends the stream before decoding`, async () => {
    const { b, ca, a } = await pair();
    ca.batch(Array.from({ length: MAX_LARGE_REQUEST_COMMANDS + 1 }, () => send(b.key.id, Buffer.alloc(20, 1))));
    await ca.waitFor(() => ca.status !== null);
    expect(ca.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ca.status?.details).toMatch(/more than 4096 commands/);
    expect(a.gw.refusedRequests).toBe(1);
  });

  it("counts every command of a batch against the commands in progress per stream", async () => {
    // A's connection is rate-limited (one batch of packets, ~10 KB, per 100 ms sample): a 1000 KB message
    // occupies it for seconds, one more message fills the queue (capacity 1), the others wait for room.
    const slowChannels = [{ id: APP, priority: 5, sendQueueCapacity: 1 }];
    const { a, b, ca } = await pair({ a: { batchResults: true, channels: slowChannels }, b: { channels: slowChannels }, p2pA: { mconn: { flushThrottleMs: 2, sendRateBytesPerSecond: 1000 } } });
    const big = Buffer.alloc(1000 * 1024, 1);
    const small = Buffer.alloc(16, 1);
    const first = ca.batch([send(b.key.id, big, APP, 30_000), ...Array.from({ length: MAX_BATCH_COMMANDS - 1 }, () => send(b.key.id, small, APP, 30_000))]);
    await sleep(300);
    const done = first.filter((id) => ca.results.has(id)).length;
    expect(done).toBeGreaterThanOrEqual(1);
    expect(done).toBeLessThanOrEqual(2);
    // MAX - done sends are in progress: `done` more fit, the next 5 do not.
    const second = ca.batch(Array.from({ length: done + 5 }, () => send(b.key.id, small, APP, 30_000)));
    await ca.waitFor(() => second.slice(done).every((id) => ca.results.has(id)), 5000, "refusals");
    await sleep(100);
    for (const id of second.slice(0, done)) expect(ca.results.has(id)).toBe(false);
    // The gauge behind `<ns>_gateway_commands_in_progress` sees the full stream.
    expect(a.gw.commandsInProgress().get("app")).toBe(MAX_INFLIGHT_COMMANDS_PER_STREAM);
    for (const id of second.slice(done)) {
      expect(ca.results.get(id)?.error).toMatchObject({ code: GrpcStatus.RESOURCE_EXHAUSTED, reason: ErrorReason.ERROR_REASON_TOO_MANY_COMMANDS });
      expect(ca.results.get(id)?.error?.message).toMatch(new RegExp(`more than ${MAX_INFLIGHT_COMMANDS_PER_STREAM} commands in progress`));
    }
    expect(ca.status).toBeNull();
  });
});

describe("connections a reactor remembers as removed", () => {
  it("counts each removed connection once, and a command naming one says it was removed", async () => {
    const { a, b, ca } = await pair({ a: { batchResults: true } });
    const rr = a.gw.remoteReactors().get("app");
    expect(rr?.removedConnectionsRemembered).toBe(0);
    const peer = a.sw.peers().get(b.key.id);
    if (peer === undefined) throw new Error("A has no peer B");
    a.sw.stopPeerGracefully(peer);
    await ca.waitFor(() => ca.kinds().includes("removePeer"), 5000, "RemovePeer");
    expect(rr?.removedConnectionsRemembered).toBe(1);
    const [id] = ca.batch([{ $case: "send", value: { connectionId: peer.connectionId, peerId: "", channelId: APP, message: Buffer.from("x"), timeoutMs: 0 } }]);
    await ca.waitFor(() => ca.results.has(id as bigint), 5000, "the result");
    expect(ca.results.get(id as bigint)?.error?.reason).toBe(ErrorReason.ERROR_REASON_PEER_REMOVED);
  });
});

describe("ack and credit in a batch", () => {
  it("a batch's credit releases events held for lack of credit", async () => {
    const { a, b, cb } = await pair({ b: { autoCredit: false, credit: { messages: 4, bytes: 1 << 20 } } });
    const toB = a.sw.peers().get(b.key.id)!;
    for (let i = 0; i < 5; i++) expect(await toB.send(APP, Buffer.from(`c${i}`))).toBe(true);
    await cb.waitFor(() => receives(cb) === 1);
    await sleep(150);
    expect(receives(cb)).toBe(1);
    cb.batch([], { credit: { messages: 10, bytes: 1 << 20 } });
    await cb.waitFor(() => receives(cb) === 5);
    expect(receivedMessages(cb)).toEqual(["c0", "c1", "c2", "c3", "c4"]);
  });

  it("a batch's ack releases a peer held by a full queue (block policy), and its commands run after it", async () => {
    const channels = [{ id: APP, priority: 5, sendQueueCapacity: 100, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_BLOCK }];
    const { a, b, cb } = await pair({ a: { channels }, b: { channels, autoAck: false, batchResults: true }, gwB: { eventQueueMaxMessages: 2 } });
    const toB = a.sw.peers().get(b.key.id)!;
    for (let i = 0; i < 6; i++) expect(await toB.send(APP, Buffer.from(`q${i}`))).toBe(true);
    await cb.waitFor(() => receives(cb) === 2);
    await sleep(150);
    expect(receives(cb)).toBe(2);
    cb.batch([], { ack: cb.events.at(-1)!.seq });
    await cb.waitFor(() => receives(cb) === 4);
    const [id] = cb.batch([{ $case: "numPeers", value: {} }], { ack: cb.events.at(-1)!.seq });
    await cb.waitFor(() => receives(cb) === 6);
    expect((await cb.resultsOf([id!]))[0]?.kind).toEqual({ $case: "numPeers", value: { outbound: 0, inbound: 1, dialing: 0 } });
    expect(receivedMessages(cb)).toEqual(["q0", "q1", "q2", "q3", "q4", "q5"]);
  });
});

describe("result batching", () => {
  it("answers in ResultBatches only a client that registered with batch_results", async () => {
    const { ca, cb } = await pair({ a: { batchResults: true } });
    const n = 10;
    const idsA = ca.batch(Array.from({ length: n }, () => ({ $case: "numPeers" as const, value: {} })));
    await ca.resultsOf(idsA);
    // Every result of one request completed in one turn: one ResultBatch.
    expect(ca.resultMessages).toEqual([n]);
    const idsB = cb.batch(Array.from({ length: n }, () => ({ $case: "numPeers" as const, value: {} })));
    await cb.resultsOf(idsB);
    expect(cb.resultMessages).toEqual(Array.from({ length: n }, () => 0));
    // Lone commands of a batching client are batched too (each its own turn here).
    await ca.command({ $case: "numPeers", value: {} });
    expect(ca.resultMessages.at(-1)).toBe(1);
  });

  it(`cuts a ResultBatch at ${MAX_RESULT_BATCH_BYTES} bytes of results`, async () => {
    const { b, ca } = await pair({ a: { batchResults: true } });
    const value = Buffer.alloc(60 * 1024, 3);
    expect((await ca.command({ $case: "setPeerData", value: { connectionId: "", peerId: b.key.id, key: "big", value } })).error).toBeUndefined();
    const before = ca.resultMessages.length;
    const ids = ca.batch(Array.from({ length: 40 }, () => ({ $case: "getPeerData" as const, value: { connectionId: "", peerId: b.key.id, key: "big" } })));
    const results = await ca.resultsOf(ids);
    expect(results.every((r) => r.kind?.$case === "peerData" && r.kind.value.value.length === value.length)).toBe(true);
    const sizes = ca.resultMessages.slice(before);
    expect(sizes.reduce((x, y) => x + y, 0)).toBe(40);
    expect(sizes.length).toBeGreaterThanOrEqual(3);
    for (const s of sizes) expect(s * value.length).toBeLessThanOrEqual(MAX_RESULT_BATCH_BYTES + value.length);
  });
});

describe("results and a client that does not read them", () => {
  it.each([
    { batchResults: true, total: 200, what: "a full ResultBatch waits" },
    // One stream message per result: 20 batches of 1024 commands are plenty to fill the buffers.
    { batchResults: false, total: 20, what: "single results fill the write buffer" },
  ])("stops reading the stream while $what, and goes on when the client reads again", async ({ batchResults, total }) => {
    let batchesRead = 0;
    let resultBatches = 0;
    const a = await gwNode({ reactors: ["app"] }, {}, { requestBatch: () => batchesRead++, resultBatch: () => resultBatches++ });
    const ca = attach(a, { name: "app", channels: CHANNELS, batchResults });
    await a.start();
    await ca.waitFor(() => ca.kinds().includes("onStart"));
    // The client stops reading: HTTP/2 flow control fills, then the node's write buffer.
    ca.call.pause();
    const ids: bigint[] = [];
    for (let i = 0; i < total; i++) ids.push(...ca.batch(Array.from({ length: MAX_BATCH_COMMANDS }, () => ({ $case: "numPeers" as const, value: {} }))));
    await until(() => batchesRead > 0, 5000, "the first batch read");
    // Wait until the node stops taking batches (unchanged for 1 s; slow on a loaded machine).
    let readWhilePaused = -1;
    for (let stable = 0, i = 0; stable < 5 && i < 100; i++) {
      stable = batchesRead === readWhilePaused ? stable + 1 : 0;
      readWhilePaused = batchesRead;
      await sleep(200);
    }
    // The node answered what it read, then stopped reading: far fewer than all batches were taken.
    expect(readWhilePaused).toBeLessThan(total / 2);
    expect(batchesRead).toBe(readWhilePaused);
    // What the gauges behind `<ns>_gateway_streams_read_paused` and `_results_waiting` read.
    expect(a.gw.resultsBacklog().pausedStreams).toBe(1);
    if (batchResults) expect(a.gw.resultsBacklog().waiting).toBeGreaterThan(0);
    ca.call.resume();
    await ca.resultsOf(ids, 30_000);
    expect(batchesRead).toBe(total);
    expect(a.gw.resultsBacklog()).toEqual({ waiting: 0, pausedStreams: 0 });
    if (batchResults) expect(resultBatches).toBeGreaterThanOrEqual(total);
    else expect(resultBatches).toBe(0);
    expect(ca.status).toBeNull();
  }, 60_000);
});

describe("the screen on batches", () => {
  it("admits a batch over 64 KiB made large by send payloads", async () => {
    const { b, ca, cb, a } = await pair({ a: { batchResults: true } });
    const kinds = Array.from({ length: 600 }, (_, i) => send(b.key.id, Buffer.from(`${i}`.padEnd(256, "."))));
    const ids = ca.batch(kinds, { credit: { messages: 1, bytes: 1 } });
    const results = await ca.resultsOf(ids);
    expect(results.every((r) => r.kind?.$case === "send" && r.kind.value.queued)).toBe(true);
    await cb.waitFor(() => receives(cb) === 600, 10_000, "600 messages");
    expect(a.gw.refusedRequests).toBe(0);
  });

  it("refuses a batch over 64 KiB that carries a large command without a payload", async () => {
    const { a, b, ca } = await pair();
    ca.batch([send(b.key.id, Buffer.from("x")), { $case: "setPeerData", value: { connectionId: "", peerId: b.key.id, key: "k", value: Buffer.alloc(70 * 1024) } }]);
    await ca.waitFor(() => ca.status !== null);
    expect(ca.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(ca.status?.details).toMatch(/only send, try_send and broadcast commands may exceed 65536 bytes/);
    expect(a.gw.refusedRequests).toBe(1);
    // A stream the node ended is forgotten (`<ns>_gateway_attach_streams`).
    expect(a.gw.openStreams).toBe(0);
  });

  it("refuses a batch over 64 KiB whose ack is not small, before decoding it", async () => {
    const a = await gwNode();
    const s = bytesStream(a);
    // RequestBatch { ack = 100 kB of repeated event_seq; commands = one send }.
    const ackBody = Buffer.alloc(100_000);
    for (let i = 0; i < ackBody.length; i += 2) ackBody[i] = 0x08; // field 1 varint, value 0
    const inner = Buffer.concat([Buffer.from([0x0a]), varint(ackBody.length), ackBody]);
    s.call.write(Buffer.concat([Buffer.from([0x2a]), varint(inner.length), inner]));
    const st = await s.status;
    expect(st.code).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(st.details).toMatch(/only send, try_send and broadcast commands may exceed/);
    expect(a.gw.refusedRequests).toBe(1);
  });
});

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}
