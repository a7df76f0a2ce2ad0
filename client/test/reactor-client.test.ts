/**
 * The core state machine against a scripted node (FakeNode): credit and acks,
 * deduplication across resumes, refused resumes, commands and their queue,
 * consumption modes, and the derived helpers.
 */
import { status as Status } from "@grpc/grpc-js";
import { VirtualTimeScheduler, firstValueFrom, take, toArray } from "rxjs";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Backoff, resolveReconnectConfig } from "../src/backoff.js";
import {
  AttachError,
  CommandError,
  CommandInterruptedError,
  CommandQueueFullError,
  ConfigError,
  NotAttachedError,
  ProtocolError,
} from "../src/errors.js";
import { ErrorReason } from "../src/gen/switchboard/gateway/v1/gateway.js";
import { ReactorClient, type ReactorClientOptions } from "../src/reactor-client.js";
import { runReactor } from "../src/run-reactor.js";
import type { ReactorEvent } from "../src/types.js";
import { FakeNode, ev, settle, until } from "./support/fake-node.js";

const CH = 0x70;
const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

const subscriptions: { unsubscribe(): void }[] = [];
afterEach(() => {
  for (const s of subscriptions.splice(0)) s.unsubscribe();
});

function setup(options: Partial<ReactorClientOptions> = {}): { node: FakeNode; reactor: ReactorClient; seen: ReactorEvent[] } {
  const node = new FakeNode();
  const reactor = new ReactorClient({
    target: "unused",
    name: "app",
    channels: [{ id: CH, priority: 5 }],
    transport: node.transport,
    reconnect: { initialDelayMs: 1, jitter: 0 },
    trace: false,
    logger: false,
    ...options,
  });
  return { node, reactor, seen: [] };
}

function collect(reactor: ReactorClient, seen: ReactorEvent[]): void {
  subscriptions.push(reactor.events$.subscribe((e) => seen.push(e)));
}

const summary = (events: readonly ReactorEvent[]): string[] =>
  events.map((e) => (e.type === "session" ? `session:${e.resumed}:${e.refusedReason}` : e.type === "receive" ? `receive:${e.seq}:${e.message[0] ?? "-"}` : `${e.type}:${e.seq}`));

describe("registration", () => {
  it("registers with the name, channels and the credit window, and emits a session event with the node info", () => {
    const { node, reactor, seen } = setup({ creditWindow: { messages: 8, bytes: 1000 }, channels: [{ id: CH, priority: 5, sendQueueCapacity: 100, recvMessageCapacity: 4096, overflowPolicy: "drop-oldest" }] });
    collect(reactor, seen);
    expect(node.calls).toHaveLength(1);
    const reg = node.last.register;
    expect(reg.reactorName).toBe("app");
    expect(reg.sessionToken).toBe("");
    expect(reg.initialCredit).toEqual({ messages: 8, bytes: 1000n });
    expect(reg.channels).toEqual([{ id: CH, priority: 5, sendQueueCapacity: 100, recvBufferCapacity: 0, recvMessageCapacity: 4096, overflowPolicy: 3 }]);
    node.last.registered();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toMatchObject({ type: "session", resumed: false, refusedReason: "", nodeInfo: { nodeId: "aa".repeat(20), network: "test-net", channels: [CH], p2pVersion: 8 } });
    expect(reactor.state).toBe("attached");
    expect(reactor.nodeInfo?.network).toBe("test-net");
  });

  it("takes a number as the credit window in messages", () => {
    const { node, reactor, seen } = setup({ creditWindow: 5 });
    collect(reactor, seen);
    expect(node.last.register.initialCredit).toEqual({ messages: 5, bytes: 16n * 1024n * 1024n });
  });

  it("validates options, naming the field", () => {
    expect(() => setup({ creditWindow: { messages: 0 } })).toThrow(new ConfigError("creditWindow.messages: 0 is not an integer in 1..4294967295"));
    expect(() => setup({ creditWindow: -1 })).toThrow(/creditWindow.messages: -1/);
    expect(() => setup({ name: "" })).toThrow(/name: required/);
    expect(() => setup({ reconnect: { jitter: 2 } })).toThrow(/reconnect.jitter/);
    expect(() => setup({ commandQueueCapacity: 1.5 })).toThrow(/commandQueueCapacity/);
  });
});

