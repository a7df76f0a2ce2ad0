/**
 * The reactor gateway: a gRPC server through which reactors in other
 * processes become reactors of the Switch, one bidirectional stream each.
 * Also serves the node-wide NodeService, grpc.health.v1 and server reflection.
 *
 * Registration happens before the Switch starts, as the reactor spec
 * requires: the node waits until every reactor named in `grpc.reactors` has
 * registered (or fails after `registrationTimeoutMs`), and only then starts
 * the Switch, whose NodeInfo then advertises their channels. A reactor that
 * registered before may re-attach at any time (resume or fresh session).
 */
import { existsSync } from "node:fs";
import { lstat, unlink } from "node:fs/promises";
import { connect } from "node:net";
import type { PeerCertificate } from "node:tls";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Metadata,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerUnaryCall,
  Server,
  ServerCredentials,
  status as GrpcStatus,
} from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import {
  AttachRequest,
  type AttachResponse,
  type ChannelDescriptor as ApiChannel,
  type Command,
  ErrorReason,
  type Event,
  NodeServiceService,
  OverflowPolicy as ApiOverflowPolicy,
  ReactorGatewayServiceService,
  type Register,
} from "../gen/switchboard/gateway/v1/gateway.js";
import { formatHostPort } from "../p2p/net-address.js";
import type { Switch } from "../p2p/switch.js";
import { fillChannelDefaults } from "../wire/mconnection/channel-descriptor.js";
import { MAX_NUM_CHANNELS } from "../wire/node-info.js";
import { type CommandOutcome, runCommand } from "./commands.js";
import { nodeInfoToApi, peerStatusOf } from "./convert.js";
import { DEFAULT_GRPC_LADDR, DEFAULT_MAX_MESSAGE_BYTES, DEFAULT_OVERFLOW_POLICY, DEFAULT_REGISTRATION_TIMEOUT_MS } from "./defaults.js";
import { encodeAttachResponse } from "./encode.js";
import { GatewayError, GatewayListenError, failedPrecondition, invalidField } from "./errors.js";
import { DEFAULT_REMOTE_REACTOR_LIMITS, type EventSink, type RemoteReactorObserver, type OverflowPolicy, type RemoteChannel, RemoteReactor, type RemoteReactorLimits } from "./remote-reactor.js";
import { toCommandError, toServiceError } from "./status.js";
import { ResultWriter } from "./results.js";
import { reflectionDefinition } from "./reflection.js";
import { MAX_BATCH_COMMANDS, screenAttachRequest } from "./screen.js";
import { type GatewaySecurity, GatewaySecurityError, type Identity, authenticate, bearerToken, isLocalOnly } from "./security.js";

