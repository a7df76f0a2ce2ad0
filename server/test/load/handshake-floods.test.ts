/**
 * Honest peers under handshake floods (handshake-slots.ts).
 *
 * One Switch with CometBFT's handshake timeout (20 s) and the default cap of
 * 64 handshakes in progress. Each flood runs from attacker addresses in
 * 127.0.0.0/8 (every one its own /24: the worst case for per-network shares),
 * keeps its pressure up by reconnecting whatever the node closes, and,
 * once it holds the slots, 10 honest peers from fresh addresses connect one
 * after another (a real SecretConnection handshake and NodeInfo exchange,
 * then the Switch adds the peer). Target: at least 9 of 10 are added.
 *
 * - half-open: 30 addresses × 10 connections that never send a byte;
 * - slow senders: 20 addresses × 5 connections that send one byte of their
 *   handshake every 500 ms (alive, never finishing);
 * - sustained hold: each of 30 addresses opens one more connection every
 *   second and holds it, silent, until the node closes it.
 *
 * Against one cap shared by every address (before handshake-slots.ts) each
 * of these locked honest peers out until attackers' handshakes timed out.
 */
import { type Socket, connect } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import { upgradeConnection } from "../../src/p2p/transport.js";
import { type TestNode, nodeFixtures, peerNodeInfo, until } from "../support/nodes.js";

const HONEST_ATTEMPTS = 10;
const HONEST_REQUIRED = 9;
const HANDSHAKE_TIMEOUT_MS = 20_000;
const MAX_HANDSHAKES = 64;

const { node, cleanup } = nodeFixtures();
afterEach(cleanup);

interface Flood {
  stop(): void;
  /** Connections the attackers opened. */
  readonly opened: () => number;
}

/**
 * Keeps `perAddress` connections open from each of `addresses` (reopening
 * what closes), each started with `onOpen`; with `holdEveryMs`, also opens
 * one more per address at that period and never closes any itself.
 */
function flood(port: number, addresses: readonly string[], perAddress: number, onOpen: (s: Socket) => void, holdEveryMs?: number): Flood {
  let stopped = false;
  let opened = 0;
  const sockets = new Set<Socket>();
  const open = (local: string, keep: boolean): void => {
    if (stopped) return;
    opened++;
    const s = connect({ host: "127.0.0.1", port, localAddress: local });
    sockets.add(s);
    s.on("error", () => undefined);
    s.on("connect", () => onOpen(s));
    s.on("close", () => {
      sockets.delete(s);
      // Reopen after a short pause, as a flooder that keeps its pressure up would.
      if (keep) setTimeout(() => open(local, true), 50);
    });
  };
  for (const a of addresses) for (let i = 0; i < perAddress; i++) open(a, true);
  const timer = holdEveryMs === undefined ? null : setInterval(() => {
    for (const a of addresses) open(a, false);
  }, holdEveryMs);
  return {
    stop: () => {
      stopped = true;
      if (timer !== null) clearInterval(timer);
      for (const s of sockets) s.destroy();
    },
    opened: () => opened,
  };
}

/** An honest peer from `local`: true if the node added it within the handshake timeout. */
async function honestPeer(target: TestNode, local: string): Promise<boolean> {
  const key = generateNodeKey();
  const info = peerNodeInfo(key, { moniker: "honest" });
  const port = target.sw.listenAddress?.port ?? 0;
  const socket = await new Promise<Socket | null>((resolve) => {
    const s = connect({ host: "127.0.0.1", port, localAddress: local });
    s.once("connect", () => resolve(s));
    s.once("error", () => resolve(null));
  });
  if (socket === null) return false;
  try {
    const up = await upgradeConnection(socket, { nodeKey: key, ourNodeInfo: info, handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, expectedId: target.key.id });
    try {
      await until(() => target.sw.peers().get(key.id) !== undefined, 5_000, "the node to add the honest peer");
      return true;
    } catch {
      return false;
    } finally {
      up.conn.destroy();
    }
  } catch {
    return false;
  }
}

