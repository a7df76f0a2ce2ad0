/**
 * The Prometheus implementation of {@link Metrics}, on prom-client with a
 * registry of its own (no global state: two nodes in one process do not mix
 * their metrics).
 *
 * Names follow CometBFT's `p2p/metrics.go` under the configured namespace
 * (`cometbft_p2p_peers`, ...), with CometBFT's `chain_id` label on every
 * metric, so existing dashboards work. Per-peer series are computed from the
 * Switch at scrape time: a peer's series disappear with it, and sending and
 * receiving cost nothing extra. server/docs/METRICS.md lists every metric.
 */
import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { Metrics, MetricsExtension, PeerMetricsSource, SwitchMetricsSource } from "./metrics.js";

export interface PrometheusMetricsOptions {
  /** Prefix of every metric name (`instrumentation.namespace`). @default "cometbft" */
  readonly namespace?: string;
  /** Value of the `chain_id` label on every metric, as CometBFT sets it; omitted when undefined. */
  readonly chainId?: string;
  /** Also collect prom-client's process and Node.js metrics (event-loop lag, heap, GC...). @default true */
  readonly defaultMetrics?: boolean;
}

export interface PrometheusMetrics extends Metrics {
  readonly registry: Registry;
  readonly namespace: string;
  /** The exposition text of every metric. */
  scrape(): Promise<string>;
  /** The Content-Type of {@link scrape}'s output. */
  readonly contentType: string;
}

/** CometBFT's label for a channel: Go's `%#x` (`0x40`, `0x0`). */
export function channelLabel(id: number): string {
  return `0x${id.toString(16)}`;
}

export function createPrometheusMetrics(options: PrometheusMetricsOptions = {}): PrometheusMetrics {
  const ns = options.namespace ?? "cometbft";
  const registry = new Registry();
  if (options.chainId !== undefined) registry.setDefaultLabels({ chain_id: options.chainId });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });

  let source: SwitchMetricsSource | null = null;
  const peers = (): readonly PeerMetricsSource[] => source?.peers().list() ?? [];
  const registers = [registry];

  new Gauge({
    name: `${ns}_p2p_peers`,
    help: "Number of peers.",
    registers,
    collect() {
      this.set(peers().length);
    },
  });
  new Counter({
    name: `${ns}_p2p_peer_receive_bytes_total`,
    help: "Number of bytes received from a given peer, per channel (wire bytes of the current connection).",
    labelNames: ["peer_id", "chID"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        for (const ch of p.status().connection.channels) this.inc({ peer_id: p.id, chID: channelLabel(ch.id) }, ch.bytesReceived);
      }
    },
  });
  new Counter({
    name: `${ns}_p2p_peer_send_bytes_total`,
    help: "Number of bytes sent to a given peer, per channel (wire bytes of the current connection).",
    labelNames: ["peer_id", "chID"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        for (const ch of p.status().connection.channels) this.inc({ peer_id: p.id, chID: channelLabel(ch.id) }, ch.bytesSent);
      }
    },
  });
  new Gauge({
    name: `${ns}_p2p_peer_pending_send_bytes`,
    help: "Pending bytes to be sent to a given peer (as in CometBFT: the number of queued messages, summed over channels).",
    labelNames: ["peer_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        let queued = 0;
        for (const ch of p.status().connection.channels) queued += ch.sendQueueSize;
        this.set({ peer_id: p.id }, queued);
      }
    },
  });
  const messageReceive = new Counter({
    name: `${ns}_p2p_message_receive_bytes_total`,
    help: "Number of bytes of each message type received.",
    labelNames: ["message_type"] as const,
    registers,
  });
  const messageSend = new Counter({
    name: `${ns}_p2p_message_send_bytes_total`,
    help: "Number of bytes of each message type sent.",
    labelNames: ["message_type"] as const,
    registers,
  });

  // Switchboard's own (not in CometBFT).
  new Gauge({
    name: `${ns}_p2p_peer_receive_queue_bytes`,
    help: "Bytes of received messages waiting for reactors, per peer (bounded; reading pauses when full).",
    labelNames: ["peer_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) this.set({ peer_id: p.id }, p.status().inboundQueueBytes);
    },
  });
  new Gauge({
    name: `${ns}_p2p_peer_receive_queue_messages`,
    help: "Received messages waiting for reactors, per peer.",
    labelNames: ["peer_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) this.set({ peer_id: p.id }, p.status().inboundQueueMessages);
    },
  });
  new Gauge({
    name: `${ns}_p2p_peer_receive_paused`,
    help: "1 while the connection to a peer stops reading because its receive queue is full.",
    labelNames: ["peer_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) this.set({ peer_id: p.id }, p.status().receivePaused ? 1 : 0);
    },
  });
  new Gauge({
    name: `${ns}_p2p_connections`,
    help: "Peers by direction as the limits count them (unconditional peers excluded), and dials in progress.",
    labelNames: ["direction"] as const,
    registers,
    collect() {
      const c = source?.numPeers() ?? { inbound: 0, outbound: 0, dialing: 0 };
      this.set({ direction: "inbound" }, c.inbound);
      this.set({ direction: "outbound" }, c.outbound);
      this.set({ direction: "dialing" }, c.dialing);
    },
  });
  let handshakesRegistered = false;

  return {
    registry,
    namespace: ns,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    observeSwitch(s: SwitchMetricsSource): void {
      source = s;
      if (!handshakesRegistered && typeof s.handshakesInProgress === "number") {
        handshakesRegistered = true;
        new Gauge({
          name: `${ns}_p2p_handshakes_in_progress`,
          help: "Inbound and outbound handshakes (SecretConnection and NodeInfo exchange) under way.",
          registers,
          collect() {
            this.set(source?.handshakesInProgress ?? 0);
          },
        });
      }
    },
    messageReceived(messageType: string, bytes: number): void {
      messageReceive.inc({ message_type: messageType }, bytes);
    },
    messageSent(messageType: string, bytes: number): void {
      messageSend.inc({ message_type: messageType }, bytes);
    },
    register(extension: MetricsExtension): void {
      extension(registry, ns);
    },
  };
}
