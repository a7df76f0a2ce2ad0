/**
 * The Switch's error counts and buffer figures behind the metrics, produced by
 * real connections over loopback TCP (no fakes): each refusal, failed dial and
 * failed handshake is counted under its code, dropped peers under theirs, and
 * the per-connection receive buffers stay within the bounds LIMITS.md gives.
 */
import { type Socket, connect, createServer } from "node:net";
import { getDefaultHighWaterMark } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { createPrometheusMetrics } from "../../src/metrics/prometheus.js";
import type { ConnectionDirection, ConnectionErrorCode, PeerErrorCode } from "../../src/p2p/connection-errors.js";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import type { Switch } from "../../src/p2p/switch.js";
import { Transport } from "../../src/p2p/transport.js";
import { MConnection } from "../../src/wire/mconnection/mconnection.js";
import { type TestNode, nodeFixtures, peerNodeInfo, silentLogger, until } from "../support/nodes.js";

const { node, cleanup } = nodeFixtures();
const sockets: Socket[] = [];
const mconns: MConnection[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const m of mconns.splice(0)) m.stop();
  await cleanup();
});

function port(n: TestNode): number {
  return n.sw.listenAddress?.port ?? 0;
}

/** A TCP connection that says nothing: it holds a handshake open until the deadline. */
function silentSocket(n: TestNode): Socket {
  const s = connect({ host: "127.0.0.1", port: port(n) });
  s.on("error", () => {
    /* the node may reset it */
  });
  sockets.push(s);
  return s;
}

function connectionErrors(sw: Switch, direction: ConnectionDirection, code: ConnectionErrorCode): number {
  return sw.connectionErrors().find((e) => e.direction === direction && e.code === code)?.count ?? 0;
}

function peerErrors(sw: Switch, code: PeerErrorCode): number {
  return sw.peerErrors().find((e) => e.code === code)?.count ?? 0;
}

/** Every non-zero count, as `direction/code` (or `code`) → count. */
function nonZero(sw: Switch): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of sw.connectionErrors()) if (e.count > 0) out[`${e.direction}/${e.code}`] = e.count;
  for (const e of sw.peerErrors()) if (e.count > 0) out[e.code] = e.count;
  return out;
}

describe("connection errors, counted by code", () => {
  it("an inbound socket over its IP's attempt rate is rate_limited; a silent one times out its handshake", async () => {
    const hub = await node({ acceptRateLimit: { ratePerSecond: 0.001, burst: 1 }, handshakeTimeoutMs: 300 });
    silentSocket(hub);
    await until(() => hub.sw.handshakesInProgress === 1, 5000, "the first socket's handshake");
    silentSocket(hub);
    await until(() => connectionErrors(hub.sw, "inbound", "rate_limited") === 1, 5000, "rate_limited");
    await until(() => connectionErrors(hub.sw, "inbound", "handshake_timeout") === 1, 5000, "handshake_timeout");
    expect(hub.sw.handshakesInProgress).toBe(0);
    expect(hub.sw.acceptRateLimitTrackedIps).toBe(1);
    expect(nonZero(hub.sw)).toEqual({ "inbound/rate_limited": 1, "inbound/handshake_timeout": 1 });
  });

  it("a socket arriving while the concurrent-handshake limit is reached is too_many_handshakes", async () => {
    const hub = await node({ maxConcurrentHandshakes: 1, handshakeTimeoutMs: 5000 });
    silentSocket(hub);
    await until(() => hub.sw.handshakesInProgress === 1, 5000, "a handshake in progress");
    silentSocket(hub);
    await until(() => connectionErrors(hub.sw, "inbound", "too_many_handshakes") === 1, 5000, "too_many_handshakes");
    expect(nonZero(hub.sw)).toEqual({ "inbound/too_many_handshakes": 1 });
  });

  it("a second connection from a connected peer's IP is duplicate_ip when duplicate IPs are not allowed", async () => {
    const hub = await node({ allowDuplicateIp: false });
    const other = await node();
    await other.sw.dialPeerWithAddress(hub.address);
    await until(() => hub.sw.peers().size === 1, 5000, "the first peer");
    silentSocket(hub);
    await until(() => connectionErrors(hub.sw, "inbound", "duplicate_ip") === 1, 5000, "duplicate_ip");
    expect(nonZero(hub.sw)).toEqual({ "inbound/duplicate_ip": 1 });
  });

  it("a node of another network is incompatible, on both sides", async () => {
    const hub = await node();
    const stranger = await node({ network: "another-chain" });
    await expect(stranger.sw.dialPeerWithAddress(hub.address)).rejects.toThrow(/incompatible/);
    expect(nonZero(stranger.sw)).toEqual({ "outbound/incompatible": 1 });
    await until(() => connectionErrors(hub.sw, "inbound", "incompatible") === 1, 5000, "the hub's count");
    expect(nonZero(hub.sw)).toEqual({ "inbound/incompatible": 1 });
  });

  it("a dial that reaches another node than the ID dialed is wrong_id; a closed port is dial_failed", async () => {
    const hub = await node();
    const dialer = await node();
    const impostorId = generateNodeKey().id;
    await expect(dialer.sw.dialPeerWithAddress(`${impostorId}@127.0.0.1:${port(hub)}`)).rejects.toThrow(/authenticated as/);
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const closedPort = (closed.address() as { port: number }).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(dialer.sw.dialPeerWithAddress(`${hub.key.id}@127.0.0.1:${closedPort}`)).rejects.toThrow(/dial/);
    expect(nonZero(dialer.sw)).toEqual({ "outbound/wrong_id": 1, "outbound/dial_failed": 1 });
  });

  it("a peer over max_num_inbound_peers is inbound_limit", async () => {
    const hub = await node({ maxNumInboundPeers: 0 });
    const other = await node();
    await other.sw.dialPeerWithAddress(hub.address).catch(() => undefined);
    await until(() => connectionErrors(hub.sw, "inbound", "inbound_limit") === 1, 5000, "inbound_limit");
    expect(hub.sw.peers().size).toBe(0);
  });
});

