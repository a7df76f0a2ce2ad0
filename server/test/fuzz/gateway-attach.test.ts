/**
 * Hostile control-plane input: raw bytes as AttachRequest messages on the
 * real gRPC server (single commands and RequestBatches with acks, credits and
 * up to a few past the 1024-command limit, mutated; streams with and without
 * batched results), and structurally valid but adversarial Commands run
 * through `runCommand` against a running Switch with a connected peer.
 *
 * Properties: every stream ends with a status our error mapping produces on
 * purpose (never UNKNOWN or INTERNAL, which would mean an untyped error
 * escaped), every command failure is a typed error, the server keeps serving
 * afterwards, and nothing is dialled (dial commands are recorded, not run:
 * fuzzed addresses must never reach the network).
 */
import { type ClientDuplexStream, Client, credentials, status as GrpcStatus, type StatusObject } from "@grpc/grpc-js";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { concatBytes } from "../../../fuzz/targets/common.js";
import { AttachRequest, AttachResponse, type Command, OverflowPolicy } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { runCommand } from "../../src/gateway/commands.js";
import type { RemoteReactor } from "../../src/gateway/remote-reactor.js";
import { toCommandError } from "../../src/gateway/status-mapping.js";
import type { Switch } from "../../src/p2p/switch.js";
import { AttachClient } from "../gateway/attach-client.js";
import { type GatewayNode, createGatewayNode } from "../gateway/support.js";
import { type TestNode, startNode, until } from "../support/nodes.js";
import { bytesUpTo, junk } from "./support.js";

const ATTACH = "/switchboard.gateway.v1.ReactorGatewayService/Attach";
const UNKNOWN_CODE: number = GrpcStatus.UNKNOWN;
const APP = 0x40;
/** Statuses the gateway ends a stream with on purpose. */
const DELIBERATE = new Set([GrpcStatus.OK, GrpcStatus.INVALID_ARGUMENT, GrpcStatus.FAILED_PRECONDITION, GrpcStatus.ALREADY_EXISTS, GrpcStatus.RESOURCE_EXHAUSTED, GrpcStatus.NOT_FOUND, GrpcStatus.UNAUTHENTICATED, GrpcStatus.PERMISSION_DENIED]);

/** Makes a Switch unable to reach the network: dials are recorded instead. */
function neuterDials(sw: Switch, dialed: string[]): void {
  sw.dialPeersAsync = (addresses: readonly string[]): void => {
    dialed.push(...addresses);
  };
  sw.dialPeerWithAddress = (address: string) => {
    dialed.push(address);
    return Promise.reject(new Error("dialling is disabled in this test"));
  };
}

const register = (name: string, channels = [{ id: APP, priority: 1, sendQueueCapacity: 10, recvBufferCapacity: 0, recvMessageCapacity: 4096, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }], batchResults = false): Uint8Array =>
  AttachRequest.encode({ msg: { $case: "register", value: { reactorName: name, channels, sessionToken: "", initialCredit: { messages: 100, bytes: 1_000_000n }, batchResults } } }).finish();

/** Sends raw messages on one Attach stream and returns its final status and any command results' codes. */
async function rawAttach(client: Client, messages: readonly Uint8Array[]): Promise<{ status: StatusObject; commandCodes: number[] }> {
  const call: ClientDuplexStream<Buffer, Buffer> = client.makeBidiStreamRequest(ATTACH, (b: Buffer) => b, (b: Buffer) => b);
  const commandCodes: number[] = [];
  call.on("data", (b: Buffer) => {
    const m = AttachResponse.decode(b).msg;
    if (m?.$case === "result" && m.value.error !== undefined) commandCodes.push(m.value.error.code);
    if (m?.$case === "results") for (const r of m.value.results) if (r.error !== undefined) commandCodes.push(r.error.code);
  });
  call.on("error", () => undefined);
  const status = new Promise<StatusObject>((resolve) => call.on("status", resolve));
  for (const m of messages) call.write(Buffer.from(m));
  // Let the server answer what it can before the half-close.
  await new Promise((r) => setTimeout(r, 5));
  call.end();
  const timer = setTimeout(() => {
    call.cancel();
  }, 3000);
  const st = await status;
  clearTimeout(timer);
  return { status: st, commandCodes };
}

