/**
 * The SDK conformance scenarios (client/conformance/SCENARIOS.md) against real
 * Switchboard nodes started with the CLI. Test names start with the scenario
 * IDs. The scenarios of one group share nodes and run in order.
 *
 * Nodes: R1–R5 use n1 (waits for `app`) and n2 (waits for `app,other`).
 * E*, C*, F1, S1, X1 use A, B, C (each waits for `app`); B's reactor reaches
 * its node through a TCP proxy so that S1 can cut its stream. S2 uses S
 * (`--grpc.resume_window 200ms`, its reactor behind a proxy) and T.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { type Observable, filter, firstValueFrom, tap } from "rxjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttachError, CommandError, Status } from "../src/errors.js";
import type { AttachRequest, AttachResponse } from "../src/gen/switchboard/gateway/v1/gateway.js";
import { NodeClient } from "../src/node-client.js";
import { ReactorClient, type ReactorClientOptions } from "../src/reactor-client.js";
import { type AttachTransport, type GrpcAttachTransport, createGrpcAttachTransport } from "../src/transport.js";
import type { ChannelConfig, PeerInfo, ReactorEvent } from "../src/types.js";
import { checkGrammar } from "./support/grammar.js";
import { Recorder } from "./support/recorder.js";
import { SwitchboardNode, TcpProxy, destroyAllNodes } from "./support/switchboard-node.js";

const NET = `conformance-${randomBytes(3).toString("hex")}`;
const APP = 0x70;
/** The scenario list's channel: 0x70, priority 5, send queue 100 (other parameters: the node's defaults). */
const CHANNELS: readonly ChannelConfig[] = [{ id: APP, priority: 5, sendQueueCapacity: 100 }];
/** The node's default recvMessageCapacity. */
const DEFAULT_RECV_MESSAGE_CAPACITY = 22_020_096;
/** B's credit window in F1: small, so that credit must flow back many times for 200 messages. */
const WINDOW = 16;
const FAST_RECONNECT = { initialDelayMs: 50, maxDelayMs: 200 } as const;

const proxies: TcpProxy[] = [];
const recorders: Recorder[] = [];
const transports: GrpcAttachTransport[] = [];

async function startNode(moniker: string, reactors: readonly string[] = ["app"], flags: readonly string[] = []): Promise<SwitchboardNode> {
  return SwitchboardNode.start({ moniker, network: NET, reactors, flags });
}

function reactor(target: string, options: Partial<ReactorClientOptions> = {}): ReactorClient {
  return new ReactorClient({ target, name: "app", channels: CHANNELS, reconnect: FAST_RECONNECT, ...options });
}

