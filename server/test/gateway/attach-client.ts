/**
 * A minimal raw client of the Attach stream for gateway tests: real gRPC,
 * generated messages, explicit acks and credit, so tests control every byte
 * of flow control. (The SDKs in client/ are the real clients.)
 */
import { type ChannelCredentials, type ClientDuplexStream, Metadata, type ServiceError, credentials } from "@grpc/grpc-js";
import {
  type AttachRequest,
  type AttachResponse,
  type ChannelDescriptor,
  type Command,
  type CommandResult,
  type Event,
  type Registered,
  OverflowPolicy,
  ReactorGatewayServiceClient,
} from "../../src/gen/switchboard/gateway/v1/gateway.js";

export interface AttachOptions {
  readonly name: string;
  readonly channels: readonly Partial<ChannelDescriptor>[];
  readonly sessionToken?: string;
  readonly credit?: { messages: number; bytes: number };
  /** Ack every event as it arrives. @default true */
  readonly autoAck?: boolean;
  /** Grant one message of credit back per event received. @default true */
  readonly autoCredit?: boolean;
  /** Bearer token sent as `authorization` metadata. */
  readonly token?: string;
  /** Channel credentials (TLS); insecure by default. */
  readonly credentials?: ChannelCredentials;
  /** Register with batch_results: the node may answer in ResultBatches. @default false */
  readonly batchResults?: boolean;
}

export class AttachClient {
  readonly events: Event[] = [];
  readonly results = new Map<bigint, CommandResult>();
  /** Every result in arrival order. */
  readonly resultOrder: CommandResult[] = [];
  /** How results arrived: the size of each ResultBatch, or 0 for a plain CommandResult message. */
  readonly resultMessages: number[] = [];
  registered: Registered | null = null;
  status: ServiceError | null = null;
  ended = false;
  private nextRequestId = 1n;
  private readonly waiters: { pred: () => boolean; resolve: () => void }[] = [];
  readonly call: ClientDuplexStream<AttachRequest, AttachResponse>;
  private readonly client: InstanceType<typeof ReactorGatewayServiceClient>;

  constructor(
    address: string,
    options: AttachOptions,
  ) {
    this.client = new ReactorGatewayServiceClient(address, options.credentials ?? credentials.createInsecure(), {
      "grpc.max_receive_message_length": 128 * 1024 * 1024,
      "grpc.max_send_message_length": 128 * 1024 * 1024,
    });
    const md = new Metadata();
    if (options.token !== undefined) md.set("authorization", `Bearer ${options.token}`);
    this.call = this.client.attach(md);
    this.call.on("data", (res: AttachResponse) => {
      const m = res.msg;
      if (m?.$case === "registered") this.registered = m.value;
      else if (m?.$case === "events") {
        for (const e of m.value.events) this.events.push(e);
        const last = m.value.events.at(-1);
        if (last !== undefined && (options.autoAck ?? true)) this.send({ msg: { $case: "ack", value: { eventSeq: last.seq } } });
        if (options.autoCredit ?? true) this.grant(m.value.events.length, m.value.events.reduce((n, e) => n + (e.kind?.$case === "receive" ? e.kind.value.message.length : 0), 0));
      } else if (m?.$case === "result") {
        this.results.set(m.value.requestId, m.value);
        this.resultOrder.push(m.value);
        this.resultMessages.push(0);
      } else if (m?.$case === "results") {
        for (const r of m.value.results) {
          this.results.set(r.requestId, r);
          this.resultOrder.push(r);
        }
        this.resultMessages.push(m.value.results.length);
      }
      this.notify();
    });
    this.call.on("error", (err: ServiceError) => {
      this.status = err;
      this.notify();
    });
    this.call.on("end", () => {
      this.ended = true;
      this.notify();
    });
    this.send({
      msg: {
        $case: "register",
        value: {
          reactorName: options.name,
          channels: options.channels.map((c) => ({
            id: c.id ?? 0,
            priority: c.priority ?? 1,
            sendQueueCapacity: c.sendQueueCapacity ?? 10,
            recvBufferCapacity: c.recvBufferCapacity ?? 0,
            recvMessageCapacity: c.recvMessageCapacity ?? 1024 * 1024,
            overflowPolicy: c.overflowPolicy ?? OverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED,
          })),
          sessionToken: options.sessionToken ?? "",
          initialCredit: { messages: options.credit?.messages ?? 1000, bytes: BigInt(options.credit?.bytes ?? 64 * 1024 * 1024) },
          batchResults: options.batchResults ?? false,
        },
      },
    });
  }

