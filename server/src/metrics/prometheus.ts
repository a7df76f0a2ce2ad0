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
    name: `${ns}_p2p_peer_send_queue_bytes`,
    help: "Bytes of messages queued for sending to a peer, per channel (bounded per channel and per connection: p2p.send_queue_max_bytes*).",
    labelNames: ["peer_id", "chID"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        for (const ch of p.status().connection.channels) this.set({ peer_id: p.id, chID: channelLabel(ch.id) }, ch.sendQueueBytes);
      }
    },
  });
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
  new Gauge({
    name: `${ns}_p2p_peer_receive_buffer_bytes`,
    help: "Bytes held in a peer connection's receive buffers below its receive queue: socket (ciphertext), secret_connection (opened, unread), mconnection (undecoded), reassembly (messages split over packets).",
    labelNames: ["peer_id", "buffer"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        const b = p.status().buffers.receive;
        this.set({ peer_id: p.id, buffer: "socket" }, b.socket);
        this.set({ peer_id: p.id, buffer: "secret_connection" }, b.secretConnection);
        this.set({ peer_id: p.id, buffer: "mconnection" }, b.mconnection);
        this.set({ peer_id: p.id, buffer: "reassembly" }, b.reassembly);
      }
    },
  });
  new Gauge({
    name: `${ns}_p2p_peer_send_buffer_bytes`,
    help: "Bytes held in a peer connection's send buffers below its channel queues: mconnection (write buffer), secret_connection (unsealed), socket (sealed, not yet in the kernel).",
    labelNames: ["peer_id", "buffer"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) {
        const b = p.status().buffers.send;
        this.set({ peer_id: p.id, buffer: "mconnection" }, b.mconnection);
        this.set({ peer_id: p.id, buffer: "secret_connection" }, b.secretConnection);
        this.set({ peer_id: p.id, buffer: "socket" }, b.socket);
      }
    },
  });
  new Gauge({
    name: `${ns}_p2p_peer_data_keys`,
    help: "Keys in a peer's key-value store (bounded per peer).",
    labelNames: ["peer_id"] as const,
    registers,
    collect() {
      this.reset();
      for (const p of peers()) this.set({ peer_id: p.id }, p.status().dataKeys);
    },
  });
  new Counter({
    name: `${ns}_p2p_connection_errors_total`,
    help: "Connections that never became peers (refused before the handshake, failed dial or handshake, refused by the Switch), by direction and code.",
    labelNames: ["direction", "code"] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source?.connectionErrors?.() ?? []) this.inc({ direction: e.direction, code: e.code }, e.count);
    },
  });
  new Counter({
    name: `${ns}_p2p_peer_errors_total`,
    help: "Peers dropped for an error, by code.",
    labelNames: ["code"] as const,
    registers,
    collect() {
      this.reset();
      for (const e of source?.peerErrors?.() ?? []) this.inc({ code: e.code }, e.count);
    },
  });
  new Gauge({
    name: `${ns}_p2p_handshakes_in_progress`,
    help: "Inbound and outbound handshakes (SecretConnection and NodeInfo exchange) under way.",
    registers,
    collect() {
      this.set(source?.handshakesInProgress ?? 0);
    },
  });
  new Gauge({
    name: `${ns}_p2p_reconnecting_peers`,
    help: "Persistent peers being redialled (one reconnect routine each).",
    registers,
    collect() {
      this.set(source?.reconnectingPeers ?? 0);
    },
  });
  new Gauge({
    name: `${ns}_p2p_accept_rate_limit_tracked_ips`,
    help: "Source IPs the inbound connection rate limit tracks (bounded; the least recently seen is forgotten).",
    registers,
    collect() {
      this.set(source?.acceptRateLimitTrackedIps ?? 0);
    },
  });

  return {
    registry,
    namespace: ns,
    contentType: registry.contentType,
    scrape: () => registry.metrics(),
    observeSwitch(s: SwitchMetricsSource): void {
      source = s;
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
