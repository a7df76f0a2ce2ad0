/**
 * The gateway as the node's composition root drives it, with its Prometheus
 * metrics. Typed structurally so that the gateway does not depend on the
 * layers above it.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import { format } from "node:util";
import { setLogger } from "@grpc/grpc-js";
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Logger } from "pino";
import type { SwitchControl } from "../p2p/switch-control.js";
import { Gateway, type GatewayConfig, type GatewayFiles } from "./gateway.js";
import { type GatewaySecurity, GatewaySecurityError, parseCredentials } from "./security.js";

async function readConfigured(home: string, key: string, path: string): Promise<Buffer> {
  const full = isAbsolute(path) ? path : join(home, path);
  try {
    return await readFile(full);
  } catch (err) {
    throw new GatewaySecurityError(`grpc.${key}: cannot read ${full} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

/** Reads the TLS material and the credentials file the config names. */
export async function loadGatewaySecurity(files: GatewayFiles, home: string): Promise<GatewaySecurity> {
  if ((files.tlsCertFile === "") !== (files.tlsKeyFile === "")) {
    throw new GatewaySecurityError("grpc.tls_cert_file and grpc.tls_key_file go together: set both or neither");
  }
  if (files.tlsClientCaFile !== "" && files.tlsCertFile === "") {
    throw new GatewaySecurityError("grpc.tls_client_ca_file needs TLS: set grpc.tls_cert_file and grpc.tls_key_file too");
  }
  const tls =
    files.tlsCertFile === ""
      ? null
      : {
          certChain: await readConfigured(home, "tls_cert_file", files.tlsCertFile),
          privateKey: await readConfigured(home, "tls_key_file", files.tlsKeyFile),
          clientCa: files.tlsClientCaFile === "" ? null : await readConfigured(home, "tls_client_ca_file", files.tlsClientCaFile),
        };
  const credentials =
    files.credentialsFile === ""
      ? null
      : parseCredentials((await readConfigured(home, "credentials_file", files.credentialsFile)).toString("utf8"), `grpc.credentials_file ${files.credentialsFile}`);
  return { tls, credentials };
}

interface MetricsSink {
  register(extension: (registry: Registry, namespace: string) => void): void;
}

export interface NodeGatewayContext {
  readonly config: GatewayConfig & GatewayFiles;
  readonly home: string;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
}

export interface NodeGatewayHandle {
  start(sw: SwitchControl, signal?: AbortSignal): Promise<void>;
  onSwitchStarted(): void;
  beginDrain(): void;
  stop(): Promise<void>;
  address(): string | null;
}

