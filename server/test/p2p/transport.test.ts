/**
 * Cancelling the Transport's handshakes in progress: a dial by its caller's
 * signal, every handshake by close(). Handshakes share their signals' listeners
 * (one per signal, whatever the number of handshakes).
 */
import { getEventListeners } from "node:events";
import { type Server, type Socket, connect, createServer } from "node:net";
import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ConnectionRejectedError } from "../../src/p2p/errors.js";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import { Transport } from "../../src/p2p/transport.js";
import { peerNodeInfo } from "../support/nodes.js";

const logger = pino({ level: "silent" });
const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function transport(): Transport {
  const nodeKey = generateNodeKey();
  const info = peerNodeInfo(nodeKey, { moniker: "t" });
  const t = new Transport({ nodeKey, nodeInfo: () => info, logger, handshakeTimeoutMs: 10_000 });
  cleanups.push(() => t.close());
  return t;
}

/** A TCP server that accepts and never answers (a peer stalled in its handshake). */
async function silentPeer(): Promise<{ port: number; accepted: () => number }> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on("error", () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  );
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("no address");
  return { port: address.port, accepted: () => accepted };
}

async function until(test: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Transport: cancelling handshakes in progress", () => {
  it("dials sharing a caller's signal put one listener on it, and aborting it rejects them all with its reason", async () => {
    const t = transport();
    const peer = await silentPeer();
    const controller = new AbortController();
    const dials = Array.from({ length: 20 }, () => t.dial({ id: generateNodeKey().id, host: "127.0.0.1", port: peer.port }, controller.signal).catch((e: unknown) => e));
    await until(() => t.handshakesInProgress === 20, "20 handshakes in progress");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    const reason = new Error("switch stopping");
    controller.abort(reason);
    const errors = await Promise.all(dials);
    for (const err of errors) {
      expect(err).toBeInstanceOf(ConnectionRejectedError);
      expect((err as ConnectionRejectedError).reason).toBe("handshake_failed");
      expect((err as Error).cause).toBe(reason);
    }
    expect(t.handshakesInProgress).toBe(0);
  });

  it("a caller's signal keeps no listener once its dials are over", async () => {
    const t = transport();
    const peer = await silentPeer();
    const controller = new AbortController();
    const dial = t.dial({ id: generateNodeKey().id, host: "127.0.0.1", port: peer.port }, controller.signal).catch((e: unknown) => e);
    await until(() => t.handshakesInProgress === 1, "the handshake");
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(1);
    await t.close();
    expect(await dial).toBeInstanceOf(ConnectionRejectedError);
    expect(getEventListeners(controller.signal, "abort")).toHaveLength(0);
  });

  it("close() ends inbound handshakes in progress, reported as rejected", async () => {
    const t = transport();
    const rejected: Error[] = [];
    const { port } = await t.listen("127.0.0.1", 0, {
      onInbound: () => undefined,
      onInboundRejected: (_remote, error) => rejected.push(error),
    });
    const clients = Array.from({ length: 3 }, () => {
      const s = connect(port, "127.0.0.1");
      s.on("error", () => undefined);
      cleanups.push(() => {
        s.destroy();
      });
      return s;
    });
    await until(() => t.handshakesInProgress === clients.length, "the inbound handshakes");
    await t.close();
    await until(() => rejected.length === clients.length, "the rejections");
    for (const err of rejected) expect(err.message).toContain("transport closed");
    expect(t.handshakesInProgress).toBe(0);
  });
});
