/**
 * Registration: which remote reactors the node has, and how a `Register`
 * becomes one. A new name becomes a RemoteReactor of the Switch (before the
 * Switch starts only, as the reactor spec requires); a known name may attach
 * again with the same channels (resume or fresh session).
 *
 * The node waits (`waitForReactors`) until every reactor named in
 * `grpc.reactors` has registered, and only then starts the Switch, whose
 * NodeInfo then advertises their channels.
 */
import { status as GrpcStatus } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { type ChannelDescriptor as ApiChannel, ErrorReason, OverflowPolicy as ApiOverflowPolicy, type Register } from "../gen/switchboard/gateway/v1/gateway.js";
import type { SwitchControl } from "../p2p/switch-control.js";
import { fillChannelDefaults } from "../wire/mconnection/channel-descriptor.js";
import { MAX_NUM_CHANNELS } from "../wire/node-info.js";
import { GatewayError, failedPrecondition, invalidField } from "./errors.js";
import { type OverflowPolicy, type RemoteChannel, RemoteReactor, type RemoteReactorLimits, type RemoteReactorObserver } from "./remote-reactor.js";
import type { GatewayAuth, Identity } from "./security.js";

/** Largest initial reassembly buffer a remote reactor may ask for: it is allocated per peer connection. */
export const MAX_REMOTE_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** Largest per-peer send queue a remote reactor may ask for (CometBFT's largest is blocksync's 1000). */
export const MAX_REMOTE_SEND_QUEUE_CAPACITY = 10_000;
/** Reactor names: letters, digits, `.`, `_`, `-`, up to 128 characters. */
const REACTOR_NAME = /^[A-Za-z0-9._-]{1,128}$/;

const POLICY_FROM_API: Record<number, OverflowPolicy | undefined> = {
  [ApiOverflowPolicy.OVERFLOW_POLICY_BLOCK]: "block",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST]: "drop-newest",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST]: "drop-oldest",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DISCONNECT_PEER]: "disconnect-peer",
};

export interface ReactorRegistryOptions {
  readonly sw: SwitchControl;
  /** Reactor names the node waits for before starting the Switch. */
  readonly expected: readonly string[];
  readonly registrationTimeoutMs: number;
  /** For channels that name no overflow policy. */
  readonly defaultOverflowPolicy: OverflowPolicy;
  /** Largest gRPC message: no channel may take larger messages. */
  readonly maxMessageBytes: number;
  readonly limits: RemoteReactorLimits;
  readonly auth: GatewayAuth;
  readonly logger: Logger;
  readonly observer?: RemoteReactorObserver;
}

export class ReactorRegistry {
  private readonly reactors = new Map<string, RemoteReactor>();
  private readonly waiters: (() => void)[] = [];

  constructor(private readonly options: ReactorRegistryOptions) {}

  /** Remote reactors by name. */
  all(): ReadonlyMap<string, RemoteReactor> {
    return this.reactors;
  }

  /**
   * Checks `reg` and returns its reactor: a new one added to the Switch, or
   * the one registered before under that name (same channels, no stream
   * attached). `attach` attaches the stream to it; then whoever waits for
   * reactors is told. Throws a GatewayError naming the field at fault.
   */
  register(reg: Register, identity: Identity | null, log: Logger, attach: (rr: RemoteReactor) => void): RemoteReactor {
    const name = reg.reactorName;
    if (!REACTOR_NAME.test(name)) throw invalidField("register.reactor_name", "must be 1..128 characters of letters, digits, '.', '_' or '-'");
    this.options.auth.requireReactor(identity, name, log);
    const channels = reg.channels.map((c, i) => this.channelFromApi(c, `register.channels[${i}]`));
    const sw = this.options.sw;
    let rr = this.reactors.get(name);
    if (rr === undefined) {
      if (sw.lifecycle !== "created") {
        throw failedPrecondition(
          ErrorReason.ERROR_REASON_NODE_NOT_RUNNING,
          `the node has started; reactor "${name}" did not register before start (list it in grpc.reactors so the node waits for it)`,
        );
      }
      if (channels.length === 0) throw invalidField("register.channels", "at least one channel is required");
      this.screenNewChannels(name, channels);
      rr = new RemoteReactor(name, channels, this.options.limits, this.options.logger.child({ reactor: name }), this.options.observer);
      try {
        sw.addReactor(name, rr);
      } catch (err) {
        throw new GatewayError(GrpcStatus.ALREADY_EXISTS, ErrorReason.ERROR_REASON_UNSPECIFIED, (err as Error).message);
      }
      this.reactors.set(name, rr);
      log.info({ reactor: name, channels: channels.map((c) => c.id) }, "reactor registered");
    } else {
      if (rr.attached) throw new GatewayError(GrpcStatus.ALREADY_EXISTS, ErrorReason.ERROR_REASON_UNSPECIFIED, `reactor "${name}" is attached on another stream`);
      if (!sameChannels(rr.channels, channels)) {
        throw failedPrecondition(ErrorReason.ERROR_REASON_UNSPECIFIED, `reactor "${name}" registered different channels before; the node advertises those (restart the node to change them)`);
      }
    }
    attach(rr);
    for (const w of this.waiters.splice(0)) w();
    return rr;
  }

