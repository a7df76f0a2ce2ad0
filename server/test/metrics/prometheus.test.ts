import { readFile } from "node:fs/promises";
import { join } from "node:path";
import pino from "pino";
import { Counter, register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { resolveConfig } from "../../src/config/load.js";
import { createNodeGateway } from "../../src/gateway/node-gateway.js";
import { pexMetrics } from "../../src/metrics/pex.js";
import { channelLabel, createPrometheusMetrics } from "../../src/metrics/prometheus.js";
import { noopMetrics, type PeerMetricsSource, type SwitchMetricsSource } from "../../src/metrics/metrics.js";
import { CONNECTION_ERROR_CODES, PEER_ERROR_CODES } from "../../src/p2p/connection-errors.js";
import type { PeerBuffers, PeerStatus } from "../../src/p2p/peer.js";

interface FakeChannel {
  id: number;
  bytesSent: number;
  bytesReceived: number;
  sendQueueSize: number;
  sendQueueBytes?: number;
}

const NO_BUFFERS: PeerBuffers = {
  receive: { socket: 0, secretConnection: 0, mconnection: 0, reassembly: 0 },
  send: { mconnection: 0, secretConnection: 0, socket: 0 },
};

function fakePeer(id: string, channels: FakeChannel[], queue = { bytes: 0, messages: 0, paused: false }, buffers = NO_BUFFERS, dataKeys = 0): PeerMetricsSource {
  return {
    id,
    status: () =>
      ({
        connection: { channels: channels.map((c) => ({ sendQueueBytes: 0, ...c })) },
        inboundQueueBytes: queue.bytes,
        inboundQueueMessages: queue.messages,
        receivePaused: queue.paused,
        buffers,
        dataKeys,
      }) as unknown as PeerStatus,
  };
}

function fakeSwitch(peers: PeerMetricsSource[], extra: Partial<Omit<SwitchMetricsSource, "peers" | "numPeers">> = {}): SwitchMetricsSource & { peers_: PeerMetricsSource[] } {
  const s = {
    peers_: peers,
    peers: () => ({ list: () => s.peers_ }),
    numPeers: () => ({ inbound: 1, outbound: s.peers_.length - 1, dialing: 2 }),
    ...extra,
  };
  return s;
}

const A = "aa".repeat(20);
const B = "bb".repeat(20);

function value(text: string, series: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe("Prometheus metrics", () => {
  it("use CometBFT's names and labels, chain_id on every series, read at scrape time", async () => {
    const m = createPrometheusMetrics({ chainId: "test-chain", defaultMetrics: false });
    const chA = [
      { id: 0x40, bytesSent: 100, bytesReceived: 7, sendQueueSize: 2, sendQueueBytes: 4096 },
      { id: 0x00, bytesSent: 5, bytesReceived: 9, sendQueueSize: 1 },
    ];
    const sw = fakeSwitch([fakePeer(A, chA, { bytes: 300, messages: 3, paused: true })]);
    m.observeSwitch(sw);
    let text = await m.scrape();
    expect(value(text, 'cometbft_p2p_peers{chain_id="test-chain"}')).toBe(1);
    expect(value(text, `cometbft_p2p_peer_send_bytes_total{peer_id="${A}",chID="0x40",chain_id="test-chain"}`)).toBe(100);
    expect(value(text, `cometbft_p2p_peer_receive_bytes_total{peer_id="${A}",chID="0x0",chain_id="test-chain"}`)).toBe(9);
    expect(value(text, `cometbft_p2p_peer_pending_send_bytes{peer_id="${A}",chain_id="test-chain"}`)).toBe(3);
    expect(value(text, `cometbft_p2p_peer_send_queue_bytes{peer_id="${A}",chID="0x40",chain_id="test-chain"}`)).toBe(4096);
    expect(value(text, `cometbft_p2p_peer_send_queue_bytes{peer_id="${A}",chID="0x0",chain_id="test-chain"}`)).toBe(0);
    expect(value(text, `cometbft_p2p_peer_receive_queue_bytes{peer_id="${A}",chain_id="test-chain"}`)).toBe(300);
    expect(value(text, `cometbft_p2p_peer_receive_queue_messages{peer_id="${A}",chain_id="test-chain"}`)).toBe(3);
    expect(value(text, `cometbft_p2p_peer_receive_paused{peer_id="${A}",chain_id="test-chain"}`)).toBe(1);
    expect(value(text, 'cometbft_p2p_connections{direction="dialing",chain_id="test-chain"}')).toBe(2);
    expect(text).toContain("# TYPE cometbft_p2p_peer_send_bytes_total counter");
    expect(text).toContain("# TYPE cometbft_p2p_peers gauge");

    // Traffic since the last scrape shows up at the next one; nothing is pushed.
    (chA[0] as FakeChannel).bytesSent = 250;
    text = await m.scrape();
    expect(value(text, `cometbft_p2p_peer_send_bytes_total{peer_id="${A}",chID="0x40",chain_id="test-chain"}`)).toBe(250);
  });

  it("drops a removed peer's series", async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const sw = fakeSwitch([fakePeer(A, [{ id: 0x20, bytesSent: 1, bytesReceived: 1, sendQueueSize: 0 }]), fakePeer(B, [{ id: 0x20, bytesSent: 2, bytesReceived: 2, sendQueueSize: 0 }])]);
    m.observeSwitch(sw);
    let text = await m.scrape();
    expect(text).toContain(`peer_id="${A}"`);
    expect(value(text, "cometbft_p2p_peers")).toBe(2);
    sw.peers_ = sw.peers_.filter((p) => p.id !== A);
    text = await m.scrape();
    expect(text).not.toContain(`peer_id="${A}"`);
    expect(value(text, `cometbft_p2p_peer_send_bytes_total{peer_id="${B}",chID="0x20"}`)).toBe(2);
    expect(value(text, "cometbft_p2p_peers")).toBe(1);
  });

  it("labels channels as Go's %#x does", () => {
    expect(channelLabel(0x40)).toBe("0x40");
    expect(channelLabel(0)).toBe("0x0");
    expect(channelLabel(0x3a)).toBe("0x3a");
  });

  it("counts message bytes by type, for the layer that knows types", async () => {
    const m = createPrometheusMetrics({ namespace: "sb", defaultMetrics: false });
    m.messageReceived("p2p_PexRequest", 3);
    m.messageReceived("p2p_PexRequest", 4);
    m.messageSent("p2p_PexAddrs", 10);
    const text = await m.scrape();
    expect(value(text, 'sb_p2p_message_receive_bytes_total{message_type="p2p_PexRequest"}')).toBe(7);
    expect(value(text, 'sb_p2p_message_send_bytes_total{message_type="p2p_PexAddrs"}')).toBe(10);
    expect(text).not.toContain("cometbft_");
  });

  it("lets another component add metrics to the same registry, under the namespace", async () => {
    const m = createPrometheusMetrics({ chainId: "c", defaultMetrics: false });
    m.register((registry, ns) => {
      new Counter({ name: `${ns}_gateway_attached_total`, help: "test", registers: [registry] }).inc(2);
    });
    expect(value(await m.scrape(), 'cometbft_gateway_attached_total{chain_id="c"}')).toBe(2);
  });

  it("reports handshakes in progress, reconnect routines and tracked IPs, 0 when the source has none", async () => {
    const without = createPrometheusMetrics({ defaultMetrics: false });
    without.observeSwitch(fakeSwitch([]));
    let text = await without.scrape();
    expect(value(text, "cometbft_p2p_handshakes_in_progress")).toBe(0);
    expect(value(text, "cometbft_p2p_reconnecting_peers")).toBe(0);
    expect(value(text, "cometbft_p2p_accept_rate_limit_tracked_ips")).toBe(0);
    const withIt = createPrometheusMetrics({ defaultMetrics: false });
    withIt.observeSwitch(fakeSwitch([], { handshakesInProgress: 4, reconnectingPeers: 2, acceptRateLimitTrackedIps: 17 }));
    text = await withIt.scrape();
    expect(value(text, "cometbft_p2p_handshakes_in_progress")).toBe(4);
    expect(value(text, "cometbft_p2p_reconnecting_peers")).toBe(2);
    expect(value(text, "cometbft_p2p_accept_rate_limit_tracked_ips")).toBe(17);
  });

  it("reports each peer's receive and send buffers by buffer, and its key-value store", async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const buffers: PeerBuffers = {
      receive: { socket: 65_536, secretConnection: 16_384, mconnection: 1000, reassembly: 4096 },
      send: { mconnection: 300, secretConnection: 20, socket: 1044 },
    };
    m.observeSwitch(fakeSwitch([fakePeer(A, [], undefined, buffers, 3), fakePeer(B, [])]));
    const text = await m.scrape();
    expect(value(text, `cometbft_p2p_peer_receive_buffer_bytes{peer_id="${A}",buffer="socket"}`)).toBe(65_536);
    expect(value(text, `cometbft_p2p_peer_receive_buffer_bytes{peer_id="${A}",buffer="secret_connection"}`)).toBe(16_384);
    expect(value(text, `cometbft_p2p_peer_receive_buffer_bytes{peer_id="${A}",buffer="mconnection"}`)).toBe(1000);
    expect(value(text, `cometbft_p2p_peer_receive_buffer_bytes{peer_id="${A}",buffer="reassembly"}`)).toBe(4096);
    expect(value(text, `cometbft_p2p_peer_receive_buffer_bytes{peer_id="${B}",buffer="socket"}`)).toBe(0);
    expect(value(text, `cometbft_p2p_peer_send_buffer_bytes{peer_id="${A}",buffer="mconnection"}`)).toBe(300);
    expect(value(text, `cometbft_p2p_peer_send_buffer_bytes{peer_id="${A}",buffer="secret_connection"}`)).toBe(20);
    expect(value(text, `cometbft_p2p_peer_send_buffer_bytes{peer_id="${A}",buffer="socket"}`)).toBe(1044);
    expect(value(text, `cometbft_p2p_peer_data_keys{peer_id="${A}"}`)).toBe(3);
    expect(text).toContain("# TYPE cometbft_p2p_peer_receive_buffer_bytes gauge");
  });

  it("counts connection and peer errors by code, a bounded label set", async () => {
    const m = createPrometheusMetrics({ defaultMetrics: false });
    const connectionErrors = [
      ...CONNECTION_ERROR_CODES.map((code) => ({ direction: "inbound" as const, code, count: code === "handshake_timeout" ? 3 : 0 })),
      ...CONNECTION_ERROR_CODES.map((code) => ({ direction: "outbound" as const, code, count: code === "dial_failed" ? 2 : 0 })),
    ];
    const peerErrors = PEER_ERROR_CODES.map((code) => ({ code, count: code === "pong_timeout" ? 5 : 0 }));
    m.observeSwitch(fakeSwitch([], { connectionErrors: () => connectionErrors, peerErrors: () => peerErrors }));
    const text = await m.scrape();
    expect(value(text, 'cometbft_p2p_connection_errors_total{direction="inbound",code="handshake_timeout"}')).toBe(3);
    expect(value(text, 'cometbft_p2p_connection_errors_total{direction="outbound",code="dial_failed"}')).toBe(2);
    expect(value(text, 'cometbft_p2p_connection_errors_total{direction="inbound",code="rate_limited"}')).toBe(0);
    expect(value(text, 'cometbft_p2p_peer_errors_total{code="pong_timeout"}')).toBe(5);
    expect(text).toContain("# TYPE cometbft_p2p_connection_errors_total counter");
    // Every series is one of the closed set: 2 directions × the codes, and the peer codes.
    expect(text.split("\n").filter((l) => l.startsWith("cometbft_p2p_connection_errors_total{"))).toHaveLength(2 * CONNECTION_ERROR_CODES.length);
    expect(text.split("\n").filter((l) => l.startsWith("cometbft_p2p_peer_errors_total{"))).toHaveLength(PEER_ERROR_CODES.length);
  });

  it("keeps its own registry: two instances do not share series, the global registry stays empty", async () => {
    const one = createPrometheusMetrics({ chainId: "one" });
    const two = createPrometheusMetrics({ chainId: "two" });
    one.messageSent("x", 1);
    expect(await two.scrape()).not.toContain('message_type="x"');
    expect(await one.scrape()).toMatch(/nodejs_eventloop_lag_seconds\{chain_id="one"\}/);
    expect(globalRegistry.getSingleMetric("cometbft_p2p_peers")).toBeUndefined();
  });

  it("the no-op default accepts every call and records nothing", () => {
    noopMetrics.observeSwitch(fakeSwitch([]));
    noopMetrics.messageReceived("t", 1);
    noopMetrics.messageSent("t", 1);
    let called = false;
    noopMetrics.register(() => {
      called = true;
    });
    expect(called).toBe(false);
  });
});

