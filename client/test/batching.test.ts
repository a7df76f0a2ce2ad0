/**
 * Batching in the SDK: the outbox coalesces what one turn of the event loop
 * writes into one RequestBatch (bounded in commands and bytes), and the
 * engine settles commands from ResultBatches. Checked on the outbox alone,
 * then on the wire: a real grpc-js server stands in for the node and records
 * every AttachRequest as it arrived; then against a real node.
 */
import { type ServerDuplexStream, Server, ServerCredentials } from "@grpc/grpc-js";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { AttachRequest, type AttachResponse, type Command, ReactorGatewayServiceService } from "../src/gen/switchboard/gateway/v1/gateway.js";
import { FALLBACK_LIMITS, Outbox, limitsFromRegistered } from "../src/internal/outbox.js";
import { CommandError } from "../src/errors.js";
import { ReactorClient } from "../src/reactor-client.js";
import type { ReactorEvent } from "../src/types.js";
import { NODE_INFO, ev, until } from "./support/fake-node.js";
import { Recorder } from "./support/recorder.js";
import { SwitchboardNode, destroyAllNodes } from "./support/switchboard-node.js";

// What a node that tells no limits (older than Registered.limits) is held to.
const { maxBatchCommands: MAX_REQUEST_BATCH_COMMANDS, maxBatchPayloadBytes: MAX_REQUEST_BATCH_BYTES, maxControlRequestBytes: MAX_CONTROL_REQUEST_BYTES } = FALLBACK_LIMITS;
const CH = 0x70;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
const numPeers = (requestId: bigint): AttachRequest => ({ msg: { $case: "command", value: { requestId, kind: { $case: "numPeers", value: {} } } } });
const trySend = (requestId: bigint, size: number): AttachRequest => ({ msg: { $case: "command", value: { requestId, kind: { $case: "trySend", value: { connectionId: "c", peerId: "", channelId: CH, message: new Uint8Array(size) } } } } });

