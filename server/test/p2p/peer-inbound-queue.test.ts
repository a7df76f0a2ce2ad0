/**
 * The peer's inbound queue holds exactly the messages not yet delivered: a
 * delivered message is not kept alive by the queue, even while the queue
 * never runs empty (a reactor slower than its peer). Before issue 9 the queue
 * was an array with a moving head that kept up to 1024 delivered messages per
 * peer beyond its documented bounds; under a steady flood that was most of the
 * slow-reactor load test's memory.
 */
import { afterEach, describe, expect, it } from "vitest";
import { collectGarbage } from "../fuzz/support.js";
import { type TestNode, startNode, until } from "../support/nodes.js";

const nodes: TestNode[] = [];
afterEach(async () => {
  await Promise.all(nodes.splice(0).map((n) => n.sw.stop()));
});

const MESSAGES = 64;
const DELIVERED = 32;
const MESSAGE_BYTES = 1024;

describe("a peer's inbound queue", () => {
  it("drops its reference to each message once it is delivered, while the queue never empties", async () => {
    const hub = await startNode();
    const remote = await startNode();
    nodes.push(hub, remote);
    const toHub = await remote.sw.dialPeerWithAddress(hub.address);
    await hub.reactor.waitFor(() => hub.reactor.count("AddPeer") === 1);
    const fromRemote = hub.sw.peers().get(remote.key.id);
    if (fromRemote === undefined) throw new Error("the hub has no peer for the remote");

    // Each receive holds the peer's delivery until the test releases it; the reactor keeps only a weak reference.
    const refs: WeakRef<Uint8Array>[] = [];
    const gates: (() => void)[] = [];
    hub.reactor.onReceive = (env) => {
      refs.push(new WeakRef(env.message));
      hub.reactor.hold = new Promise<void>((resolve) => gates.push(resolve));
    };
    for (let i = 0; i < MESSAGES; i++) expect(toHub.trySend(0x40, new Uint8Array(MESSAGE_BYTES).fill(i))).toBe(true);
    await until(() => refs.length === 1 && fromRemote.status().inboundQueueMessages === MESSAGES - 1, 5000, "every message queued");

    // Deliver DELIVERED messages one at a time; the rest stay queued throughout.
    for (let i = 0; i < DELIVERED; i++) {
      gates[i]?.();
      await until(() => refs.length === i + 2, 5000, `delivery ${i + 2}`);
    }
    const status = fromRemote.status();
    expect(status.inboundQueueMessages).toBe(MESSAGES - DELIVERED - 1);
    expect(status.inboundQueueBytes).toBe((MESSAGES - DELIVERED - 1) * MESSAGE_BYTES);

    // WeakRef targets stay alive until the current job ends: collect from a later task.
    await new Promise((r) => setTimeout(r, 0));
    collectGarbage();
    const alive = refs.slice(0, DELIVERED).filter((r) => r.deref() !== undefined).length;
    expect(alive).toBe(0);

    // The rest is still delivered, in order.
    hub.reactor.onReceive = null;
    hub.reactor.hold = null;
    gates[DELIVERED]?.();
    await hub.reactor.waitFor(() => hub.reactor.received.length === MESSAGES, 5000, "the rest delivered");
    expect(hub.reactor.received.map((m) => m.message[0])).toEqual(Array.from({ length: MESSAGES }, (_, i) => i));
    expect(fromRemote.status().inboundQueueMessages).toBe(0);
    expect(fromRemote.status().inboundQueueBytes).toBe(0);
  });

  it("hands each reactor a message it owns: kept without copying, it stays intact and shares no buffer", async () => {
    const hub = await startNode();
    const remote = await startNode();
    nodes.push(hub, remote);
    const toHub = await remote.sw.dialPeerWithAddress(hub.address);
    await hub.reactor.waitFor(() => hub.reactor.count("AddPeer") === 1);
    const kept: Uint8Array[] = [];
    hub.reactor.onReceive = (env) => {
      kept.push(env.message); // no copy: the Envelope contract says the bytes are the reactor's
    };
    // Single-packet and multi-packet messages (packets carry 1024 bytes), interleaved.
    const sizes = Array.from({ length: 40 }, (_, i) => [1, 100, 1024, 1025, 5000, 70_000][i % 6] as number);
    for (const [i, size] of sizes.entries()) expect(await toHub.send(0x40, new Uint8Array(size).fill(i + 1))).toBe(true);
    await hub.reactor.waitFor(() => kept.length === sizes.length, 10_000, "every message");
    for (const [i, m] of kept.entries()) {
      expect(m.length).toBe(sizes[i]);
      expect(m.every((b) => b === i + 1)).toBe(true);
    }
    expect(new Set(kept.map((m) => m.buffer)).size).toBe(kept.length);
  });
});