export interface GatewayConfig {
  /** `tcp://HOST:PORT`, `HOST:PORT` or `unix:///PATH`. */
  readonly laddr: string;
  /** Reactor names the node waits for before starting the Switch. */
  readonly reactors: readonly string[];
  readonly registrationTimeoutMs: number;
  readonly eventQueueMaxMessages: number;
  readonly eventQueueMaxBytes: number;
  readonly defaultOverflowPolicy: OverflowPolicy;
  readonly resumeWindowMs: number;
  /** Largest gRPC message either way. */
  readonly maxMessageBytes: number;
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = {
  laddr: DEFAULT_GRPC_LADDR,
  reactors: [],
  registrationTimeoutMs: DEFAULT_REGISTRATION_TIMEOUT_MS,
  eventQueueMaxMessages: DEFAULT_REMOTE_REACTOR_LIMITS.eventQueueMaxMessages,
  eventQueueMaxBytes: DEFAULT_REMOTE_REACTOR_LIMITS.eventQueueMaxBytes,
  defaultOverflowPolicy: DEFAULT_OVERFLOW_POLICY,
  resumeWindowMs: DEFAULT_REMOTE_REACTOR_LIMITS.resumeWindowMs,
  maxMessageBytes: DEFAULT_MAX_MESSAGE_BYTES,
};

/** Commands in progress on one stream; beyond it a command is refused with RESOURCE_EXHAUSTED. */
export const MAX_INFLIGHT_COMMANDS_PER_STREAM = 1024;
/** Largest initial reassembly buffer a remote reactor may ask for: it is allocated per peer connection. */
export const MAX_REMOTE_RECV_BUFFER_BYTES = 4 * 1024 * 1024;
/** Largest per-peer send queue a remote reactor may ask for (CometBFT's largest is blocksync's 1000). */
export const MAX_REMOTE_SEND_QUEUE_CAPACITY = 10_000;
/**
 * How long a refused Attach stream (missing or invalid credentials) waits for
 * the client's first request before the node ends it. The refusal goes out
 * once that request arrives: a client that writes Register at once then reads
 * the refusal, instead of racing its write against the end of the stream.
 * grpc-python's asyncio client loses that race about one time in two: the
 * failed write replaces the node's status with `INTERNAL: Internal error from
 * Core` (grpc/grpc#36066).
 */
export const ATTACH_REFUSAL_WAIT_MS = 1_000;
/** Reactor names: letters, digits, `.`, `_`, `-`, up to 128 characters. */
const REACTOR_NAME = /^[A-Za-z0-9._-]{1,128}$/;

/** The gRPC service name of the gateway, for health checks. */
export const GATEWAY_SERVICE_NAME = "switchboard.gateway.v1.ReactorGatewayService";
export const NODE_SERVICE_NAME = "switchboard.gateway.v1.NodeService";

/** Finds the repository's (or the image's) `proto/` directory for reflection. */
function findProtoDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, "proto");
    if (existsSync(join(candidate, "switchboard/gateway/v1/gateway.proto"))) return candidate;
    dir = dirname(dir);
  }
  throw new Error("cannot find proto/switchboard/gateway/v1/gateway.proto for server reflection");
}

/** The errno code (EADDRINUSE...) of a listen failure; grpc-js puts it in the message only. */
function errnoOf(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === "string") return code;
  return /\b(E[A-Z]{3,})\b/.exec(err instanceof Error ? err.message : String(err))?.[1];
}

/** Whether path is a Unix socket on which no process accepts connections. */
async function isStaleSocket(path: string): Promise<boolean> {
  const st = await lstat(path).catch(() => null);
  if (st === null || !st.isSocket()) return false;
  return new Promise((resolve) => {
    const c = connect(path);
    c.once("connect", () => {
      c.destroy();
      resolve(false);
    });
    c.once("error", (err: NodeJS.ErrnoException) => resolve(err.code === "ECONNREFUSED"));
  });
}

function listenError(laddr: string, err: unknown): GatewayListenError {
  const code = errnoOf(err);
  const unix = laddr.startsWith("unix://");
  const why =
    code === "EADDRINUSE"
      ? unix
        ? "another process is listening on this socket (is another node running with this home?)"
        : "address already in use (is another node running? choose another port with --grpc.laddr)"
      : code === "EACCES"
        ? unix
          ? "permission denied (check the socket directory's permissions)"
          : "permission denied (ports below 1024 need privileges)"
        : code === "EADDRNOTAVAIL"
          ? "no such local address"
          : code === "ENOENT"
            ? "the socket's directory does not exist"
            : err instanceof Error
              ? err.message
              : String(err);
  return new GatewayListenError(`cannot listen on grpc.laddr ${laddr}: ${why}`, { cause: err });
}

function toGrpcAddress(laddr: string): string {
  if (laddr.startsWith("unix://")) return `unix:${laddr.slice("unix://".length)}`;
  return laddr.replace(/^tcp:\/\//, "");
}

const POLICY_FROM_API: Record<number, OverflowPolicy | undefined> = {
  [ApiOverflowPolicy.OVERFLOW_POLICY_BLOCK]: "block",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST]: "drop-newest",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST]: "drop-oldest",
  [ApiOverflowPolicy.OVERFLOW_POLICY_DISCONNECT_PEER]: "disconnect-peer",
};

/** Optional observations for metrics: the reactors' and the streams'. */
export interface GatewayObserver extends RemoteReactorObserver {
  /** A RequestBatch arrived carrying `commands` commands. */
  requestBatch?(commands: number): void;
  /** A ResultBatch of `results` results was written. */
  resultBatch?(results: number): void;
}