describe("METRICS.md", () => {
  it("lists every metric the node and its gateway register", async () => {
    const doc = await readFile(join(import.meta.dirname, "../../docs/METRICS.md"), "utf8");
    const m = createPrometheusMetrics({ namespace: "ns", defaultMetrics: false });
    m.observeSwitch(fakeSwitch([]));
    const p2p = m.registry.getMetricsAsArray().map((x) => x.name);
    expect(p2p.length).toBeGreaterThanOrEqual(18);
    // The PEX reactor's, registered by the composition root.
    m.register(pexMetrics(() => ({ bookSize: 3, dialAttemptRecords: 2, crawlRecords: 1 })));
    // The gateway registers its metrics when it is built.
    createNodeGateway({ config: resolveConfig({}).config.grpc, home: "/nonexistent", logger: pino({ level: "silent" }), metrics: m });
    const all = m.registry.getMetricsAsArray().map((x) => x.name);
    expect(all.filter((n) => n.startsWith("ns_gateway_")).length).toBeGreaterThanOrEqual(8);
    for (const name of all) expect(doc, name).toContain(`\`${name.replace(/^ns_/, "<ns>_")}\``);
  });

  it("reads the PEX sizes at scrape time", async () => {
    const m = createPrometheusMetrics({ namespace: "ns", defaultMetrics: false });
    let size = { bookSize: 3, dialAttemptRecords: 2, crawlRecords: 1 };
    m.register(pexMetrics(() => size));
    expect(await m.scrape()).toMatch(/^ns_p2p_address_book_size 3$/m);
    size = { bookSize: 7, dialAttemptRecords: 0, crawlRecords: 5 };
    const text = await m.scrape();
    expect(text).toMatch(/^ns_p2p_address_book_size 7$/m);
    expect(text).toMatch(/^ns_p2p_pex_dial_attempt_records 0$/m);
    expect(text).toMatch(/^ns_p2p_pex_crawl_records 5$/m);
  });
});
