/**
 * What the Switch tells an operator, read back from its log (JSON lines of the
 * real root logger): peers refused in either direction and why, a persistent
 * peer's redials, and a peer with no channel in common refused once with a
 * reason instead of a connect/drop or redial cycle.
 */
import { createServer } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { type NodeKey, generateNodeKey } from "../../src/p2p/node-key.js";
import { REJECTION_LOG_WINDOW_MS, type Switch, type SwitchConfig, formatDelay } from "../../src/p2p/switch.js";
import { type CapturedLogs, type LogRecord, captureLogs, duplicateKeys } from "../support/log-capture.js";
import { testSwitch, until } from "../support/nodes.js";
import { RecordingReactor } from "../support/recording-reactor.js";

interface LoggedNode {
  readonly sw: Switch;
  readonly key: NodeKey;
  readonly logs: CapturedLogs;
  readonly reactor: RecordingReactor | null;
  /** id@127.0.0.1:port */
  readonly address: string;
}

const started: LoggedNode[] = [];

/** A started Switch with a capturing logger and a recording reactor on `channels` (none: no reactor at all). */
async function node(channels: readonly number[], config: Partial<SwitchConfig> = {}): Promise<LoggedNode> {
  const key = generateNodeKey();
  const logs = captureLogs("debug");
  const sw = testSwitch(key, config, logs.logger);
  const reactor = channels.length === 0 ? null : new RecordingReactor(channels.map((id) => ({ id, priority: 1 })));
  if (reactor !== null) sw.addReactor("recorder", reactor);
  await sw.start();
  const n = { sw, key, logs, reactor, address: `${key.id}@127.0.0.1:${sw.listenAddress?.port ?? 0}` };
  started.push(n);
  return n;
}

afterEach(async () => {
  const nodes = started.splice(0);
  await Promise.all(nodes.map((n) => n.sw.stop()));
  // No line repeats a key (a child logger's binding written again by a call).
  for (const n of nodes) {
    for (const line of n.logs.lines) expect(duplicateKeys(line), line).toEqual([]);
  }
});

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, "127.0.0.1", resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}

const addrOf = (n: LoggedNode): string => `127.0.0.1:${n.sw.listenAddress?.port ?? 0}`;

async function expectDialRefused(from: LoggedNode, address: string): Promise<void> {
  await expect(from.sw.dialPeerWithAddress(address)).rejects.toThrow(/connection rejected/);
}

