/**
 * A remote reactor in its own process, attached to a node's gateway over
 * gRPC with the generated client of the SDK (client/src/gen), driven by the
 * controller through the RPC of bench/lib/child.ts.
 *
 * It behaves as a reactor built on the SDK would: it acknowledges each event
 * batch and grants back the credit the batch used, and it sends with the
 * `send` command (waiting for queue room), keeping a bounded window of
 * commands in flight. Like the SDK, it writes what one turn of the event loop
 * produces (ack, credit, commands) as one RequestBatch (the SDK's Outbox) and
 * registers with batch_results, so the node answers in ResultBatches, and it
 * encodes requests with the SDK's encoder.
 */
import { type ClientDuplexStream, credentials, makeGenericClientConstructor } from "@grpc/grpc-js";
import {
  type AttachRequest,
  type AttachResponse,
  type Command,
  type CommandResult,
  type Event,
  OverflowPolicy,
  ReactorGatewayServiceClient,
  ReactorGatewayServiceService,
} from "../../client/src/gen/switchboard/gateway/v1/gateway.js";
import { encodeAttachRequest } from "../../client/src/internal/encode.js";
import { Outbox } from "../../client/src/internal/outbox.js";
import { serve } from "../lib/child.js";
import { BENCH_CHANNEL, decodeTx, encodeTxMessage, nowNs, sentAtNs, sequenceOf, stampedCopy, txOffset } from "../lib/message.js";
import type { BenchSettings } from "../lib/settings.js";
import { summarizeNs } from "../lib/stats.js";

/** Credit granted at registration; each batch's use is granted back at once. */
const INITIAL_CREDIT = { messages: 10_000, bytes: 64 * 1024 * 1024 };
/** Bytes of `send` commands in flight at most (and at least one command). */
const WINDOW_BYTES = 8 * 1024 * 1024;
/** Commands in flight at most (the gateway refuses more than 1024 per stream). */
const WINDOW_COMMANDS = 512;
const MAX_MESSAGE_BYTES = 128 * 1024 * 1024;
/** HTTP/2 receive window (stream and connection) for the events the node sends; grpc-js defaults to 64 KiB. */
const FLOW_CONTROL_WINDOW_BYTES = 16 * 1024 * 1024;

/** The generated client with the SDK's AttachRequest encoder, as the SDK builds it. */
const AttachClient = makeGenericClientConstructor(
  { attach: { ...ReactorGatewayServiceService.attach, requestSerialize: encodeAttachRequest } },
  "switchboard.gateway.v1.ReactorGatewayService",
) as unknown as typeof ReactorGatewayServiceClient;

type ReceiveHandler = (message: Uint8Array, connectionId: string, txAt: number) => void;

let call: ClientDuplexStream<AttachRequest, AttachResponse> | null = null;
let outbox: Outbox | null = null;
let client: InstanceType<typeof ReactorGatewayServiceClient> | null = null;
let nextRequestId = 1n;
const pending = new Map<bigint, (r: CommandResult) => void>();
let peer: { connectionId: string; peerId: string } | null = null;
const peerWaiters: (() => void)[] = [];
let onReceive: ReceiveHandler | null = null;

function out(): Outbox {
  if (outbox === null) throw new Error("not attached");
  return outbox;
}

/** Sends a command; `done` gets its result (a callback, not a promise: one less allocation and microtask per message). */
function commandThen(kind: Command["kind"], done: (r: CommandResult) => void): void {
  const requestId = nextRequestId++;
  pending.set(requestId, done);
  out().add({ msg: { $case: "command", value: { requestId, kind } } });
}

function command(kind: Command["kind"]): Promise<CommandResult> {
  return new Promise((resolve) => {
    commandThen(kind, resolve);
  });
}

function onResult(r: CommandResult): void {
  const done = pending.get(r.requestId);
  pending.delete(r.requestId);
  done?.(r);
}

function onEvents(events: readonly Event[]): void {
  let bytes = 0;
  for (const e of events) {
    const k = e.kind;
    if (k === undefined) continue;
    if (k.$case === "receive") {
      bytes += k.value.message.length;
      const h = onReceive;
      if (h !== null) h(k.value.message, k.value.connectionId, decodeTx(k.value.message).at);
    } else if (k.$case === "addPeer") {
      peer = { connectionId: k.value.connectionId, peerId: k.value.peerId };
      for (const w of peerWaiters.splice(0)) w();
    }
  }
  const last = events.at(-1);
  if (last === undefined) return;
  const o = out();
  o.add({ msg: { $case: "ack", value: { eventSeq: last.seq } } });
  o.add({ msg: { $case: "credit", value: { messages: events.length, bytes: BigInt(bytes) } } });
}

function firstPeer(): { connectionId: string; peerId: string } {
  if (peer === null) throw new Error("no peer yet");
  return peer;
}

function sendCommand(connectionId: string, message: Uint8Array): Command["kind"] {
  return { $case: "send", value: { connectionId, peerId: "", channelId: BENCH_CHANNEL, message, timeoutMs: 60_000 } };
}

function checkQueued(r: CommandResult): void {
  if (r.error !== undefined) throw new Error(`command failed: ${r.error.message}`);
  if (r.kind?.$case === "send" && !r.kind.value.queued) throw new Error("send was not queued");
}

let echoLatencies: number[] = [];
let closing = false;
let expected: Promise<{ lastNs: bigint; loaded: ReturnType<typeof summarizeNs> }> | null = null;

