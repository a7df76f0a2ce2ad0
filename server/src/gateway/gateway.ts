/**
 * The reactor gateway's server wiring: one grpc-js server carrying the
 * ReactorGatewayService (one Attach stream per remote reactor,
 * attach-stream.ts), the NodeService (node-service.ts), grpc.health.v1 and
 * server reflection (reflection.ts), with TLS and credentials (security.ts).
 *
 * Registration happens before the Switch starts, as the reactor spec
 * requires: the node waits until every reactor named in `grpc.reactors` has
 * registered (or fails after `registrationTimeoutMs`; registration.ts), and
 * only then starts the Switch, whose NodeInfo then advertises their
 * channels. A reactor that registered before may re-attach at any time
 * (resume or fresh session).
 */
import { unlink } from "node:fs/promises";
import { type Server as NetServer, createServer } from "node:net";
import { join } from "node:path";
import { type ServerDuplexStream, Server, ServerCredentials } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import { HealthImplementation } from "grpc-health-check";
import type { Logger } from "pino";
import { type AttachResponse, type Limits, NodeServiceService, ReactorGatewayServiceService } from "../gen/switchboard/gateway/v1/gateway.js";
import { formatHostPort } from "../p2p/net-address.js";
import type { SwitchControl } from "../p2p/switch-control.js";
import { ATTACH_REFUSAL_WAIT_MS, AttachStream, type AttachStreamObserver } from "./attach-stream.js";
import {
  DEFAULT_GRPC_LADDR,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_OVERFLOW_POLICY,
  DEFAULT_REGISTRATION_TIMEOUT_MS,
  GATEWAY_IDLE_CONNECTION_MS,
  GATEWAY_MAX_STREAMS_PER_CONNECTION,
} from "./defaults.js";
import { GatewayConnections } from "./connections.js";
import { encodeAttachResponse } from "./encode.js";
import { protocolLimits } from "./limits.js";
import { isStaleSocket, listenError, toGrpcAddress } from "./listen.js";
import { NODE_SERVICE_NAME, createNodeService } from "./node-service.js";
import { findProtoDir, reflectionDefinition } from "./reflection.js";
import { ReactorRegistry } from "./registration.js";
import { DEFAULT_REMOTE_REACTOR_LIMITS, type OverflowPolicy, type RemoteReactor, type RemoteReactorObserver } from "./remote-reactor.js";
import { GatewayAuth, type GatewaySecurity, GatewaySecurityError, type Identity, isLocalOnly } from "./security.js";

export { NODE_SERVICE_NAME } from "./node-service.js";

/** The gateway's part of the node configuration (the `[grpc]` section less its files). */
export interface GatewayConfig {
  /** `tcp://HOST:PORT`, `HOST:PORT` or `unix:///PATH`. */
  readonly laddr: string;
  /** Reactor names the node waits for before starting the Switch. */
  readonly reactors: readonly string[];
  /** How long the node waits for them. */
  readonly registrationTimeoutMs: number;
  /** Receive events queued per reactor (unsent + unacknowledged), at most. */
  readonly eventQueueMaxMessages: number;
  /** Payload bytes of Receive events queued per reactor, at most. */
  readonly eventQueueMaxBytes: number;
  /** What a full event queue does, for channels that name no policy. */
  readonly defaultOverflowPolicy: OverflowPolicy;
  /** How long a dropped stream may come back and resume; 0 disables resuming. */
  readonly resumeWindowMs: number;
  /** Largest gRPC message either way. */
  readonly maxMessageBytes: number;
}