describe("a refused peer is logged at info, inbound and outbound, with the reason", () => {
  it("wrong network", async () => {
    const a = await node([0x40]);
    const b = await node([0x40], { network: "other-chain" });
    await expectDialRefused(b, a.address);
    await until(() => a.logs.find("inbound peer rejected").length > 0, 5000, "A's line");
    expect(a.logs.find("inbound peer rejected")).toEqual([
      expect.objectContaining({
        level: "info",
        module: "switch",
        peer_id: b.key.id,
        reason: "wrong_network",
        err: 'incompatible peer: wrong network: the peer is on "other-chain", we are on "test-chain"',
        addr: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as string,
      }),
    ]);
    expect(b.logs.find("outbound peer rejected")).toEqual([
      expect.objectContaining({
        level: "info",
        module: "switch",
        peer_id: a.key.id,
        addr: a.address,
        reason: "wrong_network",
        err: 'incompatible peer: wrong network: the peer is on "test-chain", we are on "other-chain"',
      }),
    ]);
  });

  it("no channel in common", async () => {
    const a = await node([0x70]);
    const b = await node([0x71]);
    await expectDialRefused(b, a.address);
    await until(() => a.logs.find("inbound peer rejected").length > 0, 5000, "A's line");
    expect(a.logs.find("inbound peer rejected", "info")[0]).toMatchObject({ peer_id: b.key.id, reason: "no_common_channel", err: "incompatible peer: no channel in common: the peer has 0x71, we have 0x70" });
    expect(b.logs.find("outbound peer rejected", "info")[0]).toMatchObject({ peer_id: a.key.id, reason: "no_common_channel", err: "incompatible peer: no channel in common: the peer has 0x70, we have 0x71" });
  });

  it("ID mismatch: the node at the address is not the one dialed", async () => {
    const a = await node([0x40]);
    const b = await node([0x40]);
    const wrongId = generateNodeKey().id;
    await expectDialRefused(b, `${wrongId}@${addrOf(a)}`);
    expect(b.logs.find("outbound peer rejected", "info")).toEqual([
      expect.objectContaining({ peer_id: a.key.id, addr: `${wrongId}@${addrOf(a)}`, reason: "wrong_id", err: `dialed ${wrongId} but the peer authenticated as ${a.key.id}` }),
    ]);
    // A saw the dialer hang up in the middle of the handshake.
    await until(() => a.logs.find("inbound peer rejected").length > 0, 5000, "A's line");
    expect(a.logs.find("inbound peer rejected", "info")[0]).toMatchObject({ peer_id: b.key.id });
  });

  it("max_num_inbound_peers reached", async () => {
    const a = await node([0x40], { maxNumInboundPeers: 0 });
    const b = await node([0x40]);
    await b.sw.dialPeerWithAddress(a.address).catch(() => undefined);
    await until(() => a.logs.find("inbound peer rejected").length > 0, 5000, "A's line");
    expect(a.logs.find("inbound peer rejected")[0]).toMatchObject({ level: "info", peer_id: b.key.id, reason: "inbound_limit", err: "max_num_inbound_peers = 0 reached" });
  });

  it("before the handshake too: a second connection from an IP that already has a peer (allow_duplicate_ip off)", async () => {
    const a = await node([0x40], { allowDuplicateIp: false });
    const b = await node([0x40]);
    const c = await node([0x40]);
    await b.sw.dialPeerWithAddress(a.address);
    await c.sw.dialPeerWithAddress(a.address).catch(() => undefined);
    await until(() => a.logs.find("inbound peer rejected").length > 0, 5000, "A's line");
    const [line] = a.logs.find("inbound peer rejected");
    expect(line).toMatchObject({ level: "info", reason: "duplicate_ip", err: "a peer at 127.0.0.1 is already connected (allow_duplicate_ip is off)" });
    expect(line).not.toHaveProperty("peer_id");
  });

  it("the same refusal again within the window goes at debug, not at info", async () => {
    const a = await node([0x70]);
    const b = await node([0x71]);
    for (let i = 0; i < 3; i++) await expectDialRefused(b, a.address);
    await until(() => a.logs.find("inbound peer rejected").length === 3, 5000, "A's three lines");
    expect(a.logs.find("inbound peer rejected").map((r) => r.level)).toEqual(["info", "debug", "debug"]);
    expect(b.logs.find("outbound peer rejected").map((r) => r.level)).toEqual(["info", "debug", "debug"]);
    expect(REJECTION_LOG_WINDOW_MS).toBe(10 * 60_000);
  });
});