describe("Outbox", () => {
  it("writes what one turn emits as one batch: the last ack, the credits summed, the commands in order", async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    box.add(numPeers(1n));
    box.add({ msg: { $case: "ack", value: { eventSeq: 3n } } });
    box.add({ msg: { $case: "credit", value: { messages: 2, bytes: 10n } } });
    box.add(numPeers(2n));
    box.add({ msg: { $case: "ack", value: { eventSeq: 5n } } });
    box.add({ msg: { $case: "credit", value: { messages: 1, bytes: 7n } } });
    expect(out).toEqual([]);
    await turn();
    expect(out).toHaveLength(1);
    const m = out[0]?.msg;
    expect(m?.$case).toBe("batch");
    if (m?.$case !== "batch") return;
    expect(m.value.ack).toEqual({ eventSeq: 5n });
    expect(m.value.credit).toEqual({ messages: 3, bytes: 17n });
    expect(m.value.commands.map((c) => c.requestId)).toEqual([1n, 2n]);
  });

  it("sends a lone part as the plain message it is", async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    box.add({ msg: { $case: "ack", value: { eventSeq: 9n } } });
    await turn();
    box.add(numPeers(4n));
    await turn();
    box.add({ msg: { $case: "credit", value: { messages: 1, bytes: 1n } } });
    await turn();
    expect(out.map((r) => r.msg?.$case)).toEqual(["ack", "command", "credit"]);
  });

  it(`cuts a batch at ${MAX_REQUEST_BATCH_COMMANDS} commands and at ${MAX_REQUEST_BATCH_BYTES} payload bytes; a larger command goes alone`, async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    for (let i = 0; i < 2 * MAX_REQUEST_BATCH_COMMANDS + 5; i++) box.add(numPeers(BigInt(i)));
    // Two full batches left at once; the rest waits for the end of the turn.
    expect(out.map((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.length : -1))).toEqual([MAX_REQUEST_BATCH_COMMANDS, MAX_REQUEST_BATCH_COMMANDS]);
    await turn();
    expect(out.map((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.length : -1))).toEqual([MAX_REQUEST_BATCH_COMMANDS, MAX_REQUEST_BATCH_COMMANDS, 5]);
    const ids = out.flatMap((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.map((c) => Number(c.requestId)) : []));
    expect(ids).toEqual(Array.from({ length: ids.length }, (_, i) => i));

    out.length = 0;
    const third = Math.floor(MAX_REQUEST_BATCH_BYTES / 3);
    for (let i = 0; i < 4; i++) box.add(trySend(BigInt(i), third)); // the fourth would pass the bytes bound
    box.add(trySend(9n, MAX_REQUEST_BATCH_BYTES + 1)); // alone
    box.add(numPeers(10n));
    await turn();
    const shape = out.map((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.map((c) => Number(c.requestId)) : r.msg?.$case === "command" ? [Number(r.msg.value.requestId)] : []));
    expect(shape).toEqual([[0, 1, 2], [3], [9], [10]]);
  });

  it(`keeps a batch holding a command without a payload within ${MAX_CONTROL_REQUEST_BYTES} bytes (the node's screen); payload commands still batch large`, async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    const setPeerData = (requestId: bigint): AttachRequest => ({
      msg: { $case: "command", value: { requestId, kind: { $case: "setPeerData", value: { connectionId: "c".repeat(20), peerId: "", key: "k", value: new Uint8Array(3000) } } } },
    });
    box.add({ msg: { $case: "ack", value: { eventSeq: 2n ** 63n } } });
    box.add({ msg: { $case: "credit", value: { messages: 0xffff_ffff, bytes: 2n ** 63n } } });
    for (let i = 0; i < 40; i++) box.add(setPeerData(BigInt(i)));
    await turn();
    const sizes = out.map((r) => AttachRequest.encode(r).finish().length);
    expect(out.length).toBeGreaterThanOrEqual(2);
    for (const size of sizes) expect(size).toBeLessThanOrEqual(MAX_CONTROL_REQUEST_BYTES);
    const ids = out.flatMap((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.map((c) => Number(c.requestId)) : []));
    expect(ids).toEqual(Array.from({ length: 40 }, (_, i) => i));

    out.length = 0;
    for (let i = 0; i < 40; i++) box.add(trySend(BigInt(i), 3000));
    await turn();
    expect(out).toHaveLength(1);
    expect(AttachRequest.encode(out[0] as AttachRequest).finish().length).toBeGreaterThan(MAX_CONTROL_REQUEST_BYTES);
  });

  it("writes Register (and flushes before it) at once, and drops what waits when discarded", async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    box.add(numPeers(1n));
    box.add({ msg: { $case: "register", value: { reactorName: "x", channels: [], sessionToken: "", initialCredit: undefined, batchResults: true } } });
    expect(out.map((r) => r.msg?.$case)).toEqual(["command", "register"]);
    box.add(numPeers(2n));
    box.discard();
    await turn();
    expect(out).toHaveLength(2);
  });
});

describe("the node's limits (Registered.limits)", () => {
  const getPeerData = (requestId: bigint, keyLength: number): AttachRequest => ({
    msg: { $case: "command", value: { requestId, kind: { $case: "getPeerData", value: { connectionId: "c", peerId: "", key: "k".repeat(keyLength) } } } },
  });
  const counts = (out: AttachRequest[]): number[] => out.map((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.length : r.msg?.$case === "command" ? 1 : 0));

  it("a node that tells none is held to the fallback; each field a node sets replaces the fallback's", () => {
    expect(limitsFromRegistered(undefined)).toEqual(FALLBACK_LIMITS);
    expect(limitsFromRegistered({ maxBatchCommands: 8, maxBatchPayloadBytes: 0, maxControlRequestBytes: 0, maxMessageBytes: 4096 })).toEqual({ ...FALLBACK_LIMITS, maxBatchCommands: 8, maxMessageBytes: 4096 });
  });

  it("a node's smaller limits cut batches: commands per batch, payload bytes, control request bytes, message bytes", async () => {
    const out: AttachRequest[] = [];
    const box = new Outbox((r) => out.push(r));
    box.setLimits({ maxBatchCommands: 3, maxBatchPayloadBytes: 100, maxControlRequestBytes: 400, maxMessageBytes: 1000 });
    for (let i = 0; i < 7; i++) box.add(numPeers(BigInt(i)));
    await turn();
    expect(counts(out)).toEqual([3, 3, 1]);

    out.length = 0;
    for (let i = 0; i < 3; i++) box.add(trySend(BigInt(i), 60)); // 60 + 60 > 100 payload bytes
    await turn();
    expect(counts(out)).toEqual([1, 1, 1]);

    out.length = 0;
    box.setLimits({ maxBatchCommands: 3, maxBatchPayloadBytes: 1 << 20, maxControlRequestBytes: 400, maxMessageBytes: 1000 });
    for (let i = 0; i < 4; i++) box.add(trySend(BigInt(i), 400)); // two fit 1000 bytes encoded, three do not
    await turn();
    expect(counts(out)).toEqual([2, 2]);
    for (const r of out) expect(AttachRequest.encode(r).finish().length).toBeLessThanOrEqual(1000);

    out.length = 0;
    for (let i = 0; i < 6; i++) box.add(getPeerData(BigInt(i), 100)); // commands without a payload: batches within 400 bytes
    await turn();
    expect(out.length).toBeGreaterThan(1);
    for (const r of out) expect(AttachRequest.encode(r).finish().length).toBeLessThanOrEqual(400);
    expect(counts(out).reduce((a, b) => a + b, 0)).toBe(6);
  });
});