const commandArb: fc.Arbitrary<Command> = fc.record({
  requestId: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
  kind: fc.oneof(
    fc.record({ $case: fc.constant("send" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }), channelId: fc.oneof(fc.constant(APP), fc.nat()), message: bytesUpTo(5000), timeoutMs: fc.oneof(fc.constant(0), fc.nat()) }) }),
    fc.record({ $case: fc.constant("trySend" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }), channelId: fc.oneof(fc.constant(APP), fc.nat()), message: bytesUpTo(5000) }) }),
    fc.record({ $case: fc.constant("broadcast" as const), value: fc.record({ channelId: fc.oneof(fc.constant(APP), fc.nat()), message: bytesUpTo(5000) }) }),
    fc.record({ $case: fc.constant("stopPeerGracefully" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }), flush: fc.boolean() }) }),
    fc.record({ $case: fc.constant("markPeerAsGood" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }) }) }),
    fc.record({ $case: fc.constant("dialPeers" as const), value: fc.record({ addresses: fc.array(fc.oneof(fc.string(), fc.constant(`${"a".repeat(40)}@127.0.0.1:1`)), { maxLength: 4 }), persistent: fc.boolean() }) }),
    fc.record({ $case: fc.constant("getPeerData" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }), key: fc.string({ maxLength: 300 }) }) }),
    fc.record({ $case: fc.constant("setPeerData" as const), value: fc.record({ connectionId: fc.string({ maxLength: 20 }), peerId: fc.string({ maxLength: 45 }), key: fc.string({ maxLength: 300 }), value: bytesUpTo(70_000) }) }),
    fc.record({ $case: fc.constant("listPeers" as const), value: fc.constant({}) }),
    fc.record({ $case: fc.constant("numPeers" as const), value: fc.constant({}) }),
    fc.record({ $case: fc.constant("getPeer" as const), value: fc.record({ peerId: fc.string({ maxLength: 45 }) }) }),
  ),
});

