/**
 * One Attach stream driven by hand, without grpc-js or a server: requests go
 * in as bytes through `receive`, what the node writes is read off a fake
 * call, and the Switch is a fake (the contracts the gateway may use). The
 * over-the-wire behaviour is in gateway.test.ts and batching.test.ts.
 */
import type { ServiceError } from "@grpc/grpc-js";
import { status as GrpcStatus } from "@grpc/grpc-js";
import { afterEach, describe, expect, it, vi } from "vitest";
import { AttachRequest, type AttachResponse, type Command, type CommandResult, ErrorReason, type Event, OverflowPolicy } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { ATTACH_REFUSAL_WAIT_MS, type AttachCall, AttachStream, MAX_INFLIGHT_COMMANDS_PER_STREAM } from "../../src/gateway/attach-stream.js";
import { GatewayError } from "../../src/gateway/errors.js";
import { protocolLimits } from "../../src/gateway/limits.js";
import { ReactorRegistry } from "../../src/gateway/registration.js";
import { DEFAULT_REMOTE_REACTOR_LIMITS } from "../../src/gateway/remote-reactor.js";
import { MAX_BATCH_COMMANDS, MAX_CONTROL_MESSAGE_BYTES } from "../../src/gateway/request-screen.js";
import { GatewayAuth } from "../../src/gateway/security.js";
import { ATTACH_REGISTER_DEADLINE_MS } from "../../src/gateway/defaults.js";
import { silentLogger } from "../support/nodes.js";
import { FakePeer, FakeSwitch } from "./fake-switch.js";

const APP = 0x60;

/** The call an AttachStream writes to: everything recorded. */
class FakeCall implements AttachCall {
  readonly written: AttachResponse[] = [];
  ended = false;
  status: Partial<ServiceError> | null = null;
  paused = false;
  /** What write() returns (false: the buffer is full until drained). */
  room = true;
  writableNeedDrain = false;

  write(res: AttachResponse): boolean {
    this.written.push(res);
    if (!this.room) this.writableNeedDrain = true;
    return this.room;
  }
  end(): void {
    this.ended = true;
  }
  pause(): void {
    this.paused = true;
  }
  resume(): void {
    this.paused = false;
  }
  getPeer(): string {
    return "ipv4:127.0.0.1:5555";
  }
  emit(_event: "error", status: Partial<ServiceError>): boolean {
    this.status ??= status;
    return true;
  }

  events(): Event[] {
    return this.written.flatMap((w) => (w.msg?.$case === "events" ? w.msg.value.events : []));
  }
  results(): CommandResult[] {
    return this.written.flatMap((w) => (w.msg?.$case === "result" ? [w.msg.value] : w.msg?.$case === "results" ? w.msg.value.results : []));
  }
  resultMessages(): number {
    return this.written.filter((w) => w.msg?.$case === "result" || w.msg?.$case === "results").length;
  }
}

const bytes = (req: AttachRequest): Buffer => Buffer.from(AttachRequest.encode(req).finish());
const register = (over: Partial<Extract<NonNullable<AttachRequest["msg"]>, { $case: "register" }>["value"]> = {}): Buffer =>
  bytes({
    msg: {
      $case: "register",
      value: { reactorName: "app", channels: [{ id: APP, priority: 1, sendQueueCapacity: 0, recvBufferCapacity: 0, recvMessageCapacity: 0, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }], sessionToken: "", initialCredit: { messages: 1000, bytes: 1n << 20n }, batchResults: false, ...over },
    },
  });
const command = (c: Command): Buffer => bytes({ msg: { $case: "command", value: c } });
const trySend = (requestId: bigint, peer: FakePeer): Command => ({ requestId, kind: { $case: "trySend", value: { connectionId: peer.connectionId, peerId: "", channelId: APP, message: new Uint8Array([1]) } } });
const send = (requestId: bigint, peer: FakePeer): Command => ({ requestId, kind: { $case: "send", value: { connectionId: peer.connectionId, peerId: "", channelId: APP, message: new Uint8Array([2]), timeoutMs: 0 } } });

