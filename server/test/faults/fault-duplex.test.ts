/** The fault proxy itself: deterministic plans, and each fault doing what it says. */
import net from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { FaultProxy, type FaultPlan, drawFaults, seededRng } from "../support/fault-duplex.js";
import { until } from "../support/nodes.js";

/** An echo-less sink on 127.0.0.1:0 recording, per connection, what arrived and when. */
async function sink(): Promise<{ port: number; received: { conn: number; at: number; bytes: Buffer }[]; closed: Set<number>; server: net.Server }> {
  const received: { conn: number; at: number; bytes: Buffer }[] = [];
  const closed = new Set<number>();
  let n = 0;
  const server = net.createServer((s) => {
    const id = n++;
    s.on("data", (b: Buffer) => received.push({ conn: id, at: performance.now(), bytes: b }));
    s.on("error", () => undefined);
    s.on("close", () => closed.add(id));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return { port: (server.address() as net.AddressInfo).port, received, closed, server };
}

async function connect(port: number): Promise<net.Socket> {
  const s = net.connect({ host: "127.0.0.1", port });
  s.on("error", () => undefined);
  await new Promise<void>((r) => s.once("connect", r));
  return s;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe("fault proxy", () => {
  it("draws the same faults from the same seed", () => {
    const plan: FaultPlan = { delay: { probability: 0.5, maxLatencyMs: 50, maxJitterMs: 10 }, drop: { probability: 0.2, maxAfterBytes: 1000 }, cut: { probability: 0.2, maxAfterBytes: 1000 }, reorder: { probability: 0.5, windowMs: 5 } };
    const a = Array.from({ length: 50 }, (_, i) => drawFaults(plan, seededRng(7 + i)));
    const b = Array.from({ length: 50 }, (_, i) => drawFaults(plan, seededRng(7 + i)));
    expect(a).toEqual(b);
    expect(a.some((f) => f.dropAfterBytes !== undefined)).toBe(true);
    expect(a.some((f) => f.cutAfterBytes !== undefined)).toBe(true);
    expect(a.some((f) => f.delay !== undefined)).toBe(true);
  });

  it("delays chunks and keeps their order", async () => {
    const s = await sink();
    cleanup.push(() => new Promise<void>((r) => s.server.close(() => r())));
    const proxy = await FaultProxy.start({ targetPort: s.port, seed: 1, plan: {} });
    cleanup.push(() => proxy.close());
    proxy.override(() => ({ delay: { latencyMs: 40, jitterMs: 30 } }));
    const c = await connect(proxy.port);
    const sent = performance.now();
    for (let i = 0; i < 50; i++) c.write(Buffer.from([i]));
    await until(() => s.received.reduce((n, r) => n + r.bytes.length, 0) === 50, 5000, "50 bytes");
    expect(Buffer.concat(s.received.map((r) => r.bytes))).toEqual(Buffer.from(Array.from({ length: 50 }, (_, i) => i)));
    expect((s.received[0]?.at ?? 0) - sent).toBeGreaterThanOrEqual(35);
    c.destroy();
  });

  it("cuts a connection after the planned byte, mid-chunk", async () => {
    const s = await sink();
    cleanup.push(() => new Promise<void>((r) => s.server.close(() => r())));
    const proxy = await FaultProxy.start({ targetPort: s.port, seed: 2, plan: {} });
    cleanup.push(() => proxy.close());
    proxy.override(() => ({ cutAfterBytes: 1500, cutWithReset: true }));
    const c = await connect(proxy.port);
    const closedLocally = new Promise<void>((r) => c.once("close", () => r()));
    c.write(Buffer.alloc(1000, 1));
    c.write(Buffer.alloc(1000, 2));
    await closedLocally;
    await until(() => s.closed.size === 1, 5000, "the far side to close");
    expect(s.received.reduce((n, r) => n + r.bytes.length, 0)).toBe(1500);
    expect(proxy.links[0]?.state).toBe("cut");
  });

  it("drops: stops forwarding but keeps both sides open", async () => {
    const s = await sink();
    cleanup.push(() => new Promise<void>((r) => s.server.close(() => r())));
    const proxy = await FaultProxy.start({ targetPort: s.port, seed: 3, plan: {} });
    cleanup.push(() => proxy.close());
    proxy.override(() => ({ dropAfterBytes: 10 }));
    const c = await connect(proxy.port);
    c.write(Buffer.alloc(100, 1));
    await new Promise((r) => setTimeout(r, 100));
    c.write(Buffer.alloc(100, 2));
    await new Promise((r) => setTimeout(r, 100));
    expect(s.received.reduce((n, r) => n + r.bytes.length, 0)).toBe(10);
    expect(s.closed.size).toBe(0);
    expect(c.destroyed).toBe(false);
    expect(proxy.links[0]?.state).toBe("dropped");
    c.destroy();
  });

  it("reorders writes across connections, never within one", async () => {
    const s = await sink();
    cleanup.push(() => new Promise<void>((r) => s.server.close(() => r())));
    const proxy = await FaultProxy.start({ targetPort: s.port, seed: 4, plan: { reorder: { probability: 1, windowMs: 20 } } });
    cleanup.push(() => proxy.close());
    const conns = [await connect(proxy.port), await connect(proxy.port), await connect(proxy.port)];
    await until(() => proxy.links.length === 3, 2000, "3 links");
    // In each round every connection writes, in index order, one byte tagged with the round.
    for (let round = 0; round < 20; round++) {
      conns.forEach((c, i) => c.write(Buffer.from([i * 64 + round])));
      await new Promise((r) => setTimeout(r, 25));
    }
    await until(() => s.received.reduce((n, r) => n + r.bytes.length, 0) === 60, 5000, "60 bytes");
    // Arrival order of connections differs from writing order in some rounds...
    const arrival = s.received.flatMap((r) => [...r.bytes]);
    const inversions = arrival.filter((b, i) => i > 0 && (b & 63) === ((arrival[i - 1] as number) & 63) && b >> 6 < (arrival[i - 1] as number) >> 6).length;
    expect(inversions).toBeGreaterThan(0);
    expect(proxy.shuffledWindows).toBeGreaterThan(0);
    // ...while each connection's own bytes arrive in order.
    for (let i = 0; i < 3; i++) {
      const own = arrival.filter((b) => b >> 6 === i).map((b) => b & 63);
      expect(own).toEqual(Array.from({ length: 20 }, (_, r) => r));
    }
    for (const c of conns) c.destroy();
  });
});