  send(req: AttachRequest): void {
    this.call.write(req);
  }

  grant(messages: number, bytes: number): void {
    this.send({ msg: { $case: "credit", value: { messages, bytes: BigInt(bytes) } } });
  }

  ack(seq: bigint): void {
    this.send({ msg: { $case: "ack", value: { eventSeq: seq } } });
  }

  /** Sends a command and waits for its result. */
  async command(kind: Command["kind"], timeoutMs = 15_000): Promise<CommandResult> {
    const requestId = this.nextRequestId++;
    this.send({ msg: { $case: "command", value: { requestId, kind } } });
    await this.waitFor(() => this.results.has(requestId), timeoutMs, `result of command ${String(requestId)}`);
    return this.results.get(requestId)!;
  }

  /** Sends commands (with an optional ack and credit) in one RequestBatch; returns their request IDs. */
  batch(kinds: readonly Command["kind"][], extra: { ack?: bigint; credit?: { messages: number; bytes: number } } = {}): bigint[] {
    const commands = kinds.map((kind) => ({ requestId: this.nextRequestId++, kind }));
    this.send({
      msg: {
        $case: "batch",
        value: {
          ack: extra.ack === undefined ? undefined : { eventSeq: extra.ack },
          credit: extra.credit === undefined ? undefined : { messages: extra.credit.messages, bytes: BigInt(extra.credit.bytes) },
          commands,
        },
      },
    });
    return commands.map((c) => c.requestId);
  }

  /** Waits for the results of `ids` and returns them in the order of `ids`. */
  async resultsOf(ids: readonly bigint[], timeoutMs = 15_000): Promise<CommandResult[]> {
    await this.waitFor(() => ids.every((id) => this.results.has(id)), timeoutMs, `results of ${ids.length} commands`);
    return ids.map((id) => this.results.get(id)!);
  }

  kinds(): string[] {
    return this.events.map((e) => e.kind?.$case ?? "?");
  }

  waitFor(pred: () => boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
    if (pred()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; events: ${this.kinds().join(",")}; status: ${this.status?.details ?? "-"}`));
      }, timeoutMs);
      this.waiters.push({
        pred,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  /** Half-closes and drops the connection, like a crashed client. */
  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private notify(): void {
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const w = this.waiters[i]!;
      if (w.pred()) {
        this.waiters.splice(i, 1);
        w.resolve();
      }
    }
  }
}

/** Converts recorded gateway events into reactor-trace events (registration first). */
export function toTrace(events: readonly Event[]): import("../support/reactor-trace.js").TraceEvent[] {
  const out: import("../support/reactor-trace.js").TraceEvent[] = [{ kind: "GetChannels" }, { kind: "SetSwitch" }];
  for (const e of events) {
    const k = e.kind;
    switch (k?.$case) {
      case "onStart":
        out.push({ kind: "OnStart" });
        break;
      case "onStop":
        out.push({ kind: "OnStop" });
        break;
      case "initPeer":
        out.push({ kind: "InitPeer", peerId: k.value.peer?.peerId ?? "", connection: k.value.peer?.connectionId ?? "" });
        break;
      case "addPeer":
        out.push({ kind: "AddPeer", peerId: k.value.peerId, connection: k.value.connectionId });
        break;
      case "receive":
        out.push({ kind: "Receive", peerId: k.value.peerId, connection: k.value.connectionId, channelId: k.value.channelId });
        break;
      case "removePeer":
        out.push({ kind: "RemovePeer", peerId: k.value.peerId, connection: k.value.connectionId });
        break;
      case undefined:
        break;
    }
  }
  return out;
}
