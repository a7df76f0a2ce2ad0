/**
 * /metrics over real HTTP, on a node built by the composition root, with a
 * second node connected over real TCP.
 */
import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { MetricsServerError } from "../../src/metrics/server.js";
import { composedNodeFixtures } from "../support/composed-node.js";

const { node, cleanup } = composedNodeFixtures("metrics-test");
afterEach(cleanup);

function value(text: string, prefix: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(prefix));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("/metrics", () => {
  it("shows the connected peer and its byte counters, and forgets it when it leaves", async () => {
    const a = await node({ "instrumentation.prometheus": "true", "instrumentation.prometheus_listen_addr": "127.0.0.1:0" });
    await a.start();
    const url = a.metricsUrl();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    const b = await node({ "p2p.persistent_peers": a.p2pAddress() ?? "" });
    await b.start();
    const bId = b.nodeKey.id;
    const labels = `{chain_id="metrics-test"}`;

    await vi.waitFor(() => {
      expect(a.switch.peers().has(bId)).toBe(true);
    }, 10_000);
    // B asks A for addresses on the PEX channel (0x00) as soon as it is connected; A answers.
    let text = "";
    await vi.waitFor(async () => {
      text = await (await fetch(url!)).text();
      expect(value(text, `cometbft_p2p_peer_receive_bytes_total{peer_id="${bId}",chID="0x0",chain_id="metrics-test"}`)).toBeGreaterThan(0);
      expect(value(text, `cometbft_p2p_peer_send_bytes_total{peer_id="${bId}",chID="0x0",chain_id="metrics-test"}`)).toBeGreaterThan(0);
    }, 10_000);
    expect(text).toContain(`cometbft_p2p_peers${labels} 1\n`);
    expect(value(text, `cometbft_p2p_peer_pending_send_bytes{peer_id="${bId}",chain_id="metrics-test"}`)).toBe(0);
    expect(text).toContain("nodejs_eventloop_lag_seconds");

    await b.stop();
    await vi.waitFor(() => {
      expect(a.switch.peers().size).toBe(0);
    }, 10_000);
    text = await (await fetch(url!)).text();
    expect(text).toContain(`cometbft_p2p_peers${labels} 0\n`);
    expect(text).not.toContain(bId);
  });

  it("answers 404 elsewhere, and stops listening when the node stops", async () => {
    const a = await node({ "instrumentation.prometheus": "true", "instrumentation.prometheus_listen_addr": "127.0.0.1:0" });
    await a.start();
    const url = a.metricsUrl()!;
    expect((await fetch(url.replace("/metrics", "/"))).status).toBe(404);
    expect((await fetch(url)).headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    await a.stop();
    await expect(fetch(url)).rejects.toThrow();
  });

  it("is not served when instrumentation.prometheus is off", async () => {
    const a = await node({});
    await a.start();
    expect(a.metricsUrl()).toBeNull();
  });

  it("a port in use fails the start with a message naming the key and the address, and nothing stays open", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const a = await node({ "instrumentation.prometheus": "true", "instrumentation.prometheus_listen_addr": `127.0.0.1:${port}` });
      const err = await a.start().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MetricsServerError);
      expect((err as Error).message).toBe(
        `cannot serve metrics on instrumentation.prometheus_listen_addr 127.0.0.1:${port}: address already in use (is another node or exporter running?)`,
      );
      expect(a.state).toBe("stopped");
      expect(a.switch.listenAddress).toBeNull();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
