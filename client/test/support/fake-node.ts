/**
 * A scripted node for unit tests: each Attach call is a FakeCall the test
 * answers by hand (Registered, events, results, errors), recording what the
 * SDK writes. No gRPC, no timers.
 */
import { Metadata, status as Status } from "@grpc/grpc-js";
import { Observable, type Subscriber } from "rxjs";
import type { AttachRequest, AttachResponse, Command, CommandResult, ErrorReason, Event, Limits, Register } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import type { AttachTransport } from "../../src/transport.js";

export const NODE_INFO = {
  nodeId: "aa".repeat(20),
  listenAddr: "tcp://127.0.0.1:26656",
  network: "test-net",
  version: "0.38.25",
  channels: Uint8Array.of(0x70),
  moniker: "fake",
  p2pVersion: 8n,
  blockVersion: 11n,
  appVersion: 0n,
  txIndex: "off",
  rpcAddress: "",
};

export function peerInfo(peerId: string, connectionId: string) {
  return { peerId, connectionId, outbound: true, persistent: false, unconditional: false, remoteAddress: "127.0.0.1:1", socketAddress: `${peerId}@127.0.0.1:1`, nodeInfo: { ...NODE_INFO, nodeId: peerId } };
}

export const ev = {
  start: (seq: number): Event => ({ seq: BigInt(seq), kind: { $case: "onStart", value: {} } }),
  stop: (seq: number): Event => ({ seq: BigInt(seq), kind: { $case: "onStop", value: {} } }),
  init: (seq: number, peerId: string, connectionId: string): Event => ({ seq: BigInt(seq), kind: { $case: "initPeer", value: { peer: peerInfo(peerId, connectionId) } } }),
  add: (seq: number, peerId: string, connectionId: string): Event => ({ seq: BigInt(seq), kind: { $case: "addPeer", value: { peerId, connectionId } } }),
  remove: (seq: number, peerId: string, connectionId: string, reason = ""): Event => ({ seq: BigInt(seq), kind: { $case: "removePeer", value: { peerId, connectionId, reason } } }),
  recv: (seq: number, peerId: string, connectionId: string, channelId: number, message: Uint8Array): Event => ({
    seq: BigInt(seq),
    kind: { $case: "receive", value: { peerId, connectionId, channelId, message } },
  }),
};

export function serviceError(code: Status, details: string): Error {
  return Object.assign(new Error(`${code} ${details}`), { code, details, metadata: new Metadata() });
}

export class FakeCall {
  readonly requests: AttachRequest[] = [];
  cancelled = false;
  constructor(private readonly sub: Subscriber<AttachResponse>) {}

  get register(): Register {
    const first = this.requests[0]?.msg;
    if (first?.$case !== "register") throw new Error("the first request is not Register");
    return first.value;
  }
  /** Credit granted on this call, Register's initial credit included. */
  get granted(): { messages: number; bytes: number } {
    let messages = 0;
    let bytes = 0;
    for (const r of this.requests) {
      const m = r.msg;
      if (m?.$case === "register") {
        messages += m.value.initialCredit?.messages ?? 0;
        bytes += Number(m.value.initialCredit?.bytes ?? 0n);
      } else if (m?.$case === "credit") {
        messages += m.value.messages;
        bytes += Number(m.value.bytes);
      }
    }
    return { messages, bytes };
  }
  get acks(): bigint[] {
    return this.requests.flatMap((r) => (r.msg?.$case === "ack" ? [r.msg.value.eventSeq] : []));
  }
  get commands(): Command[] {
    return this.requests.flatMap((r) => (r.msg?.$case === "command" ? [r.msg.value] : []));
  }

  /** Registered, as a node that sends no Limits (older than them) unless `limits` is given. */
  registered(opts: { token?: string; resumed?: boolean; refused?: string; next?: number; limits?: Limits } = {}): void {
    this.sub.next({
      msg: {
        $case: "registered",
        value: { sessionToken: opts.token ?? "tok-1", resumed: opts.resumed ?? false, resumeRefusedReason: opts.refused ?? "", nodeInfo: NODE_INFO, nextEventSeq: BigInt(opts.next ?? 1), limits: opts.limits },
      },
    });
  }
  events(...events: Event[]): void {
    this.sub.next({ msg: { $case: "events", value: { events } } });
  }
  result(requestId: bigint, kind: CommandResult["kind"]): void {
    this.sub.next({ msg: { $case: "result", value: { requestId, error: undefined, kind } } });
  }
  commandError(requestId: bigint, code: Status, reason: ErrorReason, message: string): void {
    this.sub.next({ msg: { $case: "result", value: { requestId, error: { code, reason, message }, kind: undefined } } });
  }
  fail(code: Status, details: string): void {
    this.sub.error(serviceError(code, details));
  }
  end(): void {
    this.sub.complete();
  }
}

export class FakeNode {
  readonly calls: FakeCall[] = [];
  readonly transport: AttachTransport = (requests) =>
    new Observable<AttachResponse>((sub) => {
      const call = new FakeCall(sub);
      this.calls.push(call);
      const s = requests.subscribe((r) => call.requests.push(r));
      return () => {
        s.unsubscribe();
        call.cancelled = true;
      };
    });

  get last(): FakeCall {
    const c = this.calls.at(-1);
    if (c === undefined) throw new Error("no call yet");
    return c;
  }
}

/** Lets pending promise callbacks run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** Waits (real time) until `pred` holds. */
export async function until(pred: () => boolean, timeoutMs = 2_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise<void>((resolve) => setTimeout(resolve, 2));
  }
}