function setup(options: { refuse?: Error } = {}) {
  const sw = new FakeSwitch();
  const registry = new ReactorRegistry({
    sw,
    expected: ["app"],
    registrationTimeoutMs: 1000,
    defaultOverflowPolicy: "block",
    maxMessageBytes: 1 << 20,
    limits: DEFAULT_REMOTE_REACTOR_LIMITS,
    auth: new GatewayAuth(null, silentLogger),
    logger: silentLogger,
  });
  const call = new FakeCall();
  const seen = { refused: 0, batches: [] as number[], retired: 0, noRegister: 0 };
  const stream = new AttachStream(call, {
    registrar: registry,
    limits: protocolLimits(1 << 20),
    identity: options.refuse === undefined ? { ok: true, identity: null } : { ok: false, error: options.refuse },
    logger: silentLogger,
    observer: {
      requestRefused: () => seen.refused++,
      requestBatch: (n) => seen.batches.push(n),
      registerDeadlineMissed: () => seen.noRegister++,
    },
    onRetired: () => seen.retired++,
  });
  return { sw, registry, call, stream, seen };
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

afterEach(() => {
  vi.useRealTimers();
});

describe("AttachStream without a server", () => {
  it("Register: the reactor joins the Switch, Registered is written first, then events as credit allows, numbered from 1", async () => {
    const { sw, registry, call, stream } = setup();
    const waiting = registry.waitForReactors();
    stream.receive(register({ initialCredit: { messages: 2, bytes: 1000n } }));
    await waiting;
    expect(sw.channelOwner(APP)).toBe("app");
    expect(stream.reactor?.attached).toBe(true);
    const first = call.written[0]?.msg;
    expect(first?.$case).toBe("registered");
    if (first?.$case !== "registered") return;
    expect(first.value).toMatchObject({ resumed: false, nextEventSeq: 1n, nodeInfo: { nodeId: "ab".repeat(20), channels: Uint8Array.of(APP) } });
    // The limits the stream holds requests to, told to the client.
    expect(first.value.limits).toEqual({ maxBatchCommands: MAX_BATCH_COMMANDS, maxBatchPayloadBytes: 1024 * 1024, maxControlRequestBytes: MAX_CONTROL_MESSAGE_BYTES, maxMessageBytes: 1 << 20 });
    sw.start();
    sw.connect(new FakePeer([APP]));
    // Two messages of credit: OnStart and InitPeer go, AddPeer waits for more.
    expect(call.events().map((e) => [e.seq, e.kind?.$case])).toEqual([
      [1n, "onStart"],
      [2n, "initPeer"],
    ]);
    stream.receive(bytes({ msg: { $case: "credit", value: { messages: 5, bytes: 1000n } } }));
    expect(call.events().map((e) => e.kind?.$case)).toEqual(["onStart", "initPeer", "addPeer"]);
    stream.receive(bytes({ msg: { $case: "ack", value: { eventSeq: 3n } } }));
    expect(call.status).toBeNull();
  });

  it("before Register: a command is answered NOT_REGISTERED and the stream lives; an ack ends it with FAILED_PRECONDITION", () => {
    const { call, stream } = setup();
    stream.receive(command({ requestId: 7n, kind: { $case: "numPeers", value: {} } }));
    expect(call.results()).toEqual([{ requestId: 7n, kind: undefined, error: { code: GrpcStatus.FAILED_PRECONDITION, reason: ErrorReason.ERROR_REASON_NOT_REGISTERED, message: "command before register: send Register first" } }]);
    expect(call.status).toBeNull();
    stream.receive(bytes({ msg: { $case: "ack", value: { eventSeq: 1n } } }));
    expect(call.status).toMatchObject({ code: GrpcStatus.FAILED_PRECONDITION, details: "ack before register" });
    expect(stream.isClosed).toBe(true);
  });

  it("an ack beyond the last event, a second Register, a malformed or oversized request end the stream naming the field", () => {
    const cases: [(s: ReturnType<typeof setup>) => void, RegExp][] = [
      [(s) => s.stream.receive(bytes({ msg: { $case: "ack", value: { eventSeq: 99n } } })), /^ack\.event_seq: ack 99 is beyond the last event sent/],
      [(s) => s.stream.receive(register()), /^register: this stream has already registered$/],
      [(s) => s.stream.receive(Buffer.from([0x0a, 0x05, 0x01])), /^AttachRequest: malformed message/],
      [(s) => s.stream.receive(command({ requestId: 1n, kind: { $case: "getPeerData", value: { connectionId: "", peerId: "x", key: "k".repeat(MAX_CONTROL_MESSAGE_BYTES) } } })), /only send, try_send and broadcast commands may exceed/],
    ];
    for (const [act, details] of cases) {
      const s = setup();
      s.stream.receive(register());
      act(s);
      expect(s.call.status?.code).toBe(GrpcStatus.INVALID_ARGUMENT);
      expect(s.call.status?.details).toMatch(details);
      // The reactor's session is kept for a resume: the stream is detached, not the reactor removed.
      expect(s.stream.reactor?.attached).toBe(false);
    }
  });

  it("a request refused before decoding is counted", () => {
    const { stream, seen } = setup();
    stream.receive(register());
    stream.receive(command({ requestId: 1n, kind: { $case: "getPeerData", value: { connectionId: "", peerId: "x", key: "k".repeat(MAX_CONTROL_MESSAGE_BYTES) } } }));
    expect(seen.refused).toBe(1);
  });

  it("a command that completes at once is answered at once; one that waits is counted in progress until it completes", async () => {
    const { sw, call, stream } = setup();
    stream.receive(register());
    sw.start();
    const peer = new FakePeer([APP]);
    sw.connect(peer);
    stream.receive(command(trySend(1n, peer)));
    expect(call.results()).toEqual([{ requestId: 1n, kind: { $case: "send", value: { queued: true } }, error: undefined }]);
    peer.room = false;
    stream.receive(command(send(2n, peer)));
    expect(stream.commandsInProgress).toBe(1);
    expect(call.results()).toHaveLength(1);
    peer.release(true);
    await turn();
    expect(stream.commandsInProgress).toBe(0);
    expect(call.results()[1]).toEqual({ requestId: 2n, kind: { $case: "send", value: { queued: true } }, error: undefined });
  });

  it(`at most ${MAX_INFLIGHT_COMMANDS_PER_STREAM} commands in progress: the next is answered RESOURCE_EXHAUSTED, the stream lives on`, async () => {
    const { sw, call, stream } = setup();
    stream.receive(register());
    sw.start();
    const peer = new FakePeer([APP]);
    sw.connect(peer);
    peer.room = false;
    for (let i = 0; i < MAX_INFLIGHT_COMMANDS_PER_STREAM + 1; i++) stream.receive(command(send(BigInt(i + 1), peer)));
    expect(stream.commandsInProgress).toBe(MAX_INFLIGHT_COMMANDS_PER_STREAM);
    expect(call.results()).toEqual([
      {
        requestId: BigInt(MAX_INFLIGHT_COMMANDS_PER_STREAM + 1),
        kind: undefined,
        error: { code: GrpcStatus.RESOURCE_EXHAUSTED, reason: ErrorReason.ERROR_REASON_TOO_MANY_COMMANDS, message: `more than ${MAX_INFLIGHT_COMMANDS_PER_STREAM} commands in progress on this stream` },
      },
    ]);
    peer.release(true);
    await turn();
    expect(stream.commandsInProgress).toBe(MAX_INFLIGHT_COMMANDS_PER_STREAM - 1);
    stream.receive(command(send(5000n, peer)));
    expect(stream.commandsInProgress).toBe(MAX_INFLIGHT_COMMANDS_PER_STREAM);
    expect(call.status).toBeNull();
  });

  it("a RequestBatch applies its ack, then its credit, then each command in order; one over the limit runs none of its commands", () => {
    const { sw, call, stream, seen } = setup();
    stream.receive(register({ initialCredit: { messages: 1, bytes: 1000n } }));
    sw.start();
    const peer = new FakePeer([APP]);
    sw.connect(peer);
    expect(call.events()).toHaveLength(1);
    stream.receive(bytes({ msg: { $case: "batch", value: { ack: { eventSeq: 1n }, credit: { messages: 10, bytes: 1000n }, commands: [trySend(1n, peer), trySend(2n, peer)] } } }));
    expect(call.events().map((e) => e.kind?.$case)).toEqual(["onStart", "initPeer", "addPeer"]);
    expect(call.results().map((r) => r.requestId)).toEqual([1n, 2n]);
    expect(peer.sent).toHaveLength(2);
    const tooMany = Array.from({ length: MAX_BATCH_COMMANDS + 1 }, (_, i) => trySend(BigInt(100 + i), peer));
    stream.receive(bytes({ msg: { $case: "batch", value: { ack: { eventSeq: 3n }, credit: undefined, commands: tooMany } } }));
    expect(peer.sent).toHaveLength(2);
    const refused = call.results().slice(2);
    expect(refused).toHaveLength(MAX_BATCH_COMMANDS + 1);
    for (const r of refused) {
      expect(r.error).toEqual({ code: GrpcStatus.INVALID_ARGUMENT, reason: ErrorReason.ERROR_REASON_INVALID_FIELD, message: `batch.commands: ${MAX_BATCH_COMMANDS + 1} commands exceed the limit of ${MAX_BATCH_COMMANDS} per batch; none of them ran` });
    }
    expect(seen.batches).toEqual([2, MAX_BATCH_COMMANDS + 1]);
    expect(call.status).toBeNull();
  });

  it("with batch_results, the results of one turn go out together as one ResultBatch", async () => {
    const { sw, call, stream } = setup();
    stream.receive(register({ batchResults: true }));
    sw.start();
    const peer = new FakePeer([APP]);
    sw.connect(peer);
    for (let i = 1n; i <= 3n; i++) stream.receive(command(trySend(i, peer)));
    expect(call.resultMessages()).toBe(0);
    await turn();
    expect(call.resultMessages()).toBe(1);
    expect(call.results().map((r) => r.requestId)).toEqual([1n, 2n, 3n]);
  });

  it("closing detaches the reactor (its session waits for a resume); a command still in progress retires the stream when it completes, unanswered", async () => {
    const { sw, registry, call, stream, seen } = setup();
    stream.receive(register());
    sw.start();
    const peer = new FakePeer([APP]);
    sw.connect(peer);
    peer.room = false;
    stream.receive(command(send(1n, peer)));
    stream.close();
    expect(registry.all().get("app")?.attached).toBe(false);
    expect(seen.retired).toBe(0);
    const written = call.written.length;
    peer.release(true);
    await turn();
    expect(seen.retired).toBe(1);
    expect(call.written).toHaveLength(written);
    stream.receive(command(trySend(2n, peer)));
    expect(call.written).toHaveLength(written);
  });

  it("a refused caller is answered at its first request, or after ATTACH_REFUSAL_WAIT_MS without one; nothing registers", () => {
    vi.useFakeTimers();
    const refusal = new GatewayError(GrpcStatus.UNAUTHENTICATED, ErrorReason.ERROR_REASON_UNSPECIFIED, "missing or invalid credentials");
    const first = setup({ refuse: refusal });
    expect(first.call.status).toBeNull();
    first.stream.receive(register());
    expect(first.call.status).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED, details: "missing or invalid credentials" });
    expect(first.registry.all().size).toBe(0);
    expect(first.call.written).toEqual([]);

    const silent = setup({ refuse: refusal });
    vi.advanceTimersByTime(ATTACH_REFUSAL_WAIT_MS - 1);
    expect(silent.call.status).toBeNull();
    vi.advanceTimersByTime(1);
    expect(silent.call.status).toMatchObject({ code: GrpcStatus.UNAUTHENTICATED });
  });

  it("a stream that sends no Register within ATTACH_REGISTER_DEADLINE_MS is ended with DEADLINE_EXCEEDED; one that registers stays", async () => {
    vi.useFakeTimers();
    const idle = setup();
    vi.advanceTimersByTime(ATTACH_REGISTER_DEADLINE_MS - 1);
    expect(idle.call.status).toBeNull();
    vi.advanceTimersByTime(1);
    expect(idle.call.status).toMatchObject({ code: GrpcStatus.DEADLINE_EXCEEDED, details: `no Register within ${ATTACH_REGISTER_DEADLINE_MS} ms of the stream's start: send Register first` });
    expect(idle.seen.noRegister).toBe(1);
    expect(idle.seen.retired).toBe(1);

    const registered = setup();
    const waiting = registered.registry.waitForReactors();
    registered.stream.receive(register());
    vi.advanceTimersByTime(2 * ATTACH_REGISTER_DEADLINE_MS);
    await waiting;
    expect(registered.call.status).toBeNull();
    expect(registered.seen.noRegister).toBe(0);
  });

  it("a full call buffer holds results and events until drained", () => {
    const { sw, call, stream } = setup();
    stream.receive(register({ initialCredit: { messages: 100, bytes: 1000n } }));
    call.room = false;
    sw.start();
    sw.connect(new FakePeer([APP]));
    // OnStart's batch filled the buffer: the peer's events wait.
    expect(call.events().map((e) => e.kind?.$case)).toEqual(["onStart"]);
    call.room = true;
    call.writableNeedDrain = false;
    stream.drained();
    expect(call.events().map((e) => e.kind?.$case)).toEqual(["onStart", "initPeer", "addPeer"]);
  });
});
