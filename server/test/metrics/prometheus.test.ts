import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { Counter, register as globalRegistry } from "prom-client";
import { describe, expect, it } from "vitest";
import { channelLabel, createPrometheusMetrics } from "../../src/metrics/prometheus.js";
import { noopMetrics, type PeerMetricsSource, type SwitchMetricsSource } from "../../src/metrics/metrics.js";
import type { PeerStatus } from "../../src/p2p/peer.js";

interface FakeChannel {
  id: number;
  bytesSent: number;
  bytesReceived: number;
  sendQueueSize: number;
}

function fakePeer(id: string, channels: FakeChannel[], queue = { bytes: 0, messages: 0, paused: false }): PeerMetricsSource {
  return {
    id,
    status: () =>
      ({
        connection: { channels: channels.map((c) => ({ ...c })) },
        inboundQueueBytes: queue.bytes,
        inboundQueueMessages: queue.messages,
        receivePaused: queue.paused,
      }) as unknown as PeerStatus,
  };
}

function fakeSwitch(peers: PeerMetricsSource[], extra: { handshakesInProgress?: number } = {}): SwitchMetricsSource & { peers_: PeerMetricsSource[] } {
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
      { id: 0x40, bytesSent: 100, bytesReceived: 7, sendQueueSize: 2 },
      { id: 0x00, bytesSent: 5, bytesReceived: 9, sendQueueSize: 1 },
    ];
    const sw = fakeSwitch([fakePeer(A, chA, { bytes: 300, messages: 3, paused: true })]);
    m.observeSwitch(sw);
    let text = await m.scrape();
    expect(value(text, 'cometbft_p2p_peers{chain_id="test-chain"}')).toBe(1);
    expect(value(text, `cometbft_p2p_peer_send_bytes_total{peer_id="${A}",chID="0x40",chain_id="test-chain"}`)).toBe(100);
    expect(value(text, `cometbft_p2p_peer_receive_bytes_total{peer_id="${A}",chID="0x0",chain_id="test-chain"}`)).toBe(9);
    expect(value(text, `cometbft_p2p_peer_pending_send_bytes{peer_id="${A}",chain_id="test-chain"}`)).toBe(3);
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

  it("reports handshakes in progress only when the Switch exposes them", async () => {
    const without = createPrometheusMetrics({ defaultMetrics: false });
    without.observeSwitch(fakeSwitch([]));
    expect(await without.scrape()).not.toContain("handshakes_in_progress");
    const withIt = createPrometheusMetrics({ defaultMetrics: false });
    withIt.observeSwitch(fakeSwitch([], { handshakesInProgress: 4 }));
    expect(value(await withIt.scrape(), "cometbft_p2p_handshakes_in_progress")).toBe(4);
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
  it("lists every metric the node registers", async () => {
    const doc = await readFile(join(import.meta.dirname, "../../docs/METRICS.md"), "utf8");
    const m = createPrometheusMetrics({ namespace: "ns", defaultMetrics: false });
    m.observeSwitch(fakeSwitch([], { handshakesInProgress: 0 }));
    const names = m.registry.getMetricsAsArray().map((x) => x.name);
    expect(names.length).toBeGreaterThanOrEqual(11);
    for (const name of names) expect(doc, name).toContain(`\`${name.replace(/^ns_/, "<ns>_")}\``);
  });
});