/** The `[grpc]` keys that name the gateway's TLS and credentials files ("" = unset; relative to the home). */
export interface GatewayFiles {
  /** PEM certificate chain for TLS. */
  readonly tlsCertFile: string;
  readonly tlsKeyFile: string;
  /** PEM CA for mutual TLS. */
  readonly tlsClientCaFile: string;
  /** Credentials file; "" for no authentication. */
  readonly credentialsFile: string;
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

/** The gRPC service name of the gateway, for health checks. */
export const GATEWAY_SERVICE_NAME = "switchboard.gateway.v1.ReactorGatewayService";
const ATTACH_METHOD_PATH = `/${GATEWAY_SERVICE_NAME}/Attach`;
/** Services anyone who reaches the gateway may call: health checks and reflection (schemas only). */
const OPEN_METHOD_PREFIXES = ["/grpc.health.v1.", "/grpc.reflection."];

/** Optional observations for metrics: the reactors' and the streams'. */
export interface GatewayObserver extends RemoteReactorObserver, Omit<AttachStreamObserver, "requestRefused"> {}

export interface GatewayOptions {
  readonly sw: SwitchControl;
  readonly config: GatewayConfig;
  readonly logger: Logger;
  readonly observer?: GatewayObserver;
  /** TLS and credentials. @default none: loopback and Unix sockets only */
  readonly security?: GatewaySecurity;
  /** Overrides GATEWAY_IDLE_CONNECTION_MS (tests). */
  readonly idleConnectionMs?: number;
}

export class Gateway {
  private readonly server: Server;
  private readonly health = new HealthImplementation({ "": "NOT_SERVING", [GATEWAY_SERVICE_NAME]: "NOT_SERVING", [NODE_SERVICE_NAME]: "NOT_SERVING" });
  private readonly registry: ReactorRegistry;
  /** Told to every reactor in Registered. */
  private readonly limits: Limits;
  private readonly auth: GatewayAuth;
  private readonly logger: Logger;
  private bound: string | null = null;
  /** Attach streams open, or closed with commands still in progress. */
  private readonly streams = new Set<AttachStream>();
  /** Open Attach calls, to end them on close. */
  private readonly openCalls = new Set<ServerDuplexStream<Buffer, AttachResponse>>();
  private readonly security: GatewaySecurity;
  /** AttachRequests refused before decoding (too large for their kind, or malformed). */
  refusedRequests = 0;
  /** The connections accepted, bounded per client address and in all. */
  readonly connections: GatewayConnections;
  private listener: NetServer | null = null;
  /** Attach streams ended because they sent no Register in time (ATTACH_REGISTER_DEADLINE_MS). */
  streamsWithoutRegister = 0;

  constructor(private readonly options: GatewayOptions) {
    this.logger = options.logger.child({ module: "gateway" });
    this.security = options.security ?? { tls: null, credentials: null };
    this.auth = new GatewayAuth(this.security.credentials, this.logger);
    this.connections = new GatewayConnections(this.logger);
    const config = options.config;
    this.limits = protocolLimits(config.maxMessageBytes);
    this.registry = new ReactorRegistry({
      sw: options.sw,
      expected: config.reactors,
      registrationTimeoutMs: config.registrationTimeoutMs,
      defaultOverflowPolicy: config.defaultOverflowPolicy,
      maxMessageBytes: config.maxMessageBytes,
      limits: {
        ...DEFAULT_REMOTE_REACTOR_LIMITS,
        eventQueueMaxMessages: config.eventQueueMaxMessages,
        eventQueueMaxBytes: config.eventQueueMaxBytes,
        resumeWindowMs: config.resumeWindowMs,
      },
      auth: this.auth,
      logger: this.logger,
      ...(options.observer === undefined ? {} : { observer: options.observer }),
    });
    this.server = new Server({
      "grpc.max_receive_message_length": config.maxMessageBytes,
      "grpc.max_send_message_length": config.maxMessageBytes,
      "grpc.keepalive_time_ms": 30_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.max_connection_idle_ms": options.idleConnectionMs ?? GATEWAY_IDLE_CONNECTION_MS,
      "grpc.max_concurrent_streams": GATEWAY_MAX_STREAMS_PER_CONNECTION,
      // Calls without valid credentials are refused on their headers, before any request is read.
      interceptors: [this.auth.interceptor((path) => OPEN_METHOD_PREFIXES.some((p) => path.startsWith(p)), (path) => (path === ATTACH_METHOD_PATH ? ATTACH_REFUSAL_WAIT_MS : 0))],
    });
    // Commands are decoded by the Attach stream, not by grpc-js, so that a malformed one gets a precise status.
    // Responses are encoded by our encoder: the same bytes, each event's payload copied once (encode.ts).
    const attachDefinition = {
      attach: { ...ReactorGatewayServiceService.attach, requestDeserialize: (b: Buffer): Buffer => b, responseSerialize: encodeAttachResponse },
    };
    this.server.addService(attachDefinition, {
      attach: (call: ServerDuplexStream<Buffer, AttachResponse>) => {
        this.onAttach(call);
      },
    });
    this.server.addService(NodeServiceService, createNodeService(options.sw, this.auth, this.logger));
    this.health.addToServer(this.server);
    const protoDir = findProtoDir();
    new ReflectionService(reflectionDefinition([join(protoDir, "switchboard/gateway/v1/gateway.proto")], [protoDir])).addToServer(this.server);
  }

  /** Open Attach streams (bounded by the reactors attached and grpc-js's concurrent streams). */
  get openStreams(): number {
    let n = 0;
    for (const s of this.streams) if (!s.isClosed) n++;
    return n;
  }