export interface GatewayOptions {
  readonly sw: Switch;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly observer?: GatewayObserver;
  /** TLS and credentials. @default none: loopback and Unix sockets only */
  readonly security?: GatewaySecurity;
}

export class Gateway {
  private readonly server: Server;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", [GATEWAY_SERVICE_NAME]: "NOT_SERVING", [NODE_SERVICE_NAME]: "NOT_SERVING" });
  private readonly reactors = new Map<string, RemoteReactor>();
  private readonly registrationWaiters: (() => void)[] = [];
  private readonly logger: Logger;
  private readonly limits: RemoteReactorLimits;
  private bound: string | null = null;
  /** Open Attach streams, each with the writer of its command results. */
  private readonly openCalls = new Map<ServerDuplexStream<Buffer, AttachResponse>, ResultWriter>();
  private readonly security: GatewaySecurity;
  /** AttachRequests refused before decoding (too large for their kind, or malformed). */
  refusedRequests = 0;

  constructor(private readonly options: GatewayOptions) {
    this.logger = options.logger.child({ module: "gateway" });
    this.security = options.security ?? { tls: null, credentials: null };
    this.limits = {
      ...DEFAULT_REMOTE_REACTOR_LIMITS,
      eventQueueMaxMessages: options.config.eventQueueMaxMessages,
      eventQueueMaxBytes: options.config.eventQueueMaxBytes,
      resumeWindowMs: options.config.resumeWindowMs,
    };
    this.server = new Server({
      "grpc.max_receive_message_length": options.config.maxMessageBytes,
      "grpc.max_send_message_length": options.config.maxMessageBytes,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_permit_without_calls": 1,
    });
    // Commands are decoded here, not by grpc-js, so that a malformed one gets a precise status.
    // Responses are encoded by our encoder: the same bytes, each event's payload copied once (encode.ts).
    const attachDefinition = {
      attach: { ...ReactorGatewayServiceService.attach, requestDeserialize: (b: Buffer): Buffer => b, responseSerialize: encodeAttachResponse },
    };
    this.server.addService(attachDefinition, {
      attach: (call: ServerDuplexStream<Buffer, AttachResponse>) => {
        this.onAttach(call);
      },
    });
    this.server.addService(NodeServiceService, this.nodeService());
    this.health.addToServer(this.server);
    const protoDir = findProtoDir();
    new ReflectionService(reflectionDefinition([join(protoDir, "switchboard/gateway/v1/gateway.proto")], [protoDir])).addToServer(this.server);
  }

  /** Open Attach streams (bounded by the reactors attached and grpc-js's concurrent streams). */
  get openStreams(): number {
    return this.openCalls.size;
  }

  /** Command results waiting for a full stream to drain, and streams not read until it does, over all open streams. */
  resultsBacklog(): { readonly waiting: number; readonly pausedStreams: number } {
    let waiting = 0;
    let pausedStreams = 0;
    for (const w of this.openCalls.values()) {
      waiting += w.waiting;
      if (w.readingPaused) pausedStreams++;
    }
    return { waiting, pausedStreams };
  }

  /** Remote reactors by name. */
  remoteReactors(): ReadonlyMap<string, RemoteReactor> {
    return this.reactors;
  }