/** A grpc-js server standing in for the node: records each AttachRequest as it arrived on the wire. */
class WireNode {
  readonly requests: AttachRequest[] = [];
  call: ServerDuplexStream<AttachRequest, AttachResponse> | null = null;
  private constructor(
    private readonly server: Server,
    readonly address: string,
  ) {}

  static async start(): Promise<WireNode> {
    const server = new Server();
    let node: WireNode | null = null;
    server.addService(ReactorGatewayServiceService, {
      attach: (call: ServerDuplexStream<AttachRequest, AttachResponse>) => {
        if (node === null) return;
        node.call = call;
        call.on("data", (r: AttachRequest) => node?.requests.push(r));
        call.on("error", () => undefined);
      },
    });
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (err, p) => (err === null ? resolve(p) : reject(err)));
    });
    node = new WireNode(server, `127.0.0.1:${port}`);
    return node;
  }

  write(res: AttachResponse): void {
    this.call?.write(res);
  }

  commands(): Command[] {
    return this.requests.flatMap((r) => (r.msg?.$case === "batch" ? r.msg.value.commands : r.msg?.$case === "command" ? [r.msg.value] : []));
  }

  close(): void {
    this.server.forceShutdown();
  }
}

describe("on the wire", () => {
  const cleanups: (() => void)[] = [];
  afterEach(() => {
    for (const c of cleanups.splice(0)) c();
  });

  it("registers with batch_results, sends one tick's commands as one RequestBatch, and settles them from one ResultBatch", async () => {
    const wire = await WireNode.start();
    const reactor = new ReactorClient({ target: wire.address, name: "app", channels: [{ id: CH, priority: 5 }], reconnect: false });
    const seen: ReactorEvent[] = [];
    const sub = reactor.events$.subscribe((e) => seen.push(e));
    cleanups.push(() => sub.unsubscribe(), () => wire.close());
    await until(() => wire.requests.length === 1, 5000, "Register");
    const reg = wire.requests[0]?.msg;
    expect(reg?.$case === "register" && reg.value.batchResults).toBe(true);
    wire.write({ msg: { $case: "registered", value: { sessionToken: "t", resumed: false, resumeRefusedReason: "", nodeInfo: NODE_INFO, nextEventSeq: 1n, limits: undefined } } });
    await until(() => reactor.state === "attached", 5000, "attached");

    const pending = Array.from({ length: 20 }, () => reactor.numPeers());
    await until(() => wire.commands().length === 20, 5000, "20 commands");
    expect(wire.requests).toHaveLength(2);
    const batch = wire.requests[1]?.msg;
    expect(batch?.$case === "batch" && batch.value.commands.length).toBe(20);

    const ids = wire.commands().map((c) => c.requestId);
    wire.write({ msg: { $case: "results", value: { results: ids.map((requestId, i) => ({ requestId, error: undefined, kind: { $case: "numPeers", value: { outbound: i, inbound: 0, dialing: 0 } } })) } } });
    const counts = await Promise.all(pending);
    expect(counts.map((c) => c.outbound)).toEqual(Array.from({ length: 20 }, (_, i) => i));
  });

  it("obeys the limits the node sent in Registered: batches of its size, and a command over its control limit refused before it is written", async () => {
    const wire = await WireNode.start();
    const reactor = new ReactorClient({ target: wire.address, name: "app", channels: [{ id: CH, priority: 5 }], reconnect: false });
    const sub = reactor.events$.subscribe(() => undefined);
    cleanups.push(() => sub.unsubscribe(), () => wire.close());
    await until(() => wire.requests.length === 1, 5000, "Register");
    const limits = { maxBatchCommands: 4, maxBatchPayloadBytes: 1 << 20, maxControlRequestBytes: 512, maxMessageBytes: 1 << 20 };
    wire.write({ msg: { $case: "registered", value: { sessionToken: "t", resumed: false, resumeRefusedReason: "", nodeInfo: NODE_INFO, nextEventSeq: 1n, limits } } });
    await until(() => reactor.state === "attached", 5000, "attached");

    const pending = Array.from({ length: 10 }, () => reactor.numPeers());
    await until(() => wire.commands().length === 10, 5000, "10 commands");
    expect(wire.requests.slice(1).map((r) => (r.msg?.$case === "batch" ? r.msg.value.commands.length : 1))).toEqual([4, 4, 2]);
    const ids = wire.commands().map((c) => c.requestId);
    wire.write({ msg: { $case: "results", value: { results: ids.map((requestId) => ({ requestId, error: undefined, kind: { $case: "numPeers", value: { outbound: 0, inbound: 0, dialing: 0 } } })) } } });
    await Promise.all(pending);

    // 600 bytes fit the fallback's 64 KiB, not this node's 512: refused here, never written (the node would end the stream).
    const peer = { id: "p", connectionId: "c" };
    const refused = reactor.setPeerData(peer, "big", new Uint8Array(600));
    await expect(refused).rejects.toBeInstanceOf(CommandError);
    await expect(refused).rejects.toThrow(/\(INVALID_FIELD\): the command is over 512 bytes encoded/);
    // 2 MiB fit the fallback's 110 MiB message, not this node's 1 MiB.
    const tooBig = reactor.trySend(peer, CH, new Uint8Array(2 << 20));
    await expect(tooBig).rejects.toThrow(/\(MESSAGE_TOO_LARGE\): the command is over 1048576 bytes encoded/);
    await new Promise((r) => setTimeout(r, 20));
    expect(wire.commands()).toHaveLength(10);
  });

  it("acknowledges and re-grants a batch of events, and writes the echoes they cause, in one RequestBatch", async () => {
    const wire = await WireNode.start();
    const reactor = new ReactorClient({ target: wire.address, name: "app", channels: [{ id: CH, priority: 5 }], reconnect: false, creditWindow: { messages: 8, bytes: 1 << 20 } });
    const sub = reactor.events$.subscribe((e) => {
      if (e.type === "receive") void reactor.trySend(e.peer, CH, e.message).catch(() => undefined);
    });
    cleanups.push(() => sub.unsubscribe(), () => wire.close());
    await until(() => wire.requests.length === 1, 5000, "Register");
    wire.write({ msg: { $case: "registered", value: { sessionToken: "t", resumed: false, resumeRefusedReason: "", nodeInfo: NODE_INFO, nextEventSeq: 1n, limits: undefined } } });
    wire.write({ msg: { $case: "events", value: { events: [ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"), ...[4, 5, 6, 7, 8].map((s) => ev.recv(s, "p", "c", CH, Uint8Array.of(s)))] } } });
    await until(() => wire.commands().length === 5, 5000, "5 echoes");
    await new Promise((r) => setTimeout(r, 50));
    // Register, then one batch: ack 8, the 8 credits back (queue dry), the 5 echoes.
    expect(wire.requests).toHaveLength(2);
    const m = wire.requests[1]?.msg;
    expect(m?.$case).toBe("batch");
    if (m?.$case !== "batch") return;
    expect(m.value.ack).toEqual({ eventSeq: 8n });
    expect(m.value.credit).toEqual({ messages: 8, bytes: 5n });
    expect(m.value.commands.map((c) => (c.kind?.$case === "trySend" ? c.kind.value.message[0] : -1))).toEqual([4, 5, 6, 7, 8]);
  });
});

describe("against a real node", () => {
  afterAll(async () => {
    await destroyAllNodes();
  }, 30_000);

  it("2000 commands issued in one tick go as batches of at most 1024 and all succeed, in order", async () => {
    const net = "batch-net";
    const [a, b] = await Promise.all([
      SwitchboardNode.start({ moniker: "ba", network: net, reactors: ["app"] }),
      SwitchboardNode.start({ moniker: "bb", network: net, reactors: ["app"] }),
    ]);
    const channels = [{ id: CH, priority: 5, sendQueueCapacity: 5000 }];
    const ra = new Recorder(new ReactorClient({ target: await a.grpc, name: "app", channels, maxInflightCommands: 4000, reconnect: false }));
    const rb = new Recorder(new ReactorClient({ target: await b.grpc, name: "app", channels, creditWindow: { messages: 4096 }, reconnect: false }));
    try {
      await Promise.all([a.started, b.started]);
      await ra.client.dialPeers([await b.started]);
      await ra.waitFor(() => ra.events.some((e) => e.type === "addPeer"), "A: AddPeer");
      await rb.waitFor(() => rb.events.some((e) => e.type === "addPeer"), "B: AddPeer");
      const peer = ra.events.find((e) => e.type === "addPeer");
      if (peer?.type !== "addPeer") throw new Error("no peer");
      const n = 2000;
      const queued = await Promise.all(Array.from({ length: n }, (_, i) => ra.client.trySend(peer.peer, CH, new TextEncoder().encode(`m${i}`))));
      expect(queued.every((q) => q)).toBe(true);
      await rb.waitFor(() => rb.events.filter((e) => e.type === "receive").length === n, `${n} messages`);
      const got = rb.events.flatMap((e) => (e.type === "receive" ? [new TextDecoder().decode(e.message)] : []));
      expect(got).toEqual(Array.from({ length: n }, (_, i) => `m${i}`));
    } finally {
      ra.stop();
      rb.stop();
    }
  }, 60_000);

  it("40 SetPeerData of 3 KB issued at once all succeed on one stream; one the node could not read fails here, unsent", async () => {
    const node = await SwitchboardNode.start({ moniker: "pd", network: "pd-net", reactors: ["app"] });
    const peerNode = await SwitchboardNode.start({ moniker: "pe", network: "pd-net", reactors: ["app"] });
    const channels = [{ id: CH, priority: 5, sendQueueCapacity: 10 }];
    const ra = new Recorder(new ReactorClient({ target: await node.grpc, name: "app", channels, reconnect: false }));
    const rb = new Recorder(new ReactorClient({ target: await peerNode.grpc, name: "app", channels, reconnect: false }));
    try {
      await Promise.all([node.started, peerNode.started]);
      await ra.client.dialPeers([await peerNode.started]);
      await ra.waitFor(() => ra.events.some((e) => e.type === "addPeer"), "AddPeer");
      const added = ra.events.find((e) => e.type === "addPeer");
      if (added?.type !== "addPeer") throw new Error("no peer");
      const value = (i: number): Uint8Array => new Uint8Array(3000).fill(i);
      await Promise.all(Array.from({ length: 40 }, (_, i) => ra.client.setPeerData(added.peer, `k${i}`, value(i))));
      const read = await Promise.all(Array.from({ length: 40 }, (_, i) => ra.client.getPeerData(added.peer, `k${i}`)));
      read.forEach((v, i) => expect(new Uint8Array(v ?? [])).toEqual(value(i)));
      const tooLarge = ra.client.setPeerData(added.peer, "big", new Uint8Array(MAX_CONTROL_REQUEST_BYTES));
      await expect(tooLarge).rejects.toBeInstanceOf(CommandError);
      await expect(tooLarge).rejects.toMatchObject({ code: 3, reason: "INVALID_FIELD" });
      // The stream lived through all of it: still the first session, and commands still work.
      expect(new Uint8Array((await ra.client.getPeerData(added.peer, "k0")) ?? [])).toEqual(value(0));
      expect(ra.events.filter((e) => e.type === "start")).toHaveLength(1);
    } finally {
      ra.stop();
      rb.stop();
    }
  }, 60_000);
});
