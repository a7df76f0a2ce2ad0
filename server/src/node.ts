/**
 * The composition root: builds a node from its configuration and starts and
 * stops its parts in order. Nothing else constructs the Switch, the PEX
 * reactor, the metrics or the gateway for a running node.
 *
 * Start:  node key → metrics listener → gateway (listens; waits for the
 *         reactors in `grpc.reactors`) → Switch (listener, reactors' OnStart,
 *         persistent peers dialed) → gateway told the Switch runs.
 * Stop:   Switch (every peer removed, every reactor's OnStop, listener
 *         closed) → gateway → metrics listener.
 * A part that fails to start stops the parts started before it.
 */
import { access } from "node:fs/promises";
import { isAbsolute, join } from "node:path";
import type { Logger } from "pino";
import { NODE_KEY_FILE } from "./config/defaults.js";
import { createLogger } from "./config/logger.js";
import type { GrpcSectionConfig, SwitchboardConfig } from "./config/schema.js";
import { noopMetrics, type Metrics } from "./metrics/metrics.js";
import { pexMetrics } from "./metrics/pex.js";
import { type PrometheusMetrics, createPrometheusMetrics } from "./metrics/prometheus.js";
import { type MetricsServer, startMetricsServer } from "./metrics/server.js";
import { type NetAddress, formatHostPort, formatNetAddress, parseHostPort } from "./p2p/net-address.js";
import { type NodeKey, loadOrGenerateNodeKey } from "./p2p/node-key.js";
import { AddressBook } from "./p2p/pex/address-book.js";
import { PexReactor } from "./p2p/pex/pex-reactor.js";
import type { Reactor } from "./p2p/reactor.js";
import { Switch, type SwitchConfig } from "./p2p/switch.js";
import { cryptoBackend, cryptoFallbackReason } from "./wire/crypto/backend.js";
import { resolveMConnectionConfig } from "./wire/mconnection/defaults.js";

/** The name the PEX reactor is registered under (CometBFT's). */
export const PEX_REACTOR_NAME = "PEX";

/**
 * The gateway as the node drives it. The real one (server/src/gateway/) is
 * plugged in by main.ts through {@link NodeOptions.gateway}.
 */
export interface NodeGateway {
  /**
   * Called before the Switch starts: listen, then resolve once every reactor
   * named in `grpc.reactors` has registered with `sw.addReactor` (reject
   * after `registrationTimeoutMs`, naming the missing ones).
   */
  start(sw: Switch, signal?: AbortSignal): Promise<void>;
  /** Called once the Switch is running (e.g. to report SERVING to health checks). */
  onSwitchStarted?(): void;
  /** Called when the node begins to stop, before the Switch stops (report NOT_SERVING). */
  beginDrain?(): void;
  /** Called after the Switch has stopped: every reactor has had its OnStop. */
  stop(): Promise<void>;
  /** The bound address, for the start banner. */
  address?(): string | null;
}

/** What the node hands the gateway when it builds it. */
export interface GatewayContext {
  readonly config: GrpcSectionConfig;
  /** The node's home: relative paths in the config resolve against it. */
  readonly home: string;
  readonly nodeId: string;
  /** The node's root logger; the gateway takes `child({ module: "gateway" })`. */
  readonly logger: Logger;
  /** The node's metrics; `metrics.register(fn)` adds the gateway's own to the registry. */
  readonly metrics: Metrics;
}

/** Builds the gateway; called once by {@link createNode}. */
export type GatewayFactory = (context: GatewayContext) => NodeGateway;

export interface NodeOptions {
  /** The home directory: the node key and relative paths (address book) live under it. */
  readonly home: string;
  /** @default a logger built from `log_level` and `log_format`, writing to standard error */
  readonly logger?: Logger;
  /** The reactor gateway; without one, `grpc.reactors` must be empty. */
  readonly gateway?: GatewayFactory;
  /** @default Prometheus metrics when `instrumentation.prometheus`, else no-op */
  readonly metrics?: Metrics | PrometheusMetrics;
  /** In-process reactors, registered after PEX and before the gateway's (tests, embedding). */
  readonly reactors?: readonly { readonly name: string; readonly reactor: Reactor }[];
}