describe("peer errors, counted by code", () => {
  it("counts a peer stopped by a reactor, and one whose remote closed the connection", async () => {
    const hub = await node();
    const a = await node();
    const b = await node();
    await a.sw.dialPeerWithAddress(hub.address);
    await b.sw.dialPeerWithAddress(hub.address);
    await until(() => hub.sw.peers().size === 2, 5000, "two peers");
    const peerA = hub.sw.peers().get(a.key.id);
    if (peerA === undefined) throw new Error("no peer A");
    hub.sw.stopPeerForError(peerA, new Error("misbehaved"));
    expect(peerErrors(hub.sw, "stopped_by_reactor")).toBe(1);
    const peerB = b.sw.peers().get(hub.key.id);
    if (peerB === undefined) throw new Error("no peer B");
    b.sw.stopPeerGracefully(peerB);
    await until(() => hub.sw.peers().size === 0, 5000, "the hub to drop B");
    expect(nonZero(hub.sw)).toEqual({ stopped_by_reactor: 1, connection_closed: 1 });
  });

  it("counts a peer that sends on a channel we do not have as unknown_channel", async () => {
    const hub = await node();
    const key = generateNodeKey();
    const info = peerNodeInfo(key, { channels: [0x40, 0x99], moniker: "odd" });
    const transport = new Transport({ nodeKey: key, nodeInfo: () => info, logger: silentLogger });
    const up = await transport.dial({ id: hub.key.id, host: "127.0.0.1", port: port(hub) });
    const mconn = new MConnection(up.conn, [{ id: 0x40, priority: 1 }, { id: 0x99, priority: 1 }], { onReceive: () => undefined, onError: () => undefined });
    mconns.push(mconn);
    mconn.start();
    await until(() => hub.sw.peers().size === 1, 5000, "the peer");
    expect(mconn.trySend(0x99, Uint8Array.of(1, 2, 3))).toBe(true);
    await until(() => hub.sw.peers().size === 0, 5000, "the hub to drop it");
    expect(nonZero(hub.sw)).toEqual({ unknown_channel: 1 });
  });
});

describe("receive buffers of a paused connection", () => {
  it("fill from the top down while a reactor holds delivery, each within its documented bound, and show in the metrics", async () => {
    const hub = await node({ inboundQueueMaxMessages: 2 });
    const remote = await node();
    const toHub = await remote.sw.dialPeerWithAddress(hub.address);
    await until(() => hub.sw.peers().size === 1, 5000, "the peer");
    const peer = hub.sw.peers().get(remote.key.id);
    if (peer === undefined) throw new Error("no peer");
    let release!: () => void;
    hub.reactor.hold = new Promise<void>((r) => (release = r));
    // Far more than the node's buffers hold: the rest waits in the kernel and in the remote's queues.
    const sending = (async () => {
      for (let i = 0; i < 2000 && toHub.isRunning(); i++) await toHub.send(0x40, new Uint8Array(1000).fill(i & 0xff), { timeoutMs: 100 });
    })();
    await until(() => peer.status().buffers.receive.socket > 0, 10_000, "bytes waiting in the socket's buffer");
    const hwm = getDefaultHighWaterMark(false);
    const socketRead = 64 * 1024;
    const b = peer.status().buffers.receive;
    expect(peer.status().receivePaused).toBe(true);
    expect(b.socket).toBeLessThanOrEqual(hwm + socketRead);
    expect(b.secretConnection).toBeGreaterThanOrEqual(hwm);
    expect(b.secretConnection).toBeLessThanOrEqual(hwm + socketRead);
    expect(b.mconnection).toBeGreaterThan(0);
    expect(b.mconnection).toBeLessThanOrEqual(socketRead);
    expect(b.reassembly).toBe(0); // 1000-byte messages fit in one packet

    const metrics = createPrometheusMetrics({ defaultMetrics: false });
    metrics.observeSwitch(hub.sw);
    const text = await metrics.scrape();
    const line = (buffer: string): number =>
      Number(text.split("\n").find((l) => l.startsWith(`cometbft_p2p_peer_receive_buffer_bytes{peer_id="${peer.id}",buffer="${buffer}"}`))?.split(" ")[1]);
    expect(line("socket")).toBeGreaterThan(0);
    expect(line("socket")).toBeLessThanOrEqual(hwm + socketRead);
    expect(line("secret_connection")).toBeGreaterThan(0);

    hub.reactor.hold = null;
    release();
    await sending;
  });
});