function record(client: ReactorClient): Recorder {
  const r = new Recorder(client);
  recorders.push(r);
  return r;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** The error `events$` fails with (and fails the test if it emits a node event first). */
async function attachError(events$: Observable<ReactorEvent>): Promise<AttachError> {
  const err: unknown = await firstValueFrom(events$.pipe(filter((e) => e.type !== "session"))).then(
    (e) => new Error(`expected an attach error, got event ${e.type}`),
    (e: unknown) => e,
  );
  if (!(err instanceof AttachError)) throw err;
  return err;
}

async function commandError(p: Promise<unknown>): Promise<CommandError> {
  const err: unknown = await p.then(
    (v) => new Error(`expected a CommandError, got ${String(v)}`),
    (e: unknown) => e,
  );
  if (!(err instanceof CommandError)) throw err;
  return err;
}

afterAll(async () => {
  for (const r of recorders) r.stop();
  for (const t of transports) t.close();
  await Promise.all(proxies.map((p) => p.close()));
  await destroyAllNodes();
}, 30_000);

describe("registration", () => {
  let n1: SwitchboardNode;
  let n2: SwitchboardNode;
  let r1: Recorder;

  beforeAll(async () => {
    [n1, n2] = await Promise.all([startNode("n1"), startNode("n2", ["app", "other"])]);
  });

  it("R1 register: Registered carries the node's ID and network; the node starts; the first event is OnStart", async () => {
    r1 = record(reactor(await n1.grpc, { reconnect: false }));
    await r1.waitFor(() => r1.of("start").length > 0, "OnStart");
    const [session, first] = r1.events;
    expect(session).toMatchObject({ type: "session", resumed: false, refusedReason: "", nodeInfo: { nodeId: n1.nodeId, network: NET, channels: [APP] } });
    expect(first?.type).toBe("start");
    expect(await n1.started).toMatch(new RegExp(`^${n1.nodeId}@127\\.0\\.0\\.1:\\d+$`));
  });

  it("R2 name attached elsewhere: a second stream registering `app` fails with ALREADY_EXISTS", async () => {
    const twin = reactor(await n1.grpc, { reconnect: false });
    const err = await attachError(twin.events$);
    expect(err.code).toBe(Status.ALREADY_EXISTS);
    expect(err.details).toMatch(/attached on another stream/);
    // The first stream is unaffected.
    expect(r1.outcome).toBeUndefined();
    expect(r1.client.state).toBe("attached");
  });

  it("R3 channel owned by another reactor: `other` registering 0x70 fails with ALREADY_EXISTS naming `app`", async () => {
    const app = record(reactor(await n2.grpc, { reconnect: false }));
    await app.waitFor(() => app.of("session").length > 0, "app registered on n2");
    const other = reactor(await n2.grpc, { name: "other", reconnect: false });
    const err = await attachError(other.events$);
    expect(err.code).toBe(Status.ALREADY_EXISTS);
    expect(err.details).toMatch(/"app"/);
  });

  it("R4 bad descriptor: channel id 300 fails with INVALID_ARGUMENT naming register.channels[0].id", async () => {
    const bad = reactor(await n1.grpc, { name: "bad", channels: [{ id: 300, priority: 5 }], reconnect: false });
    const err = await attachError(bad.events$);
    expect(err.code).toBe(Status.INVALID_ARGUMENT);
    expect(err.details).toContain("register.channels[0].id");
  });

  it("R5 registration after start: a reactor the node did not wait for fails with FAILED_PRECONDITION", async () => {
    await n1.started;
    const late = reactor(await n1.grpc, { name: "late", channels: [{ id: 0x71, priority: 1 }], reconnect: false });
    const err = await attachError(late.events$);
    expect(err.code).toBe(Status.FAILED_PRECONDITION);
    expect(err.details).toMatch(/before start/);
  });
});

describe("peers, commands, flow control, resume, shutdown", () => {
  let a: SwitchboardNode;
  let b: SwitchboardNode;
  let c: SwitchboardNode;
  let ra: Recorder;
  let rb: Recorder;
  let rc: Recorder;
  let proxyB: TcpProxy;
  let nodeA: NodeClient;
  /** A's connection to B, as A's reactor saw it. */
  let bFromA: PeerInfo;
  /** Credit bookkeeping of B's reactor, per Attach call, seen on the wire. */
  const calls: { granted: number; received: number }[] = [];
  const violations: string[] = [];

  beforeAll(async () => {
    [a, b, c] = await Promise.all([startNode("a"), startNode("b"), startNode("c")]);
    proxyB = await TcpProxy.start(await b.grpc);
    proxies.push(proxyB);
    // B's reactor: through the proxy, with a transport that records credit and events on the wire.
    const grpcB = createGrpcAttachTransport(proxyB.address, { reconnectDelayMs: 50, maxReconnectDelayMs: 200 });
    transports.push(grpcB);
    const tapped: AttachTransport = (requests: Observable<AttachRequest>): Observable<AttachResponse> => {
      const call = { granted: 0, received: 0 };
      calls.push(call);
      const first = calls.length === 1;
      const check = (): void => {
        // On the first call nothing was held before Register: granted <= window + consumed exactly.
        // rb is assigned once the client exists; the first Register is written before that.
        const consumed = (rb as Recorder | undefined)?.consumed ?? 0;
        if (first && call.granted > WINDOW + consumed) violations.push(`granted ${call.granted} > window ${WINDOW} + consumed ${consumed}`);
        if (call.received > call.granted) violations.push(`the node sent ${call.received} events on ${call.granted} credits`);
      };
      return grpcB
        .transport(
          requests.pipe(
            tap((r) => {
              if (r.msg?.$case === "register") call.granted += r.msg.value.initialCredit?.messages ?? 0;
              else if (r.msg?.$case === "credit") call.granted += r.msg.value.messages;
              else return;
              check();
            }),
          ),
        )
        .pipe(
          tap((res) => {
            if (res.msg?.$case !== "events") return;
            call.received += res.msg.value.events.length;
            check();
          }),
        );
    };
    ra = record(reactor(await a.grpc));
    rb = record(reactor("unused", { transport: tapped, creditWindow: { messages: WINDOW } }));
    rc = record(reactor(await c.grpc));
    await Promise.all([a.started, b.started, c.started]);
    nodeA = new NodeClient(await a.grpc);
  });

  afterAll(() => {
    nodeA.close();
  });

  it("E1 event order: A dials B; both reactors see OnStart, InitPeer(peer, connection), AddPeer", async () => {
    const [outcome] = await nodeA.dialPeers([await b.started]);
    expect(outcome).toMatchObject({ connected: true, error: "" });
    await ra.waitFor(() => ra.of("addPeer").length === 1, "A: AddPeer");
    await rb.waitFor(() => rb.of("addPeer").length === 1, "B: AddPeer");
    for (const [r, other, outbound] of [[ra, b, true], [rb, a, false]] as const) {
      expect(r.events.map((e) => e.type)).toEqual(["session", "start", "initPeer", "addPeer"]);
      const [init] = r.of("initPeer");
      const [add] = r.of("addPeer");
      expect(init?.peer).toMatchObject({ id: other.nodeId, outbound, nodeInfo: { nodeId: other.nodeId, network: NET, channels: [APP] } });
      expect(init?.peer.connectionId).not.toBe("");
      expect(add?.peer.connectionId).toBe(init?.peer.connectionId);
      expect(checkGrammar(r.events)).toEqual([]);
    }
    bFromA = ra.of("addPeer")[0]!.peer;
  });

  it("E2 receive: Send from A's reactor reaches B's reactor with A's peer ID, the channel and the bytes", async () => {
    const from = rb.events.length;
    expect(await ra.client.send(bFromA, APP, text("e2-hello"))).toBe(true);
    await rb.waitFor(() => rb.of("receive", from).length === 1, "B: Receive");
    const got = rb.of("receive", from)[0]!;
    expect(got).toMatchObject({ peer: { id: a.nodeId }, channelId: APP });
    expect(str(got.message)).toBe("e2-hello");
  });

  it("C1 send / try_send: both report queued = true to a connected peer", async () => {
    const from = rb.events.length;
    expect(await ra.client.send(bFromA, APP, text("c1-send"))).toBe(true);
    expect(await ra.client.trySend(bFromA, APP, text("c1-try"))).toBe(true);
    await rb.waitFor(() => rb.of("receive", from).length === 2, "B: both messages");
    expect(rb.of("receive", from).map((e) => str(e.message))).toEqual(["c1-send", "c1-try"]);
  });

  it("C2 broadcast: with B and C connected to A, one result per peer, both queued, both reactors receive it", async () => {
    const [outcome] = await nodeA.dialPeers([await c.started]);
    expect(outcome?.connected).toBe(true);
    await ra.waitFor(() => ra.of("addPeer").length === 2, "A: AddPeer of C");
    await rc.waitFor(() => rc.of("addPeer").length === 1, "C: AddPeer of A");
    const fromB = rb.events.length;
    const fromC = rc.events.length;
    const results = await ra.client.broadcast(APP, text("c2-all"));
    expect(results.map((r) => r.peerId).sort()).toEqual([b.nodeId, c.nodeId].sort());
    expect(results.every((r) => r.queued)).toBe(true);
    for (const r of [rb, rc]) {
      const from = r === rb ? fromB : fromC;
      await r.waitFor(() => r.of("receive", from).length === 1, "the broadcast");
      const got = r.of("receive", from)[0]!;
      expect(got).toMatchObject({ peer: { id: a.nodeId }, channelId: APP });
      expect(str(got.message)).toBe("c2-all");
    }
  });

  it("C3 command errors: NOT_FOUND, FAILED_PRECONDITION, INVALID_ARGUMENT, and the stream stays usable", async () => {
    const unknown = await commandError(ra.client.send("f".repeat(40), APP, text("x")));
    expect(unknown).toMatchObject({ code: Status.NOT_FOUND, reason: "UNKNOWN_PEER" });
    const unregistered = await commandError(ra.client.send(bFromA, 0x71, text("x")));
    expect(unregistered).toMatchObject({ code: Status.FAILED_PRECONDITION, reason: "CHANNEL_NOT_REGISTERED" });
    const tooLarge = await commandError(ra.client.send(bFromA, APP, new Uint8Array(DEFAULT_RECV_MESSAGE_CAPACITY + 1)));
    expect(tooLarge).toMatchObject({ code: Status.INVALID_ARGUMENT, reason: "MESSAGE_TOO_LARGE" });
    expect(tooLarge.details).toMatch(/exceeds/);
    const from = rb.events.length;
    expect(await ra.client.send(bFromA, APP, text("c3-after"))).toBe(true);
    await rb.waitFor(() => rb.of("receive", from).length === 1, "a message after the errors");
    expect(ra.client.state).toBe("attached");
    expect(ra.outcome).toBeUndefined();
  });

  it("C5 peer data and queries: SetPeerData/GetPeerData round-trip; ListPeers, NumPeers, GetPeer describe the peer", async () => {
    await ra.client.setPeerData(bFromA, "conformance", text("c5-value"));
    expect(str((await ra.client.getPeerData(bFromA, "conformance"))!)).toBe("c5-value");
    expect(str((await ra.client.getPeerData(b.nodeId, "conformance"))!)).toBe("c5-value");
    expect(await ra.client.getPeerData(bFromA, "never-set")).toBeUndefined();
    const peers = await ra.client.listPeers();
    expect(peers.map((p) => p.id).sort()).toEqual([b.nodeId, c.nodeId].sort());
    expect(peers.find((p) => p.id === b.nodeId)).toMatchObject({ connectionId: bFromA.connectionId, outbound: true, nodeInfo: { network: NET } });
    expect(await ra.client.numPeers()).toEqual({ outbound: 2, inbound: 0, dialing: 0 });
    const status = await ra.client.getPeer(b.nodeId);
    expect(status.peer).toMatchObject({ id: b.nodeId, connectionId: bFromA.connectionId });
    expect(status.channels.map((ch) => ch.id)).toContain(APP);
    expect(status.bytesSent).toBeGreaterThan(0);
  });

  it("C7 many commands at once: 2000 sends issued without waiting are all queued and arrive in order", async () => {
    const from = rb.events.length;
    const n = 2000;
    const queued = await Promise.all(Array.from({ length: n }, (_, i) => ra.client.send(bFromA, APP, text(`c7-${i}`))));
    expect(queued.every((q) => q)).toBe(true);
    await rb.waitFor(() => rb.of("receive", from).length >= n, `${n} messages`, 20_000);
    expect(rb.of("receive", from).map((e) => str(e.message))).toEqual(Array.from({ length: n }, (_, i) => `c7-${i}`));
    expect(ra.client.state).toBe("attached");
  });

  it("F1 credit and backpressure: 200 messages to a slow reactor arrive in order, once each; credit <= consumed + window", async () => {
    expect(calls).toHaveLength(1);
    const from = rb.events.length;
    rb.slowMs = 2;
    for (let i = 0; i < 200; i++) expect(await ra.client.send(bFromA, APP, text(`f1-${i}`))).toBe(true);
    await rb.waitFor(() => rb.of("receive", from).length >= 200, "200 messages", 20_000);
    rb.slowMs = 0;
    await sleep(50);
    expect(rb.of("receive", from).map((e) => str(e.message))).toEqual(Array.from({ length: 200 }, (_, i) => `f1-${i}`));
    expect(violations).toEqual([]);
    expect(calls).toHaveLength(1);
    // Credit really flowed back (the window alone could not have carried 200 messages).
    expect(calls[0]!.granted).toBeGreaterThan(200);
    expect(calls[0]!.granted).toBeLessThanOrEqual(WINDOW + rb.consumed);
  });

  it("S1 resume inside the window: the stream is cut; the SDK resumes; no duplicate, no gap", async () => {
    const from = rb.events.length;
    rb.slowMs = 2;
    const sending = (async () => {
      for (let i = 0; i < 100; i++) expect(await ra.client.send(bFromA, APP, text(`s1-${i}`))).toBe(true);
    })();
    await rb.waitFor(() => rb.of("receive", from).length >= 20, "20 messages before the cut");
    proxyB.cut();
    await sending;
    await rb.waitFor(() => rb.of("receive", from).length >= 100, "100 messages", 20_000);
    rb.slowMs = 0;
    await sleep(50);
    expect(calls.length).toBeGreaterThanOrEqual(2);
    const sessions = rb.of("session", from);
    expect(sessions.length).toBeGreaterThanOrEqual(1);
    expect(sessions.every((s) => s.resumed && s.refusedReason === "")).toBe(true);
    expect(rb.of("receive", from).map((e) => str(e.message))).toEqual(Array.from({ length: 100 }, (_, i) => `s1-${i}`));
    // One session from the start: its events are numbered 1, 2, 3, ... with none missing or repeated.
    const seqs = rb.events.flatMap((e) => ("seq" in e ? [e.seq] : []));
    expect(seqs).toEqual(seqs.map((_, i) => BigInt(i + 1)));
    expect(checkGrammar(rb.events)).toEqual([]);
  });

  it("C4 stop a peer: StopPeerForError removes it on both sides with the reason; its connection is then PEER_REMOVED", async () => {
    const fromA = ra.events.length;
    const fromB = rb.events.length;
    await ra.client.stopPeerForError(bFromA, "c4: misbehaved");
    await ra.waitFor(() => ra.of("removePeer", fromA).length === 1, "A: RemovePeer of B");
    await rb.waitFor(() => rb.of("removePeer", fromB).length === 1, "B: RemovePeer of A");
    expect(ra.of("removePeer", fromA)[0]).toMatchObject({ peer: { id: b.nodeId, connectionId: bFromA.connectionId }, reason: "c4: misbehaved" });
    expect(rb.of("removePeer", fromB)[0]?.peer.id).toBe(a.nodeId);
    const err = await commandError(ra.client.send(bFromA, APP, text("too late")));
    expect(err).toMatchObject({ code: Status.NOT_FOUND, reason: "PEER_REMOVED" });
  });

  it("C6 dial: DialPeers([B]) from A's reactor connects A to B", async () => {
    const fromA = ra.events.length;
    await ra.client.dialPeers([await b.started]);
    await ra.waitFor(() => ra.of("addPeer", fromA).length === 1, "A: AddPeer of B again");
    const again = ra.of("addPeer", fromA)[0]!.peer;
    expect(again.id).toBe(b.nodeId);
    expect(again.connectionId).not.toBe(bFromA.connectionId);
    expect(again.outbound).toBe(true);
    expect([...ra.client.peers.keys()].sort()).toEqual([b.nodeId, c.nodeId].sort());
  });

  it("C8 flushing stop: StopPeerGracefully with flush writes out what was queued to B, then removes the peer on both sides", async () => {
    const fromA = ra.events.length;
    const fromB = rb.events.length;
    const toB = ra.client.peers.get(b.nodeId)!;
    // 20 × 64 KiB leave A in ~0.26 s at the node's default send rate (5,120,000 B/s): a stop that did not flush would cut most of it off.
    const n = 20;
    const payload = (i: number): Uint8Array => new Uint8Array(64 * 1024).fill(i + 1);
    const queued = await Promise.all(Array.from({ length: n }, (_, i) => ra.client.send(toB, APP, payload(i))));
    expect(queued.every((q) => q)).toBe(true);
    await ra.client.stopPeerGracefully(toB, { flush: true });
    await ra.waitFor(() => ra.of("removePeer", fromA).length === 1, "A: RemovePeer of B");
    expect(ra.of("removePeer", fromA)[0]).toMatchObject({ peer: { id: b.nodeId, connectionId: toB.connectionId } });
    await rb.waitFor(() => rb.of("removePeer", fromB).length === 1, "B: RemovePeer of A");
    const got = rb.of("receive", fromB).filter((e) => e.peer.id === a.nodeId);
    expect(got.map((e) => e.message.length)).toEqual(Array.from({ length: n }, () => 64 * 1024));
    expect(got.every((e, i) => e.message.every((v) => v === i + 1))).toBe(true);
    // B's receives all came before its RemovePeer of A.
    const removedAt = rb.events.indexOf(rb.of("removePeer", fromB)[0]!);
    expect(got.every((e) => rb.events.indexOf(e) < removedAt)).toBe(true);
    // A dials B again for X1.
    await ra.client.dialPeers([await b.started]);
    await ra.waitFor(() => ra.of("addPeer", fromA).length === 1, "A: AddPeer of B once more");
    expect(checkGrammar(ra.events)).toEqual([]);
    expect(checkGrammar(rb.events)).toEqual([]);
  });

  it("X1 node shutdown: SIGTERM gives RemovePeer for every peer, then OnStop; the stream ends and the SDK completes", async () => {
    const from = ra.events.length;
    const connected = [...ra.client.peers.values()].map((p) => p.connectionId).sort();
    expect(connected).toHaveLength(2);
    const code = await a.stop();
    await ra.done;
    expect(ra.outcome).toEqual({ error: undefined });
    const tail = ra.events.slice(from);
    expect(tail.map((e) => e.type)).toEqual(["removePeer", "removePeer", "stop"]);
    expect(tail.flatMap((e) => (e.type === "removePeer" ? [e.peer.connectionId] : [])).sort()).toEqual(connected);
    expect(checkGrammar(ra.events, { complete: true })).toEqual([]);
    expect(ra.client.state).toBe("idle");
    expect(code).toBe(0);
    // The other reactors saw A leave.
    await rb.waitFor(() => rb.of("removePeer").length === 3, "B: RemovePeer of A (C4, C8, now)");
    await rc.waitFor(() => rc.of("removePeer").length === 1, "C: RemovePeer of A");
    expect(checkGrammar(rb.events)).toEqual([]);
    expect(checkGrammar(rc.events)).toEqual([]);
  });
});

describe("resume outside the window", () => {
  it("S2 with --grpc.resume_window 200ms and the reactor away longer: a fresh session and the snapshot", async () => {
    const [s, t] = await Promise.all([startNode("s", ["app"], ["--grpc.resume_window", "200ms"]), startNode("t")]);
    const proxyS = await TcpProxy.start(await s.grpc);
    proxies.push(proxyS);
    const rs = record(reactor(proxyS.address, { reconnect: { initialDelayMs: 50, maxDelayMs: 100 } }));
    const rt = record(reactor(await t.grpc));
    await Promise.all([s.started, t.started]);
    const nodeT = new NodeClient(await t.grpc);
    try {
      const [outcome] = await nodeT.dialPeers([await s.started]);
      expect(outcome?.connected).toBe(true);
    } finally {
      nodeT.close();
    }
    await rs.waitFor(() => rs.of("addPeer").length === 1, "S: AddPeer of T");
    await rt.waitFor(() => rt.of("addPeer").length === 1, "T: AddPeer of S");
    const from = rs.events.length;
    // Away for 700 ms, more than three times the window.
    proxyS.block(700);
    await rs.waitFor(() => rs.of("addPeer", from).length === 1, "the snapshot after the fresh session", 10_000);
    const after = rs.events.slice(from);
    expect(after.map((e) => e.type)).toEqual(["session", "start", "initPeer", "addPeer"]);
    expect(after[0]).toMatchObject({ type: "session", resumed: false, nodeInfo: { nodeId: s.nodeId } });
    expect(after[0]?.type === "session" && after[0].refusedReason).toMatch(/expired|unknown/);
    expect(after[2]).toMatchObject({ type: "initPeer", peer: { id: t.nodeId } });
    expect(after[3]).toMatchObject({ type: "addPeer", peer: { id: t.nodeId } });
    expect([...rs.client.peers.keys()]).toEqual([t.nodeId]);
    expect(checkGrammar(rs.events)).toEqual([]);
    // The peer connection itself never dropped.
    expect(rt.of("removePeer")).toHaveLength(0);
  });
});