export type NodeState = "created" | "starting" | "running" | "stopping" | "stopped";

export interface SwitchboardNode {
  readonly config: SwitchboardConfig;
  readonly home: string;
  readonly nodeKey: NodeKey;
  readonly switch: Switch;
  readonly logger: Logger;
  readonly metrics: Metrics;
  /** Present when `p2p.pex` is on. */
  readonly addressBook: AddressBook | null;
  readonly pex: PexReactor | null;
  readonly state: NodeState;
  /** Starts every part, in order. Once only. */
  /** Starts the node; `signal` aborts a start still waiting for its reactors. */
  start(signal?: AbortSignal): Promise<void>;
  /** Stops every part, in order. Idempotent; never rejects (failures are logged). */
  stop(): Promise<void>;
  /** `tcp://HOST:PORT` the p2p listener is bound to, once started. */
  p2pListenAddress(): string | null;
  /** `ID@HOST:PORT` for other nodes' `persistent_peers`: the external address if set, else the bound one. */
  p2pAddress(): string | null;
  /** The gateway's bound address, once started; null without a gateway. */
  gatewayAddress(): string | null;
  /** `http://HOST:PORT/metrics`, once started with `instrumentation.prometheus`. */
  metricsUrl(): string | null;
}

/** The node could not be built or started; the message says what to change. */
export class NodeError extends Error {
  constructor(
    readonly code: "p2p_listen_failed" | "gateway_missing" | "config_invalid",
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "NodeError";
  }
}

function isPrometheus(m: Metrics): m is PrometheusMetrics {
  return "scrape" in m && "registry" in m;
}

function listenErrorMessage(what: string, address: string, err: NodeJS.ErrnoException): string {
  const why =
    err.code === "EADDRINUSE"
      ? "address already in use (is another node running?)"
      : err.code === "EADDRNOTAVAIL"
        ? "no such local address"
        : err.code === "EACCES"
          ? "permission denied (ports below 1024 need privileges)"
          : err.message;
  return `cannot listen on ${what} ${address}: ${why}`;
}

function switchConfigOf(config: SwitchboardConfig): SwitchConfig {
  const p = config.p2p;
  return {
    network: config.node.network,
    moniker: config.moniker,
    protocolVersion: { p2p: BigInt(config.node.p2pVersion), block: BigInt(config.node.blockVersion), app: BigInt(config.node.appVersion) },
    listen: { host: p.laddr.host, port: p.laddr.port },
    ...(p.externalAddress === "" ? {} : { externalAddress: p.externalAddress }),
    maxNumInboundPeers: p.maxNumInboundPeers,
    maxNumOutboundPeers: p.maxNumOutboundPeers,
    persistentPeers: p.persistentPeers,
    // Seeds belong to the PEX reactor, as in CometBFT; the Switch never dials them itself.
    seeds: [],
    unconditionalPeerIds: p.unconditionalPeerIds,
    privatePeerIds: p.privatePeerIds,
    allowDuplicateIp: p.allowDuplicateIp,
    mconn: {
      sendRateBytesPerSecond: p.sendRateBytesPerSecond,
      recvRateBytesPerSecond: p.recvRateBytesPerSecond,
      maxPacketMsgPayloadBytes: p.maxPacketMsgPayloadBytes,
      flushThrottleMs: p.flushThrottleTimeoutMs,
      sendQueueMaxBytesPerChannel: p.sendQueueMaxBytesPerChannel,
      sendQueueMaxBytes: p.sendQueueMaxBytes,
    },
    handshakeTimeoutMs: p.handshakeTimeoutMs,
    dialTimeoutMs: p.dialTimeoutMs,
    maxConcurrentHandshakes: p.maxConcurrentHandshakes,
    acceptRateLimit: { ratePerSecond: p.acceptRatePerIpPerSecond, burst: p.acceptBurstPerIp },
  };
}