describe("credit and acknowledgements", () => {
  it("acks and grants credit only after the subscriber's next returned", () => {
    const { node, reactor } = setup({ creditWindow: { messages: 4, bytes: 1000 } });
    const grantedDuringNext: number[] = [];
    subscriptions.push(
      reactor.events$.subscribe((e) => {
        if (e.type === "receive") grantedDuringNext.push(node.last.granted.messages);
      }),
    );
    const call = node.last;
    call.registered();
    call.events(ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"));
    call.events(ev.recv(4, "p", "c", CH, bytes(100)));
    // While the receive was in next(): only the window plus the three consumed events had been granted.
    expect(grantedDuringNext).toEqual([4 + 3]);
    expect(call.granted).toEqual({ messages: 4 + 4, bytes: 1000 + 100 });
    expect(call.acks.at(-1)).toBe(4n);
  });

  it("with consume(), waits for the handler's promise: never more than consumed + window granted", async () => {
    const { node, reactor } = setup({ creditWindow: { messages: 3, bytes: 10_000 } });
    const releases: (() => void)[] = [];
    let consumed = 0;
    const done = reactor.consume((e) => {
      if (e.type !== "receive") return undefined;
      return new Promise<void>((resolve) => releases.push(() => {
        consumed++;
        resolve();
      }));
    });
    const call = node.last;
    call.registered();
    // The node may send 3 (the window); a misbehaving node sends 6 at once: the SDK still only grants per consumption.
    call.events(...[1, 2, 3, 4, 5, 6].map((i) => ev.recv(i, "p", "c", CH, bytes(10, i))));
    await settle();
    expect(releases).toHaveLength(1);
    expect(call.granted.messages).toBe(3);
    for (let i = 1; i <= 6; i++) {
      releases[i - 1]?.();
      await settle();
      expect(call.granted.messages, `after ${i} consumed`).toBe(3 + consumed);
      expect(call.granted.messages).toBeLessThanOrEqual(3 + consumed);
      expect(call.acks.at(-1)).toBe(BigInt(i));
    }
    expect(call.granted.bytes).toBe(10_000 + 60);
    call.events(ev.stop(7));
    call.end();
    await done;
  });

  it("a re-attach grants only what the window allows beyond the event still being handled", async () => {
    const { node, reactor } = setup({ creditWindow: { messages: 2, bytes: 100 } });
    let release: (() => void) | undefined;
    const seen: ReactorEvent[] = [];
    void reactor.consume((e) => {
      seen.push(e);
      if (e.type === "receive") return new Promise<void>((resolve) => (release = resolve));
      return undefined;
    });
    node.last.registered({ token: "t1" });
    node.last.events(ev.recv(1, "p", "c", CH, bytes(30)), ev.recv(2, "p", "c", CH, bytes(40)));
    await settle();
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 2, 2000, "re-attach");
    // Event 1 is still in the handler (held); event 2 was dropped (the node will resend it).
    expect(node.last.register.sessionToken).toBe("t1");
    expect(node.last.register.initialCredit).toEqual({ messages: 1, bytes: 70n });
    node.last.registered({ token: "t1", resumed: true, next: 2 });
    release?.();
    await settle();
    // Its consumption is granted back on the new call.
    expect(node.last.granted).toEqual({ messages: 2, bytes: 100 });
    node.last.events(ev.recv(2, "p", "c", CH, bytes(40, 2)));
    await settle();
    release?.();
    await settle();
    expect(summary(seen)).toEqual(["session:false:", "receive:1:1", "session:true:", "receive:2:2"]);
  });
});

