/**
 * The flushing stop (`Switch.flushStopPeer`, CometBFT's `peer.FlushStop` then
 * `StopPeerGracefully`) over real TCP: what was queued reaches the remote
 * before the connection closes, the wait is bounded when the remote does not
 * read, and reactors see the usual grammar.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Peer } from "../../src/p2p/peer.js";
import { checkReactorTrace } from "../support/reactor-trace.js";
import { type TestNode, nodeFixtures, until } from "../support/nodes.js";

const { node, cleanup } = nodeFixtures();
afterEach(cleanup);

function bytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

async function connect(a: TestNode, b: TestNode): Promise<Peer> {
  const peer = await a.sw.dialPeerWithAddress(b.address);
  await b.reactor.waitFor(() => b.reactor.count("AddPeer", a.key.id) === 1, 5_000, "the inbound peer at b");
  return peer;
}

describe("Switch.flushStopPeer", () => {
  it("writes out a queued large message before closing, then removes the peer gracefully", async () => {
    const a = await node();
    const b = await node();
    const peer = await connect(a, b);
    const big = bytes(2 * 1024 * 1024, 7);
    const small = bytes(100, 3);
    expect(await peer.send(0x40, big)).toBe(true);
    expect(peer.trySend(0x41, small)).toBe(true);

    const done = a.sw.flushStopPeer(peer);
    // No new sends from now on; the peer stays in the set until flushed.
    expect(peer.lifecycle).toBe("flushing");
    expect(peer.trySend(0x41, small)).toBe(false);
    expect(await peer.send(0x41, small)).toBe(false);
    expect(a.sw.peers().has(b.key.id)).toBe(true);
    // Asking again changes nothing.
    void a.sw.flushStopPeer(peer);
    await done;

    expect(a.sw.peers().has(b.key.id)).toBe(false);
    expect(a.reactor.count("RemovePeer", b.key.id)).toBe(1);
    expect(a.reactor.removeReasons).toEqual([{ peerId: b.key.id, connection: peer.connectionId, reason: undefined }]);

    // b got both messages, whole, and only then saw the connection close.
    await b.reactor.waitFor(() => b.reactor.count("RemovePeer", a.key.id) === 1, 5_000, "b to see the close");
    const got = b.reactor.received.filter((r) => r.peerId === a.key.id);
    expect(got.map((r) => r.channelId).sort()).toEqual([0x40, 0x41]);
    expect(Buffer.compare(got.find((r) => r.channelId === 0x40)!.message, big)).toBe(0);
    expect(Buffer.compare(got.find((r) => r.channelId === 0x41)!.message, small)).toBe(0);

    await cleanup();
    expect(checkReactorTrace(a.reactor.events)).toEqual({ ok: true });
    expect(checkReactorTrace(b.reactor.events)).toEqual({ ok: true });
  });

  it("gives up after flushStopTimeoutMs when the remote does not read, and still removes the peer", async () => {
    const flushStopTimeoutMs = 300;
    // A send queue deep enough in bytes for the 40 MiB below (the default bounds are 16 MiB per channel).
    const a = await node({ mconn: { flushThrottleMs: 2, sendRateBytesPerSecond: 0, flushStopTimeoutMs, sendQueueMaxBytesPerChannel: 64 * 1024 * 1024, sendQueueMaxBytes: 64 * 1024 * 1024 } });
    // b's reactor never finishes a receive and its inbound queue is small: b soon stops reading the socket.
    const b = await node({ inboundQueueMaxBytes: 64 * 1024, mconn: { flushThrottleMs: 2, recvRateBytesPerSecond: 0 } });
    let release = (): void => {};
    b.reactor.hold = new Promise<void>((resolve) => {
      release = resolve;
    });
    const peer = await connect(a, b);
    // Far more than loopback socket buffers hold (a few MiB each way).
    const count = 40;
    for (let i = 0; i < count; i++) expect(peer.trySend(0x40, bytes(1024 * 1024, i))).toBe(true);
    await until(() => b.reactor.received.length > 0, 5_000, "b's first message");

    const started = Date.now();
    await a.sw.flushStopPeer(peer);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeGreaterThanOrEqual(flushStopTimeoutMs - 20);
    expect(elapsed).toBeLessThan(flushStopTimeoutMs + 2_000);
    expect(a.sw.peers().has(b.key.id)).toBe(false);
    expect(a.reactor.removeReasons).toEqual([{ peerId: b.key.id, connection: peer.connectionId, reason: undefined }]);
    expect(b.reactor.received.length).toBeLessThan(count);
    // Once b reads again it finds the connection closed.
    b.reactor.hold = null;
    release();
    await b.reactor.waitFor(() => b.reactor.count("RemovePeer", a.key.id) === 1, 5_000, "b to see the close");

    await cleanup();
    expect(checkReactorTrace(a.reactor.events)).toEqual({ ok: true });
    expect(checkReactorTrace(b.reactor.events)).toEqual({ ok: true });
  });

  it("yields to a removal that comes first: the Switch stopping during the flush", async () => {
    const a = await node({ mconn: { flushThrottleMs: 2, sendRateBytesPerSecond: 100_000 } });
    const b = await node();
    const peer = await connect(a, b);
    expect(await peer.send(0x40, bytes(1024 * 1024, 1))).toBe(true); // ~10 s at 100 kB/s
    const done = a.sw.flushStopPeer(peer);
    await a.sw.stop();
    await done;
    expect(a.reactor.count("RemovePeer", b.key.id)).toBe(1);
    expect(checkReactorTrace(a.reactor.events)).toEqual({ ok: true });
  });
});