  /** Starts listening; resolves with the bound address (`host:port` or `unix:/path`). */
  async listen(): Promise<string> {
    const addr = toGrpcAddress(this.options.config.laddr);
    const tls = this.security.tls;
    if (tls === null && !isLocalOnly(addr)) {
      throw new GatewaySecurityError(
        `grpc.laddr ${this.options.config.laddr}: listening beyond loopback requires TLS: set grpc.tls_cert_file and grpc.tls_key_file (or listen on 127.0.0.1 or a unix:// socket)`,
      );
    }
    if (this.security.credentials === null && !isLocalOnly(addr)) {
      this.logger.warn({ addr }, "the gateway accepts any client that completes TLS: set grpc.credentials_file to require credentials");
    }
    const serverCredentials =
      tls === null
        ? ServerCredentials.createInsecure()
        : ServerCredentials.createSsl(tls.clientCa, [{ cert_chain: tls.certChain, private_key: tls.privateKey }], tls.clientCa !== null);
    const socket = addr.startsWith("unix:") ? addr.slice("unix:".length) : null;
    if (socket !== null && (await isStaleSocket(socket))) {
      // A socket file nobody answers on: left by a node that was killed. Remove it, or listening fails.
      this.logger.warn({ path: socket }, "removing a stale gateway socket left by a stopped node");
      await unlink(socket);
    }
    const port = await new Promise<number>((resolve, reject) => {
      this.server.bindAsync(addr, serverCredentials, (err, p) => {
        if (err !== null) reject(listenError(this.options.config.laddr, err));
        else resolve(p);
      });
    });
    this.bound = addr.startsWith("unix:") ? addr : formatHostPort(addr.slice(0, addr.lastIndexOf(":")).replace(/^\[|\]$/g, ""), port);
    this.logger.info({ addr: this.bound }, "gateway listening");
    return this.bound;
  }

  get address(): string | null {
    return this.bound;
  }