describe("sessions", () => {
  it("resumes after a cut: resent events are not delivered twice, and nothing is skipped", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    node.last.registered({ token: "t1" });
    node.last.events(ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"), ev.recv(4, "p", "c", CH, bytes(1, 4)));
    node.last.fail(Status.UNAVAILABLE, "connection dropped");
    expect(reactor.state).toBe("backoff");
    await until(() => node.calls.length === 2, 2000, "re-attach");
    expect(node.last.register.sessionToken).toBe("t1");
    // The node did not get our acks for 3 and 4: it resends them, then goes on.
    node.last.registered({ token: "t1", resumed: true, next: 3 });
    node.last.events(ev.add(3, "p", "c"), ev.recv(4, "p", "c", CH, bytes(1, 4)), ev.recv(5, "p", "c", CH, bytes(1, 5)));
    expect(summary(seen)).toEqual(["session:false:", "start:1", "initPeer:2", "addPeer:3", "receive:4:4", "session:true:", "receive:5:5"]);
    // The duplicates were consumed by being dropped: credit came back for them, and the ack covers them.
    expect(node.last.acks.at(-1)).toBe(5n);
    expect(node.last.granted.messages).toBe(256 + 3);
  });

  it("reports a refused resume with its reason, then the snapshot; peers$ starts over", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    const peerMaps: string[][] = [];
    subscriptions.push(reactor.peers$.subscribe((m) => peerMaps.push([...m.keys()])));
    node.last.registered({ token: "t1" });
    node.last.events(ev.start(1), ev.init(2, "old", "c1"), ev.add(3, "old", "c1"));
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 2, 2000, "re-attach");
    node.last.registered({ token: "t2", resumed: false, refused: "unknown or expired session", next: 1 });
    node.last.events(ev.start(1), ev.init(2, "new", "c2"), ev.add(3, "new", "c2"));
    expect(summary(seen)).toEqual(["session:false:", "start:1", "initPeer:2", "addPeer:3", "session:false:unknown or expired session", "start:1", "initPeer:2", "addPeer:3"]);
    expect(peerMaps).toEqual([[], ["old"], [], ["new"]]);
    expect([...reactor.peers.keys()]).toEqual(["new"]);
    // The next re-attach asks for the new session.
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 3, 2000, "re-attach");
    expect(node.last.register.sessionToken).toBe("t2");
  });

  it("never asks to resume with resume: false", async () => {
    const { node, reactor, seen } = setup({ resume: false });
    collect(reactor, seen);
    node.last.registered({ token: "t1" });
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 2, 2000, "re-attach");
    expect(node.last.register.sessionToken).toBe("");
  });

  it("fails with a ProtocolError on a gap in the numbering", () => {
    const { node, reactor } = setup();
    let error: unknown;
    subscriptions.push(reactor.events$.subscribe({ error: (e: unknown) => (error = e) }));
    node.last.registered();
    node.last.events(ev.start(1), ev.recv(3, "p", "c", CH, bytes(1)));
    expect(error).toBeInstanceOf(ProtocolError);
    expect(node.last.cancelled).toBe(true);
    expect(reactor.state).toBe("idle");
  });

  it("completes after OnStop when the stream then breaks, delivering what was queued", async () => {
    const { node, reactor } = setup();
    const all = firstValueFrom(reactor.events$.pipe(toArray()));
    node.last.registered();
    node.last.events(ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"), ev.remove(4, "p", "c", "bye"), ev.stop(5));
    node.last.fail(Status.UNAVAILABLE, "server closed");
    expect(summary(await all)).toEqual(["session:false:", "start:1", "initPeer:2", "addPeer:3", "removePeer:4", "stop:5"]);
    expect(node.calls).toHaveLength(1);
  });

  it("gives up with an AttachError after `reconnect` failed attempts", async () => {
    const { node, reactor } = setup({ reconnect: 2 });
    const result = firstValueFrom(reactor.events$).catch((e: unknown) => e);
    node.last.fail(Status.UNAVAILABLE, "connection refused");
    await until(() => node.calls.length === 2, 2000, "attempt 2");
    node.last.fail(Status.UNAVAILABLE, "connection refused");
    await until(() => node.calls.length === 3, 2000, "attempt 3");
    node.last.fail(Status.UNAVAILABLE, "connection refused");
    const err = await result;
    expect(err).toBeInstanceOf(AttachError);
    expect(err).toMatchObject({ code: Status.UNAVAILABLE, details: "connection refused" });
    expect(node.calls).toHaveLength(3);
  });
});