describe("a persistent peer's redials", () => {
  it("each wait is logged with the attempt number, the delay and the last error; then the backoff, then giving up", async () => {
    const port = await closedPort();
    const missing = generateNodeKey().id;
    const a = await node([0x40], {
      persistentPeers: [{ id: missing, host: "127.0.0.1", port }],
      reconnect: { attempts: 2, intervalMs: 100, randomizerMs: 0, backoffAttempts: 2, backoffBaseSeconds: 0.2 },
    });
    await until(() => a.logs.find("persistent peer: giving up redialling").length > 0, 10_000, "giving up");
    const lines = a.logs.records().filter((r) => /redial|backoff/.test(r.msg));
    const shape = (r: LogRecord): unknown[] => [r.level, r.msg, r["attempt"] ?? r["attempts"], r["retry_in"] ?? null];
    expect(lines.map(shape)).toEqual([
      ["info", "redialling persistent peer", 1, "100ms"],
      ["info", "redialling persistent peer", 2, "100ms"],
      ["warn", "persistent peer still unreachable: switching to exponential backoff", 2, null],
      ["info", "redialling persistent peer", 3, "200ms"],
      ["info", "redialling persistent peer", 4, "40ms"],
      ["error", "persistent peer: giving up redialling", 4, null],
    ]);
    for (const r of lines) expect(r).toMatchObject({ peer_id: missing, addr: `${missing}@127.0.0.1:${port}`, err: expect.stringContaining("ECONNREFUSED") as string });
  });

  it("a peer lost after it connected is redialled, and the first line says why it went", async () => {
    const b = await node([0x40]);
    const a = await node([0x40], { persistentPeers: [{ id: b.key.id, host: "127.0.0.1", port: b.sw.listenAddress?.port ?? 0 }], reconnect: { intervalMs: 50, randomizerMs: 0 } });
    await until(() => a.sw.peers().has(b.key.id) && b.sw.peers().has(a.key.id), 5000, "A and B connected");
    const peer = b.sw.peers().get(a.key.id)!;
    b.sw.stopPeerForError(peer, new Error("test says go"));
    await until(() => a.logs.find("redialling persistent peer").length > 0, 5000, "a redial line");
    expect(a.logs.find("redialling persistent peer")[0]).toMatchObject({ level: "info", peer_id: b.key.id, attempt: 1, retry_in: "50ms", err: expect.stringMatching(/EOF|closed/) as string });
    await until(() => a.sw.peers().has(b.key.id), 5000, "A reconnected");
  });

  it("a persistent peer with no channel in common is refused once with the reason, then redialled with exponential backoff, not every few seconds", async () => {
    const b = await node([0x71]);
    const a = await node([0x70], {
      persistentPeers: [{ id: b.key.id, host: "127.0.0.1", port: b.sw.listenAddress?.port ?? 0 }],
      // A fixed interval of a minute: had A kept to it, this test would time out.
      reconnect: { attempts: 20, intervalMs: 60_000, randomizerMs: 0, backoffAttempts: 2, backoffBaseSeconds: 0.1 },
    });
    await until(() => a.logs.find("persistent peer: giving up redialling").length > 0, 10_000, "giving up");
    expect(a.logs.find(/^persistent peer is incompatible/)).toEqual([
      expect.objectContaining({ level: "warn", peer_id: b.key.id, reason: "no_common_channel", err: "incompatible peer: no channel in common: the peer has 0x71, we have 0x70" }),
    ]);
    expect(a.logs.find("redialling persistent peer").map((r) => [r["attempt"], r["retry_in"]])).toEqual([
      [1, "100ms"],
      [2, "10ms"],
    ]);
    // Three dials in all (the first and two redials), each refused: at info once on each side.
    await until(() => b.logs.find("inbound peer rejected").length === 3, 5000, "B's three refusals");
    expect(a.logs.find("outbound peer rejected").map((r) => r.level)).toEqual(["info", "debug", "debug"]);
    expect(b.logs.find("inbound peer rejected").map((r) => r.level)).toEqual(["info", "debug", "debug"]);
    expect(a.logs.find("added peer")).toEqual([]);
  });
});

describe("a node without channels (no reactor, no PEX)", () => {
  it("refuses a peer that has channels, with the reason, instead of adding it and being dropped by it in a cycle", async () => {
    const b = await node([0x70]);
    const a = await node([], {
      persistentPeers: [{ id: b.key.id, host: "127.0.0.1", port: b.sw.listenAddress?.port ?? 0 }],
      reconnect: { attempts: 20, intervalMs: 50, randomizerMs: 0, backoffAttempts: 1, backoffBaseSeconds: 0.1 },
    });
    await until(() => a.logs.find("persistent peer: giving up redialling").length > 0, 10_000, "giving up");
    expect(a.logs.find("outbound peer rejected", "info")).toEqual([
      expect.objectContaining({ peer_id: b.key.id, reason: "no_common_channel", err: "incompatible peer: no channel in common: the peer has 0x70, we have none" }),
    ]);
    expect(a.logs.find("added peer")).toEqual([]);
    expect(a.logs.find("stopping peer for error")).toEqual([]);
    expect(b.reactor?.events.filter((e) => e.kind === "InitPeer")).toEqual([]);
    expect(a.sw.connectionErrors().find((e) => e.direction === "outbound" && e.code === "incompatible")?.count).toBe(2);
  });
});

describe("formatDelay", () => {
  it("writes milliseconds, seconds, then minutes and hours as people read them", () => {
    expect([250, 5_234, 59_949, 81_000, 3 ** 10 * 1000].map(formatDelay)).toEqual(["250ms", "5.2s", "59.9s", "1m21s", "16h24m9s"]);
  });
});