  /** Resolves once every reactor in `grpc.reactors` has registered; rejects after the timeout, naming the missing ones. */
  async waitForReactors(signal?: AbortSignal): Promise<void> {
    const missing = (): string[] => this.options.config.reactors.filter((n) => !this.reactors.has(n));
    if (missing().length === 0) return;
    this.logger.info({ reactors: missing() }, "waiting for reactors to register");
    await new Promise<void>((resolve, reject) => {
      const finish = (err: Error | null): void => {
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        if (err === null) resolve();
        else reject(err);
      };
      const timer = setTimeout(() => {
        finish(new Error(`reactors did not register within ${this.options.config.registrationTimeoutMs} ms: ${missing().join(", ")} (grpc.reactors)`));
      }, this.options.config.registrationTimeoutMs);
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
          this.registrationWaiters.push(check);
          return;
        }
        finish(null);
      };
      check();
    });
  }

  /** Marks the services SERVING (after the Switch started) or NOT_SERVING (draining). */
  setServing(serving: boolean): void {
    const st = serving ? "SERVING" : "NOT_SERVING";
    for (const name of ["", GATEWAY_SERVICE_NAME, NODE_SERVICE_NAME]) this.health.setStatus(name, st);
  }

  /** Closes the server. Call after the Switch stopped (every reactor got OnStop and its stream ended). */
  async close(): Promise<void> {
    this.setServing(false);
    for (const call of this.openCalls.keys()) call.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, 2_000);
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  // ------------------------------------------------------------ Identity

  /**
   * The caller's identity: null when no credentials are configured (anyone
   * local may call); throws UNAUTHENTICATED when they are and none match.
   */
  private identify(call: { metadata: Metadata; getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null; getPeer(): string }): Identity | null {
    const creds = this.security.credentials;
    if (creds === null) return null;
    const identity = authenticate(creds, bearerToken(call.metadata.get("authorization")), call.getAuthContext()?.sslPeerCertificate);
    if (identity === null) {
      this.logger.warn({ peer: call.getPeer() }, "gRPC call refused: missing or invalid credentials");
      throw new GatewayError(GrpcStatus.UNAUTHENTICATED, ErrorReason.ERROR_REASON_UNSPECIFIED, "missing or invalid credentials (authorization: Bearer <token>, or a client certificate)");
    }
    return identity;
  }

  private requireAdmin(identity: Identity | null, what: string, peer: string): void {
    if (identity === null || identity.admin) return;
    this.logger.warn({ peer, via: identity.via, what }, "gRPC call refused: admin credential required");
    throw new GatewayError(GrpcStatus.PERMISSION_DENIED, ErrorReason.ERROR_REASON_UNSPECIFIED, `${what} needs the admin credential`);
  }

  // ------------------------------------------------------------ Attach

  private onAttach(call: ServerDuplexStream<Buffer, AttachResponse>): void {
    let rr: RemoteReactor | null = null;
    let sink: EventSink | null = null;
    let ctx: { readonly rr: RemoteReactor; readonly sw: Switch } | null = null;
    let inflight = 0;
    let closed = false;
    const isClosed = (): boolean => closed;
    const log = this.logger.child({ peer: call.getPeer() });
    const observer = this.options.observer;
    const results = new ResultWriter(call, (n) => observer?.resultBatch?.(n));
    this.openCalls.set(call, results);

    const fail = (err: unknown): void => {
      if (closed) return;
      closed = true;
      results.close();
      this.openCalls.delete(call);
      const st = toServiceError(err, log);
      const why = `${GrpcStatus[st.code ?? GrpcStatus.UNKNOWN]}: ${st.details ?? ""}`;
      // A registered reactor's drop is logged by its RemoteReactor (with the resume window).
      if (rr !== null && sink !== null) rr.detach(sink, `the node ended it (${why})`, call.getPeer());
      else log.info({ code: st.code, details: st.details }, "attach stream ended with an error");
      call.emit("error", st);
    };
    // grpc-js reports a client that ends its stream, cancels it or dies by
    // any of these events, in no reliable order: one reason for them all.
    const finish = (): void => {
      if (closed) return;
      closed = true;
      results.close();
      this.openCalls.delete(call);
      if (rr !== null && sink !== null) rr.detach(sink, "the reactor closed the stream or went away", call.getPeer());
    };
    call.on("end", () => {
      finish();
      call.end();
    });
    call.on("cancelled", finish);
    call.on("close", finish);
    call.on("error", finish);
    // Results first: they are few and small, and events would refill the buffer before them.
    call.on("drain", () => {
      results.drained();
      rr?.drained();
    });
    let identity: Identity | null;
    try {
      identity = this.identify(call);
    } catch (err) {
      // Refused: answered once the first request arrives, or after ATTACH_REFUSAL_WAIT_MS (see there).
      const refuse = (): void => {
        clearTimeout(timer);
        call.off("data", refuse);
        fail(err);
      };
      const timer = setTimeout(refuse, ATTACH_REFUSAL_WAIT_MS);
      call.on("data", refuse);
      call.once("close", () => {
        clearTimeout(timer);
      });
      return;
    }

    const reply = (requestId: bigint, outcome: CommandOutcome | null, err: unknown): void => {
      if (closed) return;
      results.add(outcome === null ? { requestId, error: toCommandError(err, log), kind: undefined } : { requestId, error: undefined, kind: outcome });
    };

    /** One command, alone or from a batch: answered once, now or when it completes. */
    const runOne = (cmd: Command): void => {
      if (ctx === null) {
        reply(cmd.requestId, null, failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, "command before register: send Register first"));
        return;
      }
      if (inflight >= MAX_INFLIGHT_COMMANDS_PER_STREAM) {
        reply(cmd.requestId, null, new GatewayError(GrpcStatus.RESOURCE_EXHAUSTED, ErrorReason.ERROR_REASON_TOO_MANY_COMMANDS, `more than ${MAX_INFLIGHT_COMMANDS_PER_STREAM} commands in progress on this stream`));
        return;
      }
      let outcome: CommandOutcome | Promise<CommandOutcome>;
      try {
        outcome = runCommand(ctx, cmd);
      } catch (err) {
        reply(cmd.requestId, null, err);
        return;
      }
      if (!(outcome instanceof Promise)) {
        reply(cmd.requestId, outcome, null);
        return;
      }
      inflight++;
      const rr = ctx.rr;
      rr.commandsInProgress++;
      outcome.then(
        (o) => {
          inflight--;
          rr.commandsInProgress--;
          reply(cmd.requestId, o, null);
        },
        (err: unknown) => {
          inflight--;
          rr.commandsInProgress--;
          reply(cmd.requestId, null, err);
        },
      );
    };

    /** Ack (`field` names it in errors); throws what ends the stream. */
    const applyAck = (eventSeq: bigint, field: string): void => {
      if (rr === null) throw failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, `${field} before register`);
      const problem = rr.ack(Number(eventSeq));
      if (problem !== null) throw invalidField(`${field}.event_seq`, problem);
    };
    const applyCredit = (messages: number, bytes: bigint, field: string): void => {
      if (rr === null) throw failedPrecondition(ErrorReason.ERROR_REASON_NOT_REGISTERED, `${field} before register`);
      rr.grantCredit(messages, Number(bytes));
    };

    call.on("data", (raw: Buffer) => {
      if (closed) return;
      const refusal = screenAttachRequest(raw);
      if (refusal !== null) {
        this.refusedRequests++;
        fail(invalidField("AttachRequest", refusal));
        return;
      }
      let req: AttachRequest;
      try {
        req = AttachRequest.decode(raw);
      } catch (err) {
        fail(invalidField("AttachRequest", `malformed message (${(err as Error).message})`));
        return;
      }
      const m = req.msg;
      if (m === undefined) {
        fail(invalidField("AttachRequest.msg", "not set"));
        return;
      }
      try {
        switch (m.$case) {
          case "register": {
            if (rr !== null) throw invalidField("register", "this stream has already registered");
            const res = this.register(m.value, call, log, identity);
            rr = res.rr;
            sink = res.sink;
            ctx = { rr: res.rr, sw: this.options.sw };
            if (m.value.batchResults) results.batchResults();
            return;
          }
          case "ack":
            applyAck(m.value.eventSeq, "ack");
            return;
          case "credit":
            applyCredit(m.value.messages, m.value.bytes, "credit");
            return;
          case "command":
            runOne(m.value);
            return;
          case "batch": {
            // As if sent one by one: the ack, then the credit, then each command in order.
            const b = m.value;
            observer?.requestBatch?.(b.commands.length);
            if (b.ack !== undefined) applyAck(b.ack.eventSeq, "batch.ack");
            if (b.credit !== undefined) applyCredit(b.credit.messages, b.credit.bytes, "batch.credit");
            if (b.commands.length > MAX_BATCH_COMMANDS) {
              const err = invalidField("batch.commands", `${b.commands.length} commands exceed the limit of ${MAX_BATCH_COMMANDS} per batch; none of them ran`);
              for (const cmd of b.commands) reply(cmd.requestId, null, err);
              return;
            }
            for (const cmd of b.commands) {
              // A command may end the stream (stopping a peer can overflow this reactor's lifecycle backlog).
              if (isClosed()) return;
              runOne(cmd);
            }
            return;
          }
        }
      } catch (err) {
        fail(err);
      }
    });
  }

  private register(reg: Register, call: ServerDuplexStream<Buffer, AttachResponse>, log: Logger, identity: Identity | null): { rr: RemoteReactor; sink: EventSink } {
    const name = reg.reactorName;
    if (!REACTOR_NAME.test(name)) throw invalidField("register.reactor_name", "must be 1..128 characters of letters, digits, '.', '_' or '-'");
    if (identity !== null && !identity.reactors.has(name)) {
      log.warn({ reactor: name, via: identity.via }, "registration refused: credentials do not cover this reactor");
      throw new GatewayError(GrpcStatus.PERMISSION_DENIED, ErrorReason.ERROR_REASON_UNSPECIFIED, `these credentials may not register reactor "${name}"`);
    }
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
      rr = new RemoteReactor(name, channels, this.limits, this.logger.child({ reactor: name }), this.options.observer);
      try {
        sw.addReactor(name, rr);
      } catch (err) {
        throw new GatewayError(GrpcStatus.ALREADY_EXISTS, ErrorReason.ERROR_REASON_UNSPECIFIED, (err as Error).message);
      }
      this.reactors.set(name, rr);
      log.info({ reactor: name, channels: channels.map((c) => c.id) }, "reactor registered");
    } else {
      if (rr.attached) throw new GatewayError(GrpcStatus.ALREADY_EXISTS, ErrorReason.ERROR_REASON_UNSPECIFIED, `reactor "${name}" is attached on another stream`);
      const same =
        rr.channels.length === channels.length &&
        rr.channels.every((c, i) => {
          const n = channels[i];
          return (
            n !== undefined &&
            n.id === c.id &&
            n.priority === c.priority &&
            n.sendQueueCapacity === c.sendQueueCapacity &&
            n.recvBufferCapacity === c.recvBufferCapacity &&
            n.recvMessageCapacity === c.recvMessageCapacity &&
            n.overflowPolicy === c.overflowPolicy
          );
        });
      if (!same) {
        throw failedPrecondition(ErrorReason.ERROR_REASON_UNSPECIFIED, `reactor "${name}" registered different channels before; the node advertises those (restart the node to change them)`);
      }
    }
    const reactor = rr;
    const sink: EventSink = {
      write: (events: Event[]) => call.write({ msg: { $case: "events", value: { events } } }),
      end: () => {
        call.end();
      },
      abort: (_code, message) => {
        call.emit("error", { code: GrpcStatus.RESOURCE_EXHAUSTED, details: message });
      },
    };
    const credit = reg.initialCredit;
    // Hold events until Registered is written: it must come first on the stream.
    const result = reactor.attach(sink, reg.sessionToken, { messages: credit?.messages ?? 0, bytes: Number(credit?.bytes ?? 0n) });
    call.write({
      msg: {
        $case: "registered",
        value: {
          sessionToken: result.token,
          resumed: result.resumed,
          resumeRefusedReason: result.resumeRefusedReason,
          nodeInfo: nodeInfoToApi(sw.nodeInfo()),
          nextEventSeq: BigInt(result.nextEventSeq),
        },
      },
    });
    reactor.drained();
    for (const w of this.registrationWaiters.splice(0)) w();
    return { rr: reactor, sink };
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
    if (c.overflowPolicy === ApiOverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED) policy = this.options.config.defaultOverflowPolicy;
    else {
      const p = POLICY_FROM_API[c.overflowPolicy];
      if (p === undefined) throw invalidField(`${field}.overflow_policy`, `unknown value ${c.overflowPolicy}`);
      policy = p;
    }
    if (c.recvMessageCapacity > this.options.config.maxMessageBytes) {
      throw invalidField(`${field}.recv_message_capacity`, `${c.recvMessageCapacity} exceeds grpc.max_message_bytes (${this.options.config.maxMessageBytes}): such a message could not reach the reactor`);
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

  // ------------------------------------------------------------ NodeService

  private nodeService() {
    const sw = this.options.sw;
    const unary =
      <Req, Res>(fn: (req: Req) => Res | Promise<Res>, adminOnly = false, what = "") =>
      (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
        Promise.resolve()
          .then(() => {
            const identity = this.identify(call);
            if (adminOnly) this.requireAdmin(identity, what, call.getPeer());
            return fn(call.request);
          })
          .then(
            (res) => {
              callback(null, res);
            },
            (err: unknown) => {
              callback(toServiceError(err, this.logger));
            },
          );
      };
    return {
      getNodeInfo: unary(() => ({ nodeInfo: nodeInfoToApi(sw.nodeInfo()) })),
      getNetInfo: unary(() => {
        const listen = sw.listenAddress;
        const peers = sw.peers().list();
        return {
          listening: listen !== null,
          listeners: listen === null ? [] : [`Listener(@${sw.nodeInfo().listenAddr})`],
          nPeers: peers.length,
          peers: peers.map(peerStatusOf),
        };
      }),
      listPeers: unary(() => ({ peers: sw.peers().list().map(peerStatusOf) })),
      dialPeers: unary(async (req: { addresses: string[] }) => {
        if (req.addresses.length === 0) throw invalidField("addresses", "empty");
        const outcomes = await Promise.all(
          req.addresses.map(async (address) => {
            try {
              await sw.dialPeerWithAddress(address);
              return { address, connected: true, error: "" };
            } catch (err) {
              return { address, connected: false, error: (err as Error).message };
            }
          }),
        );
        return { outcomes };
      }, true, "DialPeers"),
      stopPeer: unary((req: { peerId: string; reason: string }) => {
        if (req.peerId === "") throw invalidField("peer_id", "required");
        const peer = sw.peers().get(req.peerId);
        if (peer === undefined) throw new GatewayError(GrpcStatus.NOT_FOUND, ErrorReason.ERROR_REASON_UNKNOWN_PEER, `no connected peer ${req.peerId}`);
        if (req.reason === "") sw.stopPeerGracefully(peer);
        else sw.stopPeerForError(peer, new Error(req.reason));
        return {};
      }, true, "StopPeer"),
    };
  }
}