describe("messages for the person running the reactor", () => {
  const lines = (): { logger: { warn(m: string): void; info(m: string): void }; warn: string[]; info: string[] } => {
    const warn: string[] = [];
    const info: string[] = [];
    return { logger: { warn: (m) => warn.push(m), info: (m) => info.push(m) }, warn, info };
  };

  it("the node unreachable: said at the first failed attempt with the target and the next retry, then every 30 s, then that it was reached", () => {
    const scheduler = new VirtualTimeScheduler();
    const log = lines();
    const { node, reactor, seen } = setup({ target: "127.0.0.1:36999", scheduler, logger: log.logger, reconnect: { initialDelayMs: 1_000, maxDelayMs: 5_000, jitter: 0 } });
    collect(reactor, seen);
    node.last.fail(Status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:36999. Resolution note: ");
    expect(log.warn).toEqual([
      'reactor "app": cannot reach the node at 127.0.0.1:36999 (UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:36999). ' +
        "Check that the node is running and that 127.0.0.1:36999 is its grpc.laddr. Retrying in 1 s; this is reported again every 30 s while it lasts.",
    ]);
    // Attempts at 1, 3, 7, 12, 17, 22, 27 s are not reported again; the one at 32 s is.
    for (let i = 0; i < 8; i++) {
      scheduler.flush();
      node.last.fail(Status.UNAVAILABLE, "connect ECONNREFUSED 127.0.0.1:36999");
    }
    expect(node.calls).toHaveLength(9);
    expect(log.warn).toHaveLength(2);
    expect(log.warn[1]).toBe('reactor "app": still cannot reach the node at 127.0.0.1:36999 after 9 attempts in 32 s (UNAVAILABLE: connect ECONNREFUSED 127.0.0.1:36999); retrying in 5 s.');
    expect(log.info).toEqual([]);
    scheduler.flush();
    node.last.registered();
    expect(log.info).toEqual(['reactor "app": reached the node at 127.0.0.1:36999 after 9 failed attempts in 37 s.']);
    expect(seen.map((e) => e.type)).toEqual(["session"]);
    // The retry behaviour is unchanged: the reactor attached on the tenth attempt.
    expect(reactor.state).toBe("attached");
  });

  it("a stream that breaks while attached is not reported, nor a re-attach that succeeds at once; a finite reconnect count is named", async () => {
    const log = lines();
    const { node, reactor, seen } = setup({ logger: log.logger, reconnect: { count: 3, initialDelayMs: 1, jitter: 0 } });
    collect(reactor, seen);
    node.last.registered();
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 2, 2000, "re-attach");
    node.last.registered({ resumed: true, token: "tok-1" });
    expect(log.warn).toEqual([]);
    node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => node.calls.length === 3, 2000, "re-attach");
    node.last.fail(Status.UNAVAILABLE, "connection refused");
    expect(log.warn).toEqual([
      'reactor "app": cannot reach the node at unused (UNAVAILABLE: connection refused). Check that the node is running and that unused is its grpc.laddr. ' +
        "Retrying in 2 ms (then 1 more attempt at most); this is reported again every 30 s while it lasts.",
    ]);
  });

  it("logger: false says nothing; the default logger writes to stderr", () => {
    const quiet = setup({ logger: false });
    collect(quiet.reactor, quiet.seen);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    try {
      quiet.node.last.fail(Status.UNAVAILABLE, "down");
      expect(warn).not.toHaveBeenCalled();
      const node = new FakeNode();
      const loud = new ReactorClient({ target: "unused", name: "app", channels: [{ id: CH, priority: 5 }], transport: node.transport, trace: false });
      subscriptions.push(loud.events$.subscribe({ error: () => undefined }));
      node.last.fail(Status.UNAVAILABLE, "down");
      expect(warn).toHaveBeenCalledTimes(1);
      expect(warn.mock.calls[0]?.[0]).toMatch(/^reactor "app": cannot reach the node at unused \(UNAVAILABLE: down\)/);
    } finally {
      warn.mockRestore();
    }
  });

  it("a taken name: events$ errors with an AttachError that names the name and what to do, and has no stack frames", async () => {
    const { node, reactor } = setup({ target: "127.0.0.1:36999", reconnect: false });
    const failed = firstValueFrom(reactor.events$).then(
      () => undefined,
      (e: unknown) => e,
    );
    node.last.fail(Status.ALREADY_EXISTS, 'reactor "app" is attached on another stream');
    const err = await failed;
    expect(err).toBeInstanceOf(AttachError);
    expect(err).toMatchObject({ code: Status.ALREADY_EXISTS, details: 'reactor "app" is attached on another stream' });
    const e = err as AttachError;
    expect(e.message).toBe(
      'reactor "app": the node at 127.0.0.1:36999 refused it: ALREADY_EXISTS: reactor "app" is attached on another stream. ' +
        'The name "app" is taken on that node (by another process, or by another client in this one): stop that reactor, or give this one another name.',
    );
    expect(e.hint).toMatch(/^The name "app" is taken/);
    expect(e.stack).toBe(`AttachError: ${e.message}`);
    expect(node.calls).toHaveLength(1);
  });

  it("a taken channel: the hint is about the channel; consume() and runReactor(...).done reject with it", async () => {
    const a = setup({ name: "other" });
    const consumed = a.reactor.consume(() => undefined);
    a.node.last.fail(Status.ALREADY_EXISTS, 'channel 0x70 of reactor "other" is already owned by reactor "app"');
    const err = await consumed.then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(AttachError);
    expect((err as AttachError).message).toMatch(/already owned by reactor "app"\. Another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor\.$/);

    const b = setup();
    const running = runReactor(b.reactor, {});
    b.node.last.fail(Status.ALREADY_EXISTS, 'reactor "app" is attached on another stream');
    await expect(running.done).rejects.toThrow(/The name "app" is taken on that node/);
  });

  it("giving up on an unreachable node: the AttachError says how many attempts, and what to check", async () => {
    const { node, reactor } = setup({ target: "127.0.0.1:36999", reconnect: false });
    const failed = firstValueFrom(reactor.events$).then(() => undefined, (e: unknown) => e);
    node.last.fail(Status.UNAVAILABLE, "No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:36999. Resolution note: ");
    expect(((await failed) as AttachError).message).toBe(
      'reactor "app": could not attach to the node at 127.0.0.1:36999 (gave up after 1 attempt; see the reconnect option): ' +
        "UNAVAILABLE: No connection established. Last error: Error: connect ECONNREFUSED 127.0.0.1:36999. Check that the node is running and that 127.0.0.1:36999 is its grpc.laddr.",
    );
  });

  it("after a break, the attempts counted are the re-attaches; a node ending an attached stream did not refuse it", async () => {
    const a = setup({ target: "127.0.0.1:36999", reconnect: { count: 1, initialDelayMs: 1, jitter: 0 } });
    const failed = firstValueFrom(a.reactor.events$.pipe(take(2), toArray())).then(() => undefined, (e: unknown) => e);
    a.node.last.registered();
    a.node.last.fail(Status.UNAVAILABLE, "cut");
    await until(() => a.node.calls.length === 2, 2000, "re-attach");
    a.node.last.fail(Status.UNAVAILABLE, "down");
    expect(((await failed) as AttachError).message).toMatch(/^reactor "app": could not attach to the node at 127\.0\.0\.1:36999 \(gave up after 1 attempt; see the reconnect option\): UNAVAILABLE: down\. /);

    const b = setup({ target: "127.0.0.1:36999" });
    const ended = firstValueFrom(b.reactor.events$.pipe(take(2), toArray())).then(() => undefined, (e: unknown) => e);
    b.node.last.registered();
    b.node.last.fail(Status.INVALID_ARGUMENT, "ack.event_seq: beyond the last event");
    expect(((await ended) as AttachError).message).toBe('reactor "app": the node at 127.0.0.1:36999 ended the stream: INVALID_ARGUMENT: ack.event_seq: beyond the last event');
  });
});