  /** Resolves once every reactor in `grpc.reactors` has registered; rejects after the timeout, naming the missing ones. */
  async waitForReactors(signal?: AbortSignal): Promise<void> {
    const missing = (): string[] => this.options.expected.filter((n) => !this.reactors.has(n));
    if (missing().length === 0) return;
    this.options.logger.info({ reactors: missing() }, "waiting for reactors to register");
    const timeoutMs = this.options.registrationTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (err === null) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => {
        finish(new Error(`reactors did not register within ${timeoutMs} ms: ${missing().join(", ")} (grpc.reactors)`));
      }, timeoutMs);
      const onAbort = (): void => {
        finish(new Error(`stopped while waiting for reactors: ${missing().join(", ")}`));
      };
      if (signal?.aborted === true) {
        onAbort();
        return;
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      const check = (): void => {
        if (missing().length > 0) {
          this.waiters.push(check);
          return;
        }
        finish(null);
      };
      check();
    });
  }

  /**
   * Refuses, as a bad argument naming the field, channels no registration
   * could have: one listed twice, one the node's own reactors hold (PEX's
   * 0x00), or more than a NodeInfo lists. A channel another remote reactor
   * holds is left to the Switch: ALREADY_EXISTS, naming the owner.
   */
  private screenNewChannels(name: string, channels: readonly RemoteChannel[]): void {
    const sw = this.options.sw;
    const first = new Map<number, number>();
    channels.forEach((c, i) => {
      const hex = `0x${c.id.toString(16).padStart(2, "0")}`;
      const twin = first.get(c.id);
      if (twin !== undefined) throw invalidField(`register.channels[${i}].id`, `channel ${hex} is listed twice (also register.channels[${twin}])`);
      first.set(c.id, i);
      const owner = sw.channelOwner(c.id);
      if (owner !== undefined && !this.reactors.has(owner)) {
        throw invalidField(
          `register.channels[${i}].id`,
          `channel ${hex} belongs to the node's own reactor ${owner}${owner === "PEX" ? " (set p2p.pex = false to run PEX as a remote reactor)" : ""}`,
        );
      }
    });
    const total = sw.channels().length + channels.length;
    if (total > MAX_NUM_CHANNELS) {
      throw invalidField("register.channels", `reactor "${name}" would bring the node to ${total} channels; a NodeInfo lists at most ${MAX_NUM_CHANNELS}`);
    }
  }

  private channelFromApi(c: ApiChannel, field: string): RemoteChannel {
    if (c.id > 255) throw invalidField(`${field}.id`, `${c.id} is not 0..255`);
    if (c.priority < 1) throw invalidField(`${field}.priority`, "must be at least 1");
    let policy: OverflowPolicy;
    if (c.overflowPolicy === ApiOverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED) policy = this.options.defaultOverflowPolicy;
    else {
      const p = POLICY_FROM_API[c.overflowPolicy];
      if (p === undefined) throw invalidField(`${field}.overflow_policy`, `unknown value ${c.overflowPolicy}`);
      policy = p;
    }
    const maxMessageBytes = this.options.maxMessageBytes;
    if (c.recvMessageCapacity > maxMessageBytes) {
      throw invalidField(`${field}.recv_message_capacity`, `${c.recvMessageCapacity} exceeds grpc.max_message_bytes (${maxMessageBytes}): such a message could not reach the reactor`);
    }
    if (c.recvBufferCapacity > MAX_REMOTE_RECV_BUFFER_BYTES) {
      throw invalidField(`${field}.recv_buffer_capacity`, `${c.recvBufferCapacity} exceeds ${MAX_REMOTE_RECV_BUFFER_BYTES}: it is allocated per peer connection`);
    }
    if (c.sendQueueCapacity > MAX_REMOTE_SEND_QUEUE_CAPACITY) {
      throw invalidField(`${field}.send_queue_capacity`, `${c.sendQueueCapacity} exceeds ${MAX_REMOTE_SEND_QUEUE_CAPACITY} messages per peer`);
    }
    try {
      const filled = fillChannelDefaults(
        {
          id: c.id,
          priority: c.priority,
          sendQueueCapacity: c.sendQueueCapacity,
          recvBufferCapacity: c.recvBufferCapacity,
          recvMessageCapacity: c.recvMessageCapacity,
        },
        field,
      );
      return { ...filled, overflowPolicy: policy };
    } catch (err) {
      throw invalidField(field, (err as Error).message);
    }
  }
}

/** A re-attach must name the same channels, every descriptor field alike, in the same order. */
function sameChannels(before: readonly RemoteChannel[], now: readonly RemoteChannel[]): boolean {
  return (
    before.length === now.length &&
    before.every((c, i) => {
      const n = now[i];
      return (
        n !== undefined &&
        n.id === c.id &&
        n.priority === c.priority &&
        n.sendQueueCapacity === c.sendQueueCapacity &&
        n.recvBufferCapacity === c.recvBufferCapacity &&
        n.recvMessageCapacity === c.recvMessageCapacity &&
        n.overflowPolicy === c.overflowPolicy
      );
    })
  );
}