async function honestDuring(target: TestNode, fresh: (i: number) => string): Promise<number> {
  let ok = 0;
  for (let i = 0; i < HONEST_ATTEMPTS; i++) {
    if (await honestPeer(target, fresh(i))) ok++;
    await new Promise((r) => setTimeout(r, 200));
  }
  return ok;
}

const attackers = (n: number, block: number): string[] => Array.from({ length: n }, (_, i) => `127.${block}.${i}.1`);

async function hostile(persistentHost?: string): Promise<TestNode> {
  return node({
    handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
    maxConcurrentHandshakes: MAX_HANDSHAKES,
    maxNumInboundPeers: 100,
    ...(persistentHost === undefined ? {} : { persistentPeers: [{ id: generateNodeKey().id, host: persistentHost, port: 1 }] }),
  });
}

describe("honest peers during handshake floods", () => {
  it("half-open connections: 300 from 30 addresses", async () => {
    const target = await hostile();
    const f = flood(target.sw.listenAddress?.port ?? 0, attackers(30, 10), 10, () => undefined);
    try {
      await until(() => target.sw.handshakesInProgress >= MAX_HANDSHAKES - 8, 10_000, "the flood to hold the ordinary slots");
      const ok = await honestDuring(target, (i) => `127.200.${i}.1`);
      expect(target.sw.handshakesInProgress).toBeLessThanOrEqual(MAX_HANDSHAKES);
      expect(ok, `${ok} of ${HONEST_ATTEMPTS} honest peers were added`).toBeGreaterThanOrEqual(HONEST_REQUIRED);
    } finally {
      f.stop();
    }
  });

  it("slow senders: 100 from 20 addresses", async () => {
    const target = await hostile();
    const timers = new Set<NodeJS.Timeout>();
    const f = flood(target.sw.listenAddress?.port ?? 0, attackers(20, 20), 5, (s) => {
      // The start of a plausible handshake (an ephemeral key's length prefix), a byte at a time.
      const t = setInterval(() => {
        if (s.destroyed) clearInterval(t);
        else s.write(Uint8Array.of(0x22));
      }, 500);
      timers.add(t);
    });
    try {
      await until(() => target.sw.handshakesInProgress >= MAX_HANDSHAKES - 8, 10_000, "the flood to hold the ordinary slots");
      const ok = await honestDuring(target, (i) => `127.201.${i}.1`);
      expect(ok, `${ok} of ${HONEST_ATTEMPTS} honest peers were added`).toBeGreaterThanOrEqual(HONEST_REQUIRED);
    } finally {
      f.stop();
      for (const t of timers) clearInterval(t);
    }
  });

  it("a sustained hold: one more connection per second from each of 30 addresses", async () => {
    const target = await hostile();
    const f = flood(target.sw.listenAddress?.port ?? 0, attackers(30, 30), 0, () => undefined, 1_000);
    try {
      await until(() => target.sw.handshakesInProgress >= MAX_HANDSHAKES - 8, 10_000, "the hold to fill the ordinary slots");
      const ok = await honestDuring(target, (i) => `127.202.${i}.1`);
      expect(f.opened()).toBeGreaterThan(60);
      expect(ok, `${ok} of ${HONEST_ATTEMPTS} honest peers were added`).toBeGreaterThanOrEqual(HONEST_REQUIRED);
    } finally {
      f.stop();
    }
  });

  it("the slots kept for known peers: with every ordinary slot young and one per network, a persistent peer's host gets in, a fresh address does not", async () => {
    const target = await hostile("127.77.0.1");
    // 56 networks, one silent handshake each: no network holds more than another, none is stalled yet.
    const f = flood(target.sw.listenAddress?.port ?? 0, Array.from({ length: MAX_HANDSHAKES - 8 }, (_, i) => `127.${60 + (i >> 4)}.${i & 15}.1`), 1, () => undefined);
    try {
      await until(() => target.sw.handshakesInProgress >= MAX_HANDSHAKES - 8, 2_000, "the flood to hold the ordinary slots");
      expect(await honestPeer(target, "127.203.0.1")).toBe(false);
      expect(await honestPeer(target, "127.77.0.1")).toBe(true);
    } finally {
      f.stop();
    }
  });
});