describe("commands", () => {
  it("fails at once with NotAttachedError when nobody consumes events", async () => {
    const { reactor } = setup();
    await expect(reactor.numPeers()).rejects.toBeInstanceOf(NotAttachedError);
  });

  it("wait for Registered, then resolve with typed results", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    const queued = reactor.send({ id: "p", connectionId: "c" }, CH, bytes(3), { timeoutMs: 500 });
    const counts = reactor.numPeers();
    expect(node.last.commands).toHaveLength(0);
    node.last.registered();
    const [send, num] = node.last.commands;
    expect(send?.kind).toEqual({ $case: "send", value: { connectionId: "c", peerId: "p", channelId: CH, message: bytes(3), timeoutMs: 500 } });
    expect(num?.kind).toEqual({ $case: "numPeers", value: {} });
    node.last.result(send!.requestId, { $case: "send", value: { queued: true } });
    node.last.result(num!.requestId, { $case: "numPeers", value: { outbound: 1, inbound: 2, dialing: 0 } });
    await expect(queued).resolves.toBe(true);
    await expect(counts).resolves.toEqual({ outbound: 1, inbound: 2, dialing: 0 });
  });

  it("stopPeerGracefully asks for a flush only when told to", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    node.last.registered();
    const plain = reactor.stopPeerGracefully({ id: "p", connectionId: "c" });
    const flushed = reactor.stopPeerGracefully("p", { flush: true });
    const [a, b] = node.last.commands;
    expect(a?.kind).toEqual({ $case: "stopPeerGracefully", value: { connectionId: "c", peerId: "p", flush: false } });
    expect(b?.kind).toEqual({ $case: "stopPeerGracefully", value: { connectionId: "", peerId: "p", flush: true } });
    for (const c of [a!, b!]) node.last.result(c.requestId, { $case: "done", value: {} });
    await expect(plain).resolves.toBeUndefined();
    await expect(flushed).resolves.toBeUndefined();
  });

  it("reject with a typed CommandError and keep the stream", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    node.last.registered();
    const failing = reactor.trySend("nobody", CH, bytes(1));
    const cmd = node.last.commands[0]!;
    node.last.commandError(cmd.requestId, Status.NOT_FOUND, ErrorReason.ERROR_REASON_UNKNOWN_PEER, "try_send.peer_id: no connected peer nobody");
    const err = await failing.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect(err).toMatchObject({ command: "trySend", code: Status.NOT_FOUND, reason: "UNKNOWN_PEER", details: "try_send.peer_id: no connected peer nobody" });
    expect(reactor.state).toBe("attached");
    const ok = reactor.broadcast(CH, bytes(1));
    node.last.result(node.last.commands[1]!.requestId, { $case: "broadcast", value: { results: [{ peerId: "p", queued: true }] } });
    await expect(ok).resolves.toEqual([{ peerId: "p", queued: true }]);
  });

  it("bound the queue while re-attaching: beyond commandQueueCapacity they fail at once", async () => {
    const { node, reactor, seen } = setup({ commandQueueCapacity: 2 });
    collect(reactor, seen);
    const a = reactor.listPeers();
    const b = reactor.listPeers();
    await expect(reactor.listPeers()).rejects.toBeInstanceOf(CommandQueueFullError);
    node.last.registered();
    expect(node.last.commands).toHaveLength(2);
    for (const c of node.last.commands) node.last.result(c.requestId, { $case: "peers", value: { peers: [] } });
    await expect(Promise.all([a, b])).resolves.toEqual([[], []]);
  });

  it("keep at most maxInflightCommands on the wire", () => {
    const { node, reactor, seen } = setup({ maxInflightCommands: 1 });
    collect(reactor, seen);
    node.last.registered();
    const settled = [reactor.numPeers(), reactor.numPeers()].map((p) => p.catch(() => undefined));
    expect(node.last.commands).toHaveLength(1);
    node.last.result(node.last.commands[0]!.requestId, { $case: "numPeers", value: { outbound: 0, inbound: 0, dialing: 0 } });
    expect(node.last.commands).toHaveLength(2);
    expect(settled).toHaveLength(2);
  });

  it("on the wire when the stream breaks fail with CommandInterruptedError; waiting ones go after the re-attach", async () => {
    const { node, reactor, seen } = setup({ maxInflightCommands: 1 });
    collect(reactor, seen);
    node.last.registered({ token: "t" });
    const first = reactor.numPeers().catch((e: unknown) => e);
    const second = reactor.numPeers();
    node.last.fail(Status.UNAVAILABLE, "cut");
    expect(await first).toBeInstanceOf(CommandInterruptedError);
    await until(() => node.calls.length === 2, 2000, "re-attach");
    node.last.registered({ token: "t", resumed: true, next: 1 });
    expect(node.last.commands).toHaveLength(1);
    node.last.result(node.last.commands[0]!.requestId, { $case: "numPeers", value: { outbound: 3, inbound: 0, dialing: 0 } });
    await expect(second).resolves.toMatchObject({ outbound: 3 });
  });

  it("are rejected when the last subscriber leaves", async () => {
    const { node, reactor } = setup();
    const sub = reactor.events$.subscribe();
    node.last.registered();
    const pending = reactor.getPeerData("p", "k");
    sub.unsubscribe();
    expect(node.last.cancelled).toBe(true);
    await expect(pending).rejects.toBeInstanceOf(NotAttachedError);
  });

  it("map peer data, peer lists and peer status", async () => {
    const { node, reactor, seen } = setup();
    collect(reactor, seen);
    node.last.registered();
    const found = reactor.getPeerData("p", "k");
    const missing = reactor.getPeerData("p", "other");
    const status = reactor.getPeer("p");
    const [c1, c2, c3] = node.last.commands;
    node.last.result(c1!.requestId, { $case: "peerData", value: { found: true, value: bytes(2, 9) } });
    node.last.result(c2!.requestId, { $case: "peerData", value: { found: false, value: new Uint8Array() } });
    node.last.result(c3!.requestId, {
      $case: "peer",
      value: { peer: undefined, bytesSent: 10n, bytesReceived: 20n, sendRate: 1n, recvRate: 2n, channels: [{ id: CH, sendQueueCapacity: 1, sendQueueSize: 0, priority: 5, recentlySent: 0n }], durationSeconds: 3n },
    });
    await expect(found).resolves.toEqual(bytes(2, 9));
    await expect(missing).resolves.toBeUndefined();
    await expect(status).resolves.toMatchObject({ bytesSent: 10, bytesReceived: 20, durationSeconds: 3, channels: [{ id: CH, priority: 5 }] });
  });
});