/** Our own addresses, so that the address book never stores them. */
function ourAddresses(id: string, config: SwitchboardConfig): NetAddress[] {
  const out: NetAddress[] = [];
  if (config.p2p.laddr.port !== 0) out.push({ id, host: config.p2p.laddr.host, port: config.p2p.laddr.port });
  if (config.p2p.externalAddress !== "") {
    const hp = parseHostPort(config.p2p.externalAddress);
    out.push({ id, ...hp });
  }
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Builds a node: loads (or creates) `HOME/config/node_key.json`, builds the
 * Switch, the PEX reactor and address book when `p2p.pex` is on, the metrics
 * and the gateway. Nothing listens until {@link SwitchboardNode.start}.
 */
export async function createNode(config: SwitchboardConfig, options: NodeOptions): Promise<SwitchboardNode> {
  const home = options.home;
  const logger = options.logger ?? createLogger({ level: config.logLevel, format: config.logFormat });
  const log = logger.child({ module: "node" });

  if (config.grpc.reactors.length > 0 && options.gateway === undefined) {
    throw new NodeError(
      "gateway_missing",
      `grpc.reactors lists ${config.grpc.reactors.join(", ")}, but this build has no reactor gateway to register them; empty the list`,
    );
  }
  const switchConfig = switchConfigOf(config);
  try {
    resolveMConnectionConfig(switchConfig.mconn);
  } catch (err) {
    throw new NodeError("config_invalid", `invalid p2p connection settings: ${(err as Error).message}`, { cause: err });
  }

  const keyPath = join(home, NODE_KEY_FILE);
  const hadKey = await exists(keyPath);
  const nodeKey = await loadOrGenerateNodeKey(keyPath);
  if (!hadKey) log.info({ node_id: nodeKey.id, path: keyPath }, "generated a new node key");

  const metrics: Metrics =
    options.metrics ??
    (config.instrumentation.prometheus
      ? createPrometheusMetrics({ namespace: config.instrumentation.namespace, chainId: config.node.network })
      : noopMetrics);

  let addressBook: AddressBook | null = null;
  let pex: PexReactor | null = null;
  const sw = new Switch({
    nodeKey,
    config: switchConfig,
    logger,
    hooks: {
      onMarkGood: (peer) => {
        addressBook?.markGood(peer.id);
      },
      isKnownGoodHost: (host) => addressBook?.hasGoodHost(host) ?? false,
    },
  });
  if (config.p2p.pex) {
    const file = config.p2p.addrBookFile;
    addressBook = new AddressBook({
      filePath: isAbsolute(file) ? file : join(home, file),
      strict: config.p2p.addrBookStrict,
      privateIds: config.p2p.privatePeerIds,
      logger,
    });
    for (const a of ourAddresses(nodeKey.id, config)) addressBook.addOurAddress(a);
    pex = new PexReactor({
      addressBook,
      seeds: config.p2p.seeds.map(formatNetAddress),
      seedMode: config.p2p.seedMode,
      maxNumOutboundPeers: config.p2p.maxNumOutboundPeers,
      persistentPeerIds: config.p2p.persistentPeers.map((a) => a.id),
      logger,
    });
    sw.addReactor(PEX_REACTOR_NAME, pex);
    const [reactor, book] = [pex, addressBook];
    metrics.register(pexMetrics(() => ({ bookSize: book.size, dialAttemptRecords: reactor.dialAttemptRecordCount, crawlRecords: reactor.crawlRecordCount })));
  } else {
    if (config.p2p.seeds.length > 0) log.warn({ seeds: config.p2p.seeds.length }, "p2p.seeds is ignored: seeds are dialed by the PEX reactor and p2p.pex is false");
    if (config.p2p.seedMode) log.warn("p2p.seed_mode is ignored: seed mode is a mode of the PEX reactor and p2p.pex is false");
  }
  for (const r of options.reactors ?? []) sw.addReactor(r.name, r.reactor);
  metrics.observeSwitch(sw);

  const gateway = options.gateway?.({ config: config.grpc, home: options.home, nodeId: nodeKey.id, logger, metrics }) ?? null;

  let state: NodeState = "created";
  let metricsServer: MetricsServer | null = null;
  let stopping: Promise<void> | null = null;

  const closeMetricsServer = async (): Promise<void> => {
    const s = metricsServer;
    metricsServer = null;
    if (s !== null) await s.close();
  };

  const addPersistentPeersToBook = (): void => {
    const book = addressBook;
    const bound = sw.listenAddress;
    if (book === null || bound === null) return;
    // As CometBFT's DialPeersAsync does: the book learns the configured peers, with us as their source.
    const src: NetAddress = { id: nodeKey.id, host: bound.host, port: bound.port };
    for (const a of config.p2p.persistentPeers) {
      const result = book.addAddress(a, src);
      if (result.status === "rejected") log.debug({ peer: formatNetAddress(a), reason: result.reason }, "persistent peer not added to the address book");
    }
  };

  const node: SwitchboardNode = {
    config,
    home,
    nodeKey,
    switch: sw,
    logger,
    metrics,
    addressBook,
    pex,
    get state(): NodeState {
      return state;
    },
    async start(signal?: AbortSignal): Promise<void> {
      if (state !== "created") throw new Error(`cannot start a node in state ${state}`);
      state = "starting";
      try {
        if (config.instrumentation.prometheus && isPrometheus(metrics)) {
          const { host, port } = config.instrumentation.prometheusListenAddr;
          metricsServer = await startMetricsServer({ metrics, host, port, logger });
        }
        if (gateway !== null) await gateway.start(sw, signal);
        try {
          await sw.start();
        } catch (err) {
          const e = err as NodeJS.ErrnoException;
          if (typeof e.code === "string" && e.code.startsWith("E") && "syscall" in e) {
            const addr = `tcp://${formatHostPort(config.p2p.laddr.host, config.p2p.laddr.port)}`;
            throw new NodeError("p2p_listen_failed", listenErrorMessage("p2p.laddr", addr, e), { cause: err });
          }
          throw err;
        }
      } catch (err) {
        state = "stopping";
        if (gateway !== null) {
          await gateway.stop().catch((e: unknown) => {
            log.error({ err: e }, "gateway failed to stop");
          });
        }
        await closeMetricsServer();
        state = "stopped";
        throw err;
      }
      gateway?.onSwitchStarted?.();
      addPersistentPeersToBook();
      state = "running";
      log.info(
        { node_id: nodeKey.id, p2p: node.p2pListenAddress(), grpc: node.gatewayAddress(), metrics: node.metricsUrl(), network: config.node.network, crypto: cryptoBackend().name },
        "node started",
      );
      const fallback = cryptoFallbackReason();
      if (fallback !== null) log.warn({ reason: fallback }, "crypto: using node:crypto instead of libsodium (SecretConnection costs about twice the CPU)");
    },
    stop(): Promise<void> {
      stopping ??= (async () => {
        if (state === "created") {
          state = "stopped";
          return;
        }
        state = "stopping";
        log.info("stopping node");
        gateway?.beginDrain?.();
        try {
          await sw.stop();
        } catch (err) {
          log.error({ err }, "switch failed to stop");
        }
        if (gateway !== null) {
          try {
            await gateway.stop();
          } catch (err) {
            log.error({ err }, "gateway failed to stop");
          }
        }
        await closeMetricsServer();
        state = "stopped";
        log.info("node stopped");
      })();
      return stopping;
    },
    p2pListenAddress(): string | null {
      const b = sw.listenAddress;
      return b === null ? null : `tcp://${formatHostPort(b.host, b.port)}`;
    },
    p2pAddress(): string | null {
      if (config.p2p.externalAddress !== "") {
        const hp = parseHostPort(config.p2p.externalAddress);
        return `${nodeKey.id}@${formatHostPort(hp.host, hp.port)}`;
      }
      const b = sw.listenAddress;
      return b === null ? null : `${nodeKey.id}@${formatHostPort(b.host, b.port)}`;
    },
    gatewayAddress(): string | null {
      return gateway?.address?.() ?? null;
    },
    metricsUrl(): string | null {
      return metricsServer?.url ?? null;
    },
  };
  return node;
}