describe("gateway under hostile input", () => {
  let node: GatewayNode;
  let other: TestNode;
  let client: Client;
  let app: AttachClient;
  const dialed: string[] = [];

  beforeAll(async () => {
    node = await createGatewayNode({ reactors: ["app"] });
    neuterDials(node.sw, dialed);
    client = new Client(node.grpc, credentials.createInsecure());
    // Registration path, before the Switch starts: raw bytes, then garbled registrations.
    const preStart = fc.array(fc.oneof(junk(40), bytesUpTo(300), fc.constant(register("r", [{ id: 0x50, priority: 1, sendQueueCapacity: 1, recvBufferCapacity: 0, recvMessageCapacity: 0, overflowPolicy: 9 as unknown as OverflowPolicy }])), fc.constant(register("r", [{ id: 0x50, priority: 0, sendQueueCapacity: 1, recvBufferCapacity: 0, recvMessageCapacity: 2 ** 31, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }])), fc.constant(register("bad name!"))), { minLength: 1, maxLength: 3 });
    const codes: number[] = [];
    await fc.assert(
      fc.asyncProperty(preStart, async (msgs) => {
        const { status } = await rawAttach(client, msgs);
        codes.push(status.code);
        expect(DELIBERATE.has(status.code)).toBe(true);
      }),
      { numRuns: 60 },
    );
    app = new AttachClient(node.grpc, { name: "app", channels: [{ id: APP, priority: 1, sendQueueCapacity: 10 }] });
    await app.waitFor(() => app.registered !== null);
    await node.start();
    other = await startNode({ network: "gw-chain" });
    // The peer advertises APP (TEST_CHANNELS holds 0x40), so sends can reach it.
    await other.sw.dialPeerWithAddress(node.address());
    await until(() => node.sw.peers().size === 1, 5000, "the peer to connect");
  }, 60_000);

  afterAll(async () => {
    app.close();
    client.close();
    await other.sw.stop();
    await node.stop();
  });

  it("raw AttachRequest bytes: every stream ends with a deliberate status, every command failure is typed", async () => {
    const mutatedCommand = fc.tuple(commandArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), fc.nat()).map(([cmd, edits, cut]) => {
      const b = AttachRequest.encode({ msg: { $case: "command", value: cmd } }).finish().slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      return edits.length > 0 && cut % 4 === 0 ? b.subarray(0, cut % b.length) : b;
    });
    // Batches: commands with an optional ack and credit, sometimes over the 1024-command limit, then mutated like single commands.
    const mutatedBatch = fc
      .tuple(
        fc.oneof({ weight: 8, arbitrary: fc.array(commandArb, { maxLength: 6 }) }, { weight: 1, arbitrary: fc.integer({ min: 1020, max: 1030 }).map((n) => Array.from({ length: n }, (_, i): Command => ({ requestId: BigInt(i), kind: { $case: "numPeers", value: {} } }))) }),
        fc.option(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), { nil: undefined }),
        fc.option(fc.record({ messages: fc.nat(), bytes: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { nil: undefined }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 3 }),
        fc.nat(),
      )
      .map(([commands, ack, credit, edits, cut]) => {
        const b = AttachRequest.encode({ msg: { $case: "batch", value: { ack: ack === undefined ? undefined : { eventSeq: ack }, credit, commands } } }).finish().slice();
        for (const [at, v] of edits) b[at % b.length] = v;
        return edits.length > 0 && cut % 4 === 0 ? b.subarray(0, cut % b.length) : b;
      });
    const stream = fc.tuple(
      // Most streams re-attach as "app" (its previous stream must have ended: the node allows one at a time), some asking for batched results.
      fc.oneof(fc.constant("no" as const), fc.constant("plain" as const), fc.constant("batched" as const)),
      fc.array(fc.oneof({ weight: 3, arbitrary: mutatedCommand }, { weight: 3, arbitrary: mutatedBatch }, { weight: 1, arbitrary: junk(60) }, { weight: 1, arbitrary: fc.constant(concatBytes([Uint8Array.of(0x12, 0x02, 0x08), Uint8Array.of(0x7f)])) }), { maxLength: 6 }),
    );
    app.close();
    await until(() => !(node.gw.remoteReactors().get("app")?.attached ?? false), 5000, "app to detach");
    let sawCommandResults = 0;
    await fc.assert(
      fc.asyncProperty(stream, async ([asApp, msgs]) => {
        const appChannels = [{ id: APP, priority: 1, sendQueueCapacity: 10, recvBufferCapacity: 0, recvMessageCapacity: 1024 * 1024, overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED }];
        const { status, commandCodes } = await rawAttach(client, asApp === "no" ? msgs : [register("app", appChannels, asApp === "batched"), ...msgs]);
        expect(DELIBERATE.has(status.code), `status ${status.code}: ${status.details}`).toBe(true);
        for (const c of commandCodes) expect(c, "a command failed with UNKNOWN: an untyped error escaped").not.toBe(GrpcStatus.UNKNOWN);
        sawCommandResults += commandCodes.length;
        await until(() => !(node.gw.remoteReactors().get("app")?.attached ?? false), 5000, "app to detach");
      }),
      { numRuns: 120 },
    );
    expect(sawCommandResults).toBeGreaterThan(10);
    // Still serving: a well-behaved reactor attaches and lists the peer.
    app = new AttachClient(node.grpc, { name: "app", channels: [{ id: APP, priority: 1, sendQueueCapacity: 10 }] });
    const res = await app.command({ $case: "numPeers", value: {} });
    expect(res.error).toBeUndefined();
  }, 60_000);

  it("runCommand: adversarial commands fail only with typed errors, and never dial", async () => {
    const rr = node.gw.remoteReactors().get("app") as RemoteReactor;
    const unknown: unknown[] = [];
    const logger = pino({ level: "silent" });
    const peer = node.sw.peers().list()[0];
    // Half the commands name the real peer, so that the paths past peer lookup run too.
    const aimed = fc.tuple(commandArb, fc.boolean()).map(([cmd, aim]) => {
      const k = cmd.kind;
      if (!aim || peer === undefined || k === undefined || !("value" in k) || typeof k.value !== "object" || !("peerId" in k.value)) return cmd;
      return { ...cmd, kind: { ...k, value: { ...k.value, peerId: peer.id, connectionId: "" } } } as Command;
    });
    let ok = 0;
    await fc.assert(
      fc.asyncProperty(aimed, async (cmd) => {
        if (cmd.kind?.$case === "stopPeerGracefully") return; // keep the peer for the other commands
        try {
          await runCommand({ rr, sw: node.sw }, cmd);
          ok++;
        } catch (err) {
          const code: number = toCommandError(err, logger).code;
          if (code === UNKNOWN_CODE) unknown.push(err);
        }
      }),
      { numRuns: 400 },
    );
    expect(unknown).toEqual([]);
    expect(ok).toBeGreaterThan(20);
    // The oracle can fail: an untyped error is exactly what maps to UNKNOWN.
    expect(toCommandError(new TypeError("x is undefined"), logger).code).toBe(GrpcStatus.UNKNOWN);
    expect(DELIBERATE.has(GrpcStatus.UNKNOWN) || DELIBERATE.has(GrpcStatus.INTERNAL)).toBe(false);
    // Fuzzed addresses were recorded, never dialled.
    expect(node.sw.peers().size).toBeLessThanOrEqual(1);
    expect(dialed.every((a) => typeof a === "string")).toBe(true);
  }, 60_000);
});