describe("consumers", () => {
  it("receive$ filters one channel; events carry the PeerInfo from InitPeer", async () => {
    const { node, reactor } = setup({ channels: [{ id: CH, priority: 5 }, { id: 0x71, priority: 1 }] });
    const got = firstValueFrom(reactor.receive$(0x71).pipe(take(1)));
    node.last.registered();
    node.last.events(ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"), ev.recv(4, "p", "c", CH, bytes(1)), ev.recv(5, "p", "c", 0x71, bytes(1, 7)));
    const r = await got;
    expect(r).toMatchObject({ type: "receive", channelId: 0x71, message: bytes(1, 7), peer: { id: "p", connectionId: "c", socketAddress: "p@127.0.0.1:1" } });
    // take(1) unsubscribed the only consumer: the call is cancelled.
    expect(node.last.cancelled).toBe(true);
  });

  it("async iteration takes one event at a time and leaves the stream on break", async () => {
    const { node, reactor } = setup({ creditWindow: { messages: 2, bytes: 100 } });
    const seen: string[] = [];
    const loop = (async () => {
      for await (const e of reactor) {
        seen.push(e.type);
        if (e.type === "addPeer") break;
      }
    })();
    await settle();
    node.last.registered();
    node.last.events(ev.start(1), ev.init(2, "p", "c"));
    await settle();
    node.last.events(ev.add(3, "p", "c"), ev.recv(4, "p", "c", CH, bytes(1)));
    await loop;
    expect(seen).toEqual(["session", "start", "initPeer", "addPeer"]);
    expect(node.last.cancelled).toBe(true);
  });

  it("runReactor calls the Go-style methods in order and awaits receive", async () => {
    const { node, reactor } = setup();
    const calls: string[] = [];
    let unblock: (() => void) | undefined;
    const running = runReactor(reactor, (client) => ({
      onSession: (s) => {
        calls.push(`session ${s.resumed}`);
      },
      onStart: () => {
        calls.push("start");
      },
      initPeer: (p) => {
        calls.push(`init ${p.id}`);
      },
      addPeer: (p) => {
        calls.push(`add ${p.id} ${client === reactor}`);
      },
      receive: (env) => {
        calls.push(`receive ${env.src.id} ${env.channelId} ${env.message.length}`);
        return new Promise<void>((resolve) => (unblock = resolve));
      },
      removePeer: (p, reason) => {
        calls.push(`remove ${p.id} ${reason}`);
      },
      onStop: () => {
        calls.push("stop");
      },
    }));
    node.last.registered();
    node.last.events(ev.start(1), ev.init(2, "p", "c"), ev.add(3, "p", "c"), ev.recv(4, "p", "c", CH, bytes(5)), ev.remove(5, "p", "c", "gone"), ev.stop(6));
    node.last.end();
    await settle();
    expect(calls.at(-1)).toBe(`receive p ${CH} 5`);
    unblock?.();
    await running.done;
    expect(calls).toEqual(["session false", "start", "init p", "add p true", `receive p ${CH} 5`, "remove p gone", "stop"]);
  });

  it("consume() rejects with the handler's error and leaves the stream", async () => {
    const { node, reactor } = setup();
    const done = reactor.consume((e) => {
      if (e.type === "start") throw new Error("boom");
    });
    node.last.registered();
    node.last.events(ev.start(1));
    await expect(done).rejects.toThrow("boom");
    expect(node.last.cancelled).toBe(true);
  });
});

describe("Backoff", () => {
  it("grows by the multiplier up to the cap, gives up after count, and resets", () => {
    const b = new Backoff(resolveReconnectConfig({ count: 4, initialDelayMs: 100, maxDelayMs: 300, multiplier: 2, jitter: 0 }));
    expect([b.next(), b.next(), b.next(), b.next(), b.next()]).toEqual([100, 200, 300, 300, null]);
    b.reset();
    expect(b.next()).toBe(100);
  });

  it("spreads delays by the jitter", () => {
    const low = new Backoff(resolveReconnectConfig({ initialDelayMs: 100, jitter: 0.2 }), () => 0);
    const high = new Backoff(resolveReconnectConfig({ initialDelayMs: 100, jitter: 0.2 }), () => 1);
    expect([low.next(), high.next()]).toEqual([80, 120]);
  });

  it("takes a number as the count, and false as no retry", () => {
    expect(resolveReconnectConfig(3).count).toBe(3);
    expect(new Backoff(resolveReconnectConfig(false)).next()).toBeNull();
  });
});

describe("leaving while an event is being handled", () => {
  it("counts it as consumed once, and a new consumer is not held up by the abandoned handler", async () => {
    const { node, reactor } = setup({ creditWindow: { messages: 4, bytes: 1000 } });
    const abort = new AbortController();
    // A handler that never finishes, abandoned through its signal.
    const first = reactor.consume((e) => (e.type === "receive" ? new Promise<void>(() => undefined) : undefined), { signal: abort.signal });
    node.last.registered({ token: "t" });
    node.last.events(ev.start(1), ev.recv(2, "p", "c", CH, bytes(10)));
    await settle();
    abort.abort();
    await first;
    expect(node.last.cancelled).toBe(true);
    const seen: ReactorEvent[] = [];
    collect(reactor, seen);
    // Nothing is held any more: the full window again.
    expect(node.last.register.initialCredit).toEqual({ messages: 4, bytes: 1000n });
    node.last.registered({ token: "t", resumed: true, next: 2 });
    node.last.events(ev.recv(2, "p", "c", CH, bytes(10)), ev.recv(3, "p", "c", CH, bytes(10, 3)));
    expect(summary(seen)).toEqual(["session:true:", "receive:3:3"]);
  });

  it("a subscriber that unsubscribes inside next() does not count its event twice", () => {
    const { node, reactor } = setup({ creditWindow: { messages: 4, bytes: 1000 } });
    const sub = reactor.events$.subscribe((e) => {
      if (e.type === "receive") sub.unsubscribe();
    });
    node.last.registered({ token: "t" });
    node.last.events(ev.start(1), ev.recv(2, "p", "c", CH, bytes(10)), ev.recv(3, "p", "c", CH, bytes(20)));
    expect(node.last.cancelled).toBe(true);
    collect(reactor, []);
    // Event 3 was dropped (not delivered); events 1 and 2 were consumed: nothing held.
    expect(node.last.register.initialCredit).toEqual({ messages: 4, bytes: 1000n });
  });
});