/** Builds the gateway for `createNode` (see server/src/node.ts). */
export function createNodeGateway(ctx: NodeGatewayContext): NodeGatewayHandle {
  let gateway: Gateway | null = null;
  const pending: { histogram: Histogram | null; requestBatch: Histogram | null; resultBatch: Histogram | null } = { histogram: null, requestBatch: null, resultBatch: null };
  ctx.metrics.register((registry, ns) => {
    pending.histogram = new Histogram({
      name: `${ns}_gateway_event_pending_seconds`,
      help: "Time an event waited in a reactor's queue before it was written to its stream.",
      labelNames: ["reactor"],
      buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
      registers: [registry],
    });
    // Powers of two up to the batch limits (MAX_BATCH_COMMANDS, MAX_RESULT_BATCH_RESULTS).
    const batchBuckets = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024];
    pending.requestBatch = new Histogram({
      name: `${ns}_gateway_request_batch_commands`,
      help: "Commands per RequestBatch received from remote reactors (0 for a batch of only ack and credit).",
      buckets: [0, ...batchBuckets],
      registers: [registry],
    });
    pending.resultBatch = new Histogram({
      name: `${ns}_gateway_result_batch_results`,
      help: "Results per ResultBatch written to remote reactors that asked for batched results.",
      buckets: batchBuckets,
      registers: [registry],
    });
    const reactors = (): readonly [string, import("./remote-reactor.js").RemoteReactor][] => (gateway === null ? [] : [...gateway.remoteReactors()]);
    new Gauge({
      name: `${ns}_gateway_reactors_attached`,
      help: "Remote reactors with a stream attached (1) or detached (0).",
      labelNames: ["reactor"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) this.set({ reactor: name }, rr.attached ? 1 : 0);
      },
    });
    new Gauge({
      name: `${ns}_gateway_queue_messages`,
      help: "Events buffered per remote reactor (unsent + unacknowledged), by kind.",
      labelNames: ["reactor", "kind"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) {
          const d = rr.queueDepth();
          this.set({ reactor: name, kind: "receive" }, d.messages);
          this.set({ reactor: name, kind: "lifecycle" }, d.lifecycle);
        }
      },
    });
    new Gauge({
      name: `${ns}_gateway_queue_bytes`,
      help: "Payload bytes of Receive events buffered per remote reactor.",
      labelNames: ["reactor"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) this.set({ reactor: name }, rr.queueDepth().bytes);
      },
    });
    new Gauge({
      name: `${ns}_gateway_credit`,
      help: "Credit a remote reactor has left, in messages and bytes.",
      labelNames: ["reactor", "unit"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) {
          const c = rr.credit();
          this.set({ reactor: name, unit: "messages" }, c.messages);
          this.set({ reactor: name, unit: "bytes" }, c.bytes);
        }
      },
    });
    new Gauge({
      name: `${ns}_gateway_commands_in_progress`,
      help: "Commands of a remote reactor waiting to complete (a Send waiting for queue room, a Broadcast); at most 1024 per stream.",
      labelNames: ["reactor"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, n] of gateway?.commandsInProgress() ?? []) this.set({ reactor: name }, n);
      },
    });
    new Gauge({
      name: `${ns}_gateway_removed_connections_remembered`,
      help: "Removed connection IDs a remote reactor's commands are checked against (at most 4096; the oldest is forgotten).",
      labelNames: ["reactor"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) this.set({ reactor: name }, rr.removedConnectionsRemembered);
      },
    });
    new Gauge({
      name: `${ns}_gateway_attach_streams`,
      help: "Open Attach streams.",
      registers: [registry],
      collect() {
        this.set(gateway?.openStreams ?? 0);
      },
    });
    new Gauge({
      name: `${ns}_gateway_results_waiting`,
      help: "Command results waiting for a full Attach stream to drain, over all streams.",
      registers: [registry],
      collect() {
        this.set(gateway?.resultsBacklog().waiting ?? 0);
      },
    });
    new Gauge({
      name: `${ns}_gateway_streams_read_paused`,
      help: "Attach streams not read until their clients read the results waiting for them.",
      registers: [registry],
      collect() {
        this.set(gateway?.resultsBacklog().pausedStreams ?? 0);
      },
    });
    new Counter({
      name: `${ns}_gateway_dropped_events_total`,
      help: "Receive events not delivered, by the policy (or missing session) that dropped them.",
      labelNames: ["reactor", "policy"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) {
          for (const [policy, n] of Object.entries(rr.stats.dropped)) this.inc({ reactor: name, policy }, n);
        }
      },
    });
    new Counter({
      name: `${ns}_gateway_blocked_total`,
      help: "Times a peer's delivery was held because a reactor's queue was full (block policy).",
      labelNames: ["reactor"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) this.inc({ reactor: name }, rr.stats.blocked);
      },
    });
    new Counter({
      name: `${ns}_gateway_requests_refused_total`,
      help: "AttachRequests refused before decoding: too large for their kind, or malformed.",
      registers: [registry],
      collect() {
        this.reset();
        if (gateway !== null) this.inc(gateway.refusedRequests);
      },
    });
    new Gauge({
      name: `${ns}_gateway_connections`,
      help: "Gateway connections open (bounded per client address and in all).",
      registers: [registry],
      collect() {
        this.set(gateway === null ? 0 : gateway.connections.count);
      },
    });
    new Counter({
      name: `${ns}_gateway_connections_refused_total`,
      help: "Gateway connections closed at once: their client address, or the gateway, had as many as allowed.",
      labelNames: ["bound"],
      registers: [registry],
      collect() {
        this.reset();
        if (gateway === null) return;
        for (const [bound, n] of Object.entries(gateway.connections.refused)) this.inc({ bound }, n);
      },
    });
    new Counter({
      name: `${ns}_gateway_streams_without_register_total`,
      help: "Attach streams ended because they sent no Register within 10 s.",
      registers: [registry],
      collect() {
        this.reset();
        if (gateway !== null) this.inc(gateway.streamsWithoutRegister);
      },
    });
    new Counter({
      name: `${ns}_gateway_sessions_total`,
      help: "Reactor sessions, resumed or started afresh.",
      labelNames: ["reactor", "outcome"],
      registers: [registry],
      collect() {
        this.reset();
        for (const [name, rr] of reactors()) {
          this.inc({ reactor: name, outcome: "resumed" }, rr.stats.resumes);
          this.inc({ reactor: name, outcome: "fresh" }, rr.stats.freshSessions);
        }
      },
    });
  });
  return {
    async start(sw, signal) {
      const security = await loadGatewaySecurity(ctx.config, ctx.home);
      routeGrpcLogs(ctx.logger);
      gateway = new Gateway({
        sw,
        config: ctx.config,
        logger: ctx.logger,
        security,
        observer: {
          eventSent: (reactor, ms) => {
            pending.histogram?.observe({ reactor }, ms / 1000);
          },
          requestBatch: (commands) => {
            pending.requestBatch?.observe(commands);
          },
          resultBatch: (results) => {
            pending.resultBatch?.observe(results);
          },
        },
      });
      await gateway.listen();
      await gateway.waitForReactors(signal);
    },
    onSwitchStarted() {
      gateway?.setServing(true);
    },
    beginDrain() {
      gateway?.setServing(false);
    },
    async stop() {
      await gateway?.close();
    },
    address() {
      return gateway?.address ?? null;
    },
  };
}

/**
 * grpc-js writes its own errors to standard error ("E No address added out of
 * total 1 resolved ..." before our one-line listen error): the gateway reports
 * every failure that matters itself, so grpc-js's lines go to the node's log at
 * debug level, as one field-tagged line each.
 */
function routeGrpcLogs(logger: Logger): void {
  const grpc = logger.child({ module: "grpc-js" });
  const write = (...args: unknown[]): void => {
    if (grpc.isLevelEnabled("debug")) grpc.debug(format(...args));
  };
  setLogger({ error: write, info: write, debug: write });
}