  /** Command results waiting for a full stream to drain, and streams not read until it does, over all open streams. */
  resultsBacklog(): { readonly waiting: number; readonly pausedStreams: number } {
    let waiting = 0;
    let pausedStreams = 0;
    for (const s of this.streams) {
      if (s.isClosed) continue;
      waiting += s.resultsWaiting;
      if (s.readingPaused) pausedStreams++;
    }
    return { waiting, pausedStreams };
  }

  /**
   * Commands waiting to complete (a Send waiting for queue room, a
   * Broadcast), by reactor, summed over its streams (a stream that closed
   * counts until its last command completes).
   */
  commandsInProgress(): ReadonlyMap<string, number> {
    const byReactor = new Map<string, number>();
    for (const name of this.registry.all().keys()) byReactor.set(name, 0);
    for (const s of this.streams) {
      const name = s.reactor?.name;
      if (name !== undefined) byReactor.set(name, (byReactor.get(name) ?? 0) + s.commandsInProgress);
    }
    return byReactor;
  }

  /** Remote reactors by name. */
  remoteReactors(): ReadonlyMap<string, RemoteReactor> {
    return this.registry.all();
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
    // Our own listener: each connection is counted against the per-address and total bounds
    // (connections.ts) before grpc-js gets it (TLS included).
    const injector = this.server.createConnectionInjector(serverCredentials);
    const listener = createServer({ noDelay: true }, (s) => {
      this.connections.accept(s, (admitted) => {
        injector.injectConnection(admitted);
      });
    });
    const port = await new Promise<number>((resolve, reject) => {
      listener.once("error", (err) => {
        reject(listenError(this.options.config.laddr, err));
      });
      const onListening = (): void => {
        const a = listener.address();
        resolve(typeof a === "object" && a !== null ? a.port : 0);
      };
      if (socket !== null) listener.listen({ path: socket }, onListening);
      else listener.listen({ host: addr.slice(0, addr.lastIndexOf(":")).replace(/^\[|\]$/g, ""), port: Number(addr.slice(addr.lastIndexOf(":") + 1)) }, onListening);
    });
    listener.on("error", (err) => this.logger.error({ err }, "gateway listener error"));
    this.listener = listener;
    this.bound = addr.startsWith("unix:") ? addr : formatHostPort(addr.slice(0, addr.lastIndexOf(":")).replace(/^\[|\]$/g, ""), port);
    this.logger.info({ addr: this.bound }, "gateway listening");
    return this.bound;
  }

  get address(): string | null {
    return this.bound;
  }

  /** Resolves once every reactor in `grpc.reactors` has registered; rejects after the timeout, naming the missing ones. */
  waitForReactors(signal?: AbortSignal): Promise<void> {
    return this.registry.waitForReactors(signal);
  }

  /** Marks the services SERVING (after the Switch started) or NOT_SERVING (draining). */
  setServing(serving: boolean): void {
    const st = serving ? "SERVING" : "NOT_SERVING";
    for (const name of ["", GATEWAY_SERVICE_NAME, NODE_SERVICE_NAME]) this.health.setStatus(name, st);
  }

  /** Closes the server. Call after the Switch stopped (every reactor got OnStop and its stream ended). */
  async close(): Promise<void> {
    this.setServing(false);
    this.listener?.close();
    this.listener = null;
    for (const call of this.openCalls) call.end();
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

  /** A new Attach call: an AttachStream of its own, driven by the call's events. */
  private onAttach(call: ServerDuplexStream<Buffer, AttachResponse>): void {
    let identity: { ok: true; identity: Identity | null } | { ok: false; error: unknown };
    try {
      identity = { ok: true, identity: this.auth.identify(call) };
    } catch (err) {
      identity = { ok: false, error: err };
    }
    const observer = this.options.observer;
    const stream = new AttachStream(call, {
      registrar: this.registry,
      limits: this.limits,
      identity,
      logger: this.logger,
      observer: {
        requestBatch: (n) => observer?.requestBatch?.(n),
        resultBatch: (n) => observer?.resultBatch?.(n),
        requestRefused: () => {
          this.refusedRequests++;
        },
        registerDeadlineMissed: () => {
          this.streamsWithoutRegister++;
        },
      },
      onRetired: (s) => {
        this.streams.delete(s);
      },
    });
    this.streams.add(stream);
    this.openCalls.add(call);
    const gone = (): void => {
      this.openCalls.delete(call);
      stream.close();
    };
    call.on("data", (raw: Buffer) => {
      stream.receive(raw);
    });
    call.on("drain", () => {
      stream.drained();
    });
    call.on("end", () => {
      gone();
      call.end();
    });
    call.on("cancelled", gone);
    call.on("close", gone);
    call.on("error", gone);
  }
}