serve({
  /** Registers as reactor `name` with the bench channel; resolves once Registered arrives. */
  attach(args: { grpc: string; name: string; settings: BenchSettings }): Promise<void> {
    client = new AttachClient(args.grpc, credentials.createInsecure(), {
      "grpc.max_receive_message_length": MAX_MESSAGE_BYTES,
      "grpc.max_send_message_length": MAX_MESSAGE_BYTES,
      "grpc-node.flow_control_window": FLOW_CONTROL_WINDOW_BYTES,
    });
    const c = client.attach();
    call = c;
    outbox = new Outbox((req) => {
      c.write(req);
    });
    return new Promise((resolve, reject) => {
      c.on("data", (res: AttachResponse) => {
        const m = res.msg;
        if (m === undefined) return;
        switch (m.$case) {
          case "registered":
            resolve();
            return;
          case "events":
            onEvents(m.value.events);
            return;
          case "result":
            onResult(m.value);
            return;
          case "results":
            for (const r of m.value.results) onResult(r);
            return;
        }
      });
      c.on("error", (err: Error) => {
        reject(err);
        if (!closing) console.error(`gateway reactor ${args.name}: stream error: ${err.message}`);
      });
      out().add({
        msg: {
          $case: "register",
          value: {
            reactorName: args.name,
            channels: [
              {
                id: BENCH_CHANNEL,
                priority: 1,
                sendQueueCapacity: args.settings.sendQueueCapacity,
                recvBufferCapacity: 4096,
                recvMessageCapacity: args.settings.recvMessageCapacityBytes,
                overflowPolicy: OverflowPolicy.OVERFLOW_POLICY_BLOCK,
              },
            ],
            sessionToken: "",
            initialCredit: { messages: INITIAL_CREDIT.messages, bytes: BigInt(INITIAL_CREDIT.bytes) },
            batchResults: true,
          },
        },
      });
    });
  },

  async dial(args: { address: string }): Promise<void> {
    checkQueued(await command({ $case: "dialPeers", value: { addresses: [args.address], persistent: false } }));
  },

  async waitPeer(args: { timeoutMs?: number }): Promise<void> {
    const deadline = Date.now() + (args.timeoutMs ?? 30_000);
    while (peer === null) {
      if (Date.now() > deadline) throw new Error("no peer was added");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        peerWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  },

  /** Starts counting arrivals (answered once counting); {@link streamResult} resolves once `n` arrived. */
  expectStream(args: { n: number }): void {
    const lat = new Float64Array(args.n);
    let got = 0;
    expected = new Promise((resolve) => {
      onReceive = (message, _conn, txAt) => {
        const now = nowNs();
        lat[got++] = Number(now - sentAtNs(message, txAt));
        if (got === args.n) {
          onReceive = null;
          resolve({ lastNs: now, loaded: summarizeNs(lat) });
        }
      };
    });
  },

  /** The last arrival time and the latency under load, once the expected messages arrived. */
  streamResult(): Promise<{ lastNs: bigint; loaded: ReturnType<typeof summarizeNs> }> {
    if (expected === null) throw new Error("expectStream first");
    return expected;
  },

  /** Sends `n` messages through the node to its first peer, a bounded window of `send` commands in flight. */
  async sendStream(args: { size: number; n: number }): Promise<{ startNs: bigint }> {
    const { connectionId } = firstPeer();
    const template = encodeTxMessage(args.size);
    const at = txOffset(args.size);
    const window = Math.max(1, Math.min(WINDOW_COMMANDS, Math.floor(WINDOW_BYTES / template.length)));
    const start = nowNs();
    let sent = 0;
    let failure: Error | null = null;
    await new Promise<void>((resolve, reject) => {
      let inFlight = 0;
      const onDone = (r: CommandResult): void => {
        inFlight--;
        try {
          checkQueued(r);
        } catch (err) {
          failure ??= err as Error;
        }
        if (failure !== null) reject(failure);
        else if (sent === args.n && inFlight === 0) resolve();
        else pump();
      };
      const pump = (): void => {
        while (inFlight < window && sent < args.n) {
          inFlight++;
          commandThen(sendCommand(connectionId, stampedCopy(template, at, sent++)), onDone);
        }
      };
      pump();
    });
    return { startNs: start };
  },

  /** Answers every message with an 8-byte tx (a `send` command) and records one-way latencies past `warmup`. */
  echo(args: { warmup: number }): void {
    const ack = encodeTxMessage(8);
    echoLatencies = [];
    onReceive = (message, connectionId, txAt) => {
      const now = nowNs();
      if (sequenceOf(message, txAt) >= args.warmup) echoLatencies.push(Number(now - sentAtNs(message, txAt)));
      commandThen(sendCommand(connectionId, ack), checkQueued);
    };
  },

  echoLatencies(): ReturnType<typeof summarizeNs> & { samples: number } {
    onReceive = null;
    return { ...summarizeNs(echoLatencies), samples: echoLatencies.length };
  },

  /** Sends one message at a time through the node, the next when the answer arrives. */
  pingPong(args: { size: number; total: number }): Promise<void> {
    const { connectionId } = firstPeer();
    const template = encodeTxMessage(args.size);
    const at = txOffset(args.size);
    let sent = 0;
    return new Promise((resolve, reject) => {
      const onDone = (r: CommandResult): void => {
        try {
          checkQueued(r);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      };
      const sendNext = (): void => {
        commandThen(sendCommand(connectionId, stampedCopy(template, at, sent++)), onDone);
      };
      onReceive = () => {
        if (sent === args.total) {
          onReceive = null;
          resolve();
          return;
        }
        sendNext();
      };
      sendNext();
    });
  },

  close(): void {
    closing = true;
    outbox?.discard();
    call?.cancel();
    client?.close();
  },
});
