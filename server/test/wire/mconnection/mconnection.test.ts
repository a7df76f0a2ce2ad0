import { afterEach, describe, expect, it } from "vitest";
import type { ChannelDescriptor } from "../../../src/wire/mconnection/channel-descriptor.js";
import { ConnectionClosedError, MConnectionStateError } from "../../../src/wire/mconnection/errors.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { FakeClock } from "./fake-clock.js";
import type { Side, Transport } from "./helpers.js";
import { RawPeer, connectedPair, createSide, pattern, ticks, waitFor } from "./helpers.js";

const MiB = 1024 * 1024;
const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function track(...sides: Side[]): void {
  cleanups.push(() => {
    for (const side of sides) side.mconn.stop();
  });
}

const CHANNELS: ChannelDescriptor[] = [
  { id: 0x40, priority: 5, sendQueueCapacity: 2, recvMessageCapacity: 4 * MiB },
  { id: 0x20, priority: 10, sendQueueCapacity: 3 },
  { id: 0x00, priority: 1, sendQueueCapacity: 1, recvMessageCapacity: 64000 },
];

const SIZES: Record<number, number[]> = {
  0x40: [0, 1, 1023, 1024, 1025, 65536, 4 * MiB, 2047, 2048, 2049],
  0x20: [1, 0, 1025, 1024, 1023, 65536, 300_000, 0, 5],
  0x00: [2, 0, 1024, 63_999, 64000, 1, 1025],
};

function messagesFor(direction: number, channelId: number): Uint8Array[] {
  return (SIZES[channelId] ?? []).map((size, k) => pattern(size, direction * 1_000_000 + channelId * 1000 + k));
}

async function sendAll(side: Side, direction: number): Promise<void> {
  await Promise.all(
    CHANNELS.map(async ({ id }) => {
      for (const message of messagesFor(direction, id)) {
        // Each send waits for queue room; none may time out.
        expect(await side.mconn.send(id, message, { timeoutMs: 30_000 })).toBe(true);
      }
    }),
  );
}

function expectReceivedAll(side: Side, direction: number): void {
  for (const { id } of CHANNELS) {
    const expected = messagesFor(direction, id);
    const got = side.received.get(id) ?? [];
    expect(got.map((m) => m.length)).toEqual(expected.map((m) => m.length));
    got.forEach((message, k) => {
      expect(Buffer.compare(message, expected[k]!)).toBe(0);
    });
  }
}

describe.each<Transport>(["duplex pair", "tcp"])("two MConnections over a %s", (transport) => {
  it("carries messages of every size on several channels, both ways at once, intact and in order", async () => {
    const [connA, connB] = await connectedPair(transport);
    const config = { flushThrottleMs: 10, sendRateBytesPerSecond: 0, recvRateBytesPerSecond: 0 };
    const a = createSide(connA, CHANNELS, config);
    const b = createSide(connB, CHANNELS, config);
    track(a, b);
    a.mconn.start();
    b.mconn.start();
    await Promise.all([sendAll(a, 1), sendAll(b, 2)]);
    const total = (dir: number): number => CHANNELS.reduce((n, { id }) => n + messagesFor(dir, id).length, 0);
    await waitFor(() => a.log.length === total(2) && b.log.length === total(1), "all messages");
    expectReceivedAll(b, 1);
    expectReceivedAll(a, 2);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);

    // Counters agree across the two ends.
    const sa = a.mconn.status();
    const sb = b.mconn.status();
    for (let i = 0; i < CHANNELS.length; i++) {
      expect(sa.channels[i]!.bytesSent).toBe(sb.channels[i]!.bytesReceived);
      expect(sb.channels[i]!.bytesSent).toBe(sa.channels[i]!.bytesReceived);
      expect(sa.channels[i]!.messagesSent).toBe(sb.channels[i]!.messagesReceived);
      expect(sa.channels[i]!.sendQueueSize).toBe(0);
    }
    expect(sa.sendMonitor.bytes).toBe(sb.recvMonitor.bytes);
    expect(sb.sendMonitor.bytes).toBe(sa.recvMonitor.bytes);
  });

  it("flushStop delivers everything queued, then closes", async () => {
    const [connA, connB] = await connectedPair(transport);
    const channels = [{ id: 1, priority: 1, sendQueueCapacity: 10 }];
    const a = createSide(connA, channels, { sendRateBytesPerSecond: 0 });
    const b = createSide(connB, channels, { recvRateBytesPerSecond: 0 });
    track(a, b);
    a.mconn.start();
    b.mconn.start();
    const messages = Array.from({ length: 10 }, (_, k) => pattern(100_000 + k, k));
    for (const m of messages) expect(a.mconn.trySend(1, m)).toBe(true);
    const stopped = a.mconn.flushStop();
    expect(a.mconn.isRunning).toBe(false);
    expect(a.mconn.trySend(1, messages[0]!)).toBe(false);
    await stopped;
    expect(a.mconn.currentState).toBe("stopped");
    await waitFor(() => b.errors.length > 0, "the remote to see the close");
    const got = b.received.get(1) ?? [];
    expect(got).toHaveLength(messages.length);
    got.forEach((m, k) => {
      expect(Buffer.compare(m, messages[k]!)).toBe(0);
    });
    expect(b.errors).toHaveLength(1);
    expect(b.errors[0]).toBeInstanceOf(ConnectionClosedError);
    expect(a.errors).toEqual([]);
    expect(connA.destroyed).toBe(true);
  });
});

describe("MConnection lifecycle", () => {
  it("refuses to send before start, after stop, and on unknown channels", async () => {
    const [connA] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1 }]);
    expect(a.mconn.trySend(1, Uint8Array.of(1))).toBe(false);
    expect(await a.mconn.send(1, Uint8Array.of(1))).toBe(false);
    a.mconn.start();
    expect(() => a.mconn.start()).toThrow(MConnectionStateError);
    expect(a.mconn.isRunning).toBe(true);
    expect(a.mconn.trySend(2, Uint8Array.of(1))).toBe(false);
    expect(a.mconn.trySend(256, Uint8Array.of(1))).toBe(false);
    expect(a.mconn.trySend(-1, Uint8Array.of(1))).toBe(false);
    expect(await a.mconn.send(2, Uint8Array.of(1))).toBe(false);
    expect(a.mconn.canSend(2)).toBe(false);
    expect(a.mconn.canSend(1)).toBe(true);
    a.mconn.stop();
    a.mconn.stop();
    expect(a.mconn.isRunning).toBe(false);
    expect(a.mconn.trySend(1, Uint8Array.of(1))).toBe(false);
    expect(await a.mconn.send(1, Uint8Array.of(1))).toBe(false);
    expect(connA.destroyed).toBe(true);
    expect(a.errors).toEqual([]); // stop() is not an error
  });

  it("reports a connection closed before start", async () => {
    const [connA, connB] = createDuplexPair();
    connB.destroy();
    await ticks();
    const a = createSide(connA, [{ id: 1, priority: 1 }]);
    a.mconn.start();
    await waitFor(() => a.errors.length === 1, "the error");
    expect(a.errors[0]).toBeInstanceOf(ConnectionClosedError);
    expect(a.mconn.isRunning).toBe(false);
  });

  it("flushStop gives up after flushStopTimeoutMs when the remote does not read", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1 }], { flushStopTimeoutMs: 3000, sendRateBytesPerSecond: 0 }, { clock });
    const raw = new RawPeer(connB, false);
    a.mconn.start();
    expect(a.mconn.trySend(1, new Uint8Array(1_000_000))).toBe(true);
    let stopped = false;
    void a.mconn.flushStop().then(() => {
      stopped = true;
    });
    expect(a.mconn.flushStop()).toBeInstanceOf(Promise);
    await ticks(50);
    expect(stopped).toBe(false);
    expect(a.mconn.currentState).toBe("flushing");
    clock.advance(3000);
    await ticks();
    expect(stopped).toBe(true);
    expect(a.mconn.currentState).toBe("stopped");
    expect(connA.destroyed).toBe(true);
    expect(clock.pendingTimers).toBe(0);
    expect(a.errors).toEqual([]);
    expect(raw.bytes).toBe(0);
  });

  it("flushStop ends our side, then reads and drops until the remote closes, and stops without an error", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1 }], { flushStopTimeoutMs: 3000, sendRateBytesPerSecond: 0, flushThrottleMs: 0 }, { clock });
    const raw = new RawPeer(connB);
    let remoteEnded = false;
    connB.on("end", () => {
      remoteEnded = true;
    });
    a.mconn.start();
    expect(a.mconn.trySend(1, new Uint8Array(5000))).toBe(true);
    let stopped = false;
    void a.mconn.flushStop().then(() => {
      stopped = true;
    });
    await waitFor(() => remoteEnded, "our end to reach the remote");
    expect(raw.packets.filter((p) => p.kind === "msg")).toHaveLength(5); // 5000 bytes in 1024-byte packets
    // Still open: the remote may still be sending. Its bytes are read and dropped (a ping is not answered).
    expect(stopped).toBe(false);
    raw.write(Uint8Array.of(0x02, 0x0a, 0x00)); // a ping
    await ticks(20);
    expect(stopped).toBe(false);
    expect(a.mconn.status().recvBufferedBytes).toBe(0);
    connB.end(); // the remote closes in turn
    await waitFor(() => stopped, "the stop");
    expect(a.mconn.currentState).toBe("stopped");
    expect(a.errors).toEqual([]);
    expect(clock.pendingTimers).toBe(0);
    expect(raw.count("pong")).toBe(0);
  });

  it("leaves no timer armed after stop", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1 }], { sendRateBytesPerSecond: 100 }, { clock });
    const raw = new RawPeer(connB);
    a.mconn.start();
    expect(clock.pendingTimers).toBeGreaterThan(0);
    expect(a.mconn.trySend(1, new Uint8Array(20_000))).toBe(true);
    await ticks(); // one batch goes out, then the rate limit holds the sender
    expect(a.mconn.trySend(1, new Uint8Array(10))).toBe(true);
    const waiting = a.mconn.send(1, new Uint8Array(10));
    await ticks();
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(1);
    a.mconn.stop();
    expect(await waiting).toBe(false);
    expect(clock.pendingTimers).toBe(0);
    await ticks();
    expect(raw.bytes).toBe(0); // nothing was flushed: stop() does not flush
  });
});

describe("MConnection send queue", () => {
  it("trySend fails when the queue is full, and send resolves once room appears", async () => {
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1, sendQueueCapacity: 1 }], { flushThrottleMs: 1 });
    const b = createSide(connB, [{ id: 1, priority: 1 }]);
    track(a, b);
    a.mconn.start();
    b.mconn.start();
    expect(a.mconn.trySend(1, Uint8Array.of(1))).toBe(true);
    // The send routine has not run yet: the one slot is taken.
    expect(a.mconn.canSend(1)).toBe(false);
    expect(a.mconn.trySend(1, Uint8Array.of(2))).toBe(false);
    expect(a.mconn.status().channels[0]!.sendQueueSize).toBe(1);
    const second = a.mconn.send(1, Uint8Array.of(3));
    const third = a.mconn.send(1, Uint8Array.of(4));
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(2);
    expect(await second).toBe(true);
    expect(await third).toBe(true);
    await waitFor(() => b.log.length === 3, "three messages");
    expect(b.log.map((e) => e.message[0])).toEqual([1, 3, 4]);
  });

  it("send waits and times out while backpressure keeps the queue full; memory stays bounded", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1, sendQueueCapacity: 2 }], { sendRateBytesPerSecond: 0 }, { clock });
    const raw = new RawPeer(connB, false); // does not read
    track(a);
    a.mconn.start();
    const big = pattern(1_000_000, 1);
    expect(a.mconn.trySend(1, big)).toBe(true);
    await waitFor(() => a.mconn.status().sendMonitor.bytes > 0, "the sender to start");
    expect(a.mconn.trySend(1, pattern(10, 2))).toBe(true);
    expect(a.mconn.trySend(1, pattern(10, 3))).toBe(true);
    expect(a.mconn.trySend(1, pattern(10, 4))).toBe(false);
    await ticks(50);
    // The sender stopped at the duplex's backpressure: one write buffer beyond its high-water mark.
    const sent = a.mconn.status().sendMonitor.bytes;
    expect(sent).toBeGreaterThan(0);
    expect(sent).toBeLessThanOrEqual(65_536 + connA.writableHighWaterMark + 1036 * 10);
    expect(connA.writableLength).toBeLessThanOrEqual(65_536 + connA.writableHighWaterMark);

    const waiting = a.mconn.send(1, pattern(10, 5), { timeoutMs: 500 });
    clock.advance(499);
    await ticks();
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(1);
    clock.advance(1);
    expect(await waiting).toBe(false);
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(0);

    // Once the remote reads, everything flows again.
    raw.startReading();
    for (let i = 0; i < 200 && raw.count("msg") < 977 + 2; i++) {
      clock.advance(100); // flush throttle
      await ticks(20);
    }
    const data = raw.packets.flatMap((p) => (p.kind === "msg" ? [p] : []));
    expect(data.filter((p) => p.eof)).toHaveLength(3);
    expect(Buffer.concat(data.slice(0, 977).map((p) => p.data)).equals(Buffer.from(big))).toBe(true);
  });

  it("bounds each channel's queue and the connection's in bytes: trySend fails, send waits in order, and room returns as messages leave", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const a = createSide(
      connA,
      [{ id: 1, priority: 1, sendQueueCapacity: 100 }, { id: 2, priority: 1, sendQueueCapacity: 100 }],
      { sendRateBytesPerSecond: 0, sendQueueMaxBytesPerChannel: 3 * MiB, sendQueueMaxBytes: 4 * MiB },
      { clock },
    );
    const raw = new RawPeer(connB, false); // does not read: what is queued stays queued
    track(a);
    a.mconn.start();
    const bytesOf = (id: number): number => a.mconn.status().channels.find((c) => c.id === id)!.sendQueueBytes;
    // A message larger than the channel's bound goes into an empty queue...
    expect(a.mconn.trySend(1, pattern(5 * MiB, 1))).toBe(true);
    await waitFor(() => a.mconn.status().sendMonitor.bytes > 0, "the sender to start");
    // ...and nothing more fits beside it, on its channel or (over the connection's bound) on another one's non-empty queue.
    expect(a.mconn.trySend(1, pattern(10, 2))).toBe(false);
    expect(a.mconn.trySend(2, pattern(MiB, 3))).toBe(true); // an empty queue takes one message
    expect(a.mconn.trySend(2, pattern(10, 4))).toBe(false);
    expect(bytesOf(1)).toBe(5 * MiB);
    expect(bytesOf(2)).toBe(MiB);
    // send waits; a later trySend does not pass it, even one that would fit.
    const waiting = a.mconn.send(1, pattern(2 * MiB, 5), { timeoutMs: 60_000 });
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(1);
    expect(a.mconn.canSend(1)).toBe(false);

    // Once the remote reads, the messages leave, the waiter is queued, and the bytes are given back.
    raw.startReading();
    for (let i = 0; i < 400 && raw.count("msg") < 5 * 1024 + 1024 + 2 * 1024; i++) {
      clock.advance(100);
      await ticks(20);
    }
    expect(await waiting).toBe(true);
    await waitFor(() => bytesOf(1) === 0 && bytesOf(2) === 0, "the queues to empty");
    const data = raw.packets.flatMap((p) => (p.kind === "msg" && p.channelId === 1 ? [p] : []));
    expect(data.filter((p) => p.eof)).toHaveLength(2);
  });

  it("takes one of 20 trySends of 21 MiB to a peer that does not read, not 20 (the message bound alone took all)", () => {
    const [connA, connB] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1, sendQueueCapacity: 20, recvMessageCapacity: 22 * MiB }], { sendRateBytesPerSecond: 0 });
    new RawPeer(connB, false);
    track(a);
    a.mconn.start();
    // 20 Sends of 21 MiB to a peer that does not read: the first is queued, the rest do not fit the 16 MiB default.
    const accepted = Array.from({ length: 20 }, (_, i) => a.mconn.trySend(1, new Uint8Array(21 * MiB).fill(i))).filter(Boolean).length;
    expect(accepted).toBe(1);
    expect(a.mconn.status().channels[0]!.sendQueueBytes).toBe(21 * MiB);
  });

  it("send rejects when its signal aborts", async () => {
    const [connA] = createDuplexPair();
    const a = createSide(connA, [{ id: 1, priority: 1 }]);
    track(a);
    a.mconn.start();
    const controller = new AbortController();
    expect(a.mconn.trySend(1, Uint8Array.of(1))).toBe(true);
    const pending = a.mconn.send(1, Uint8Array.of(2), { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
    await expect(a.mconn.send(1, Uint8Array.of(3), { signal: controller.signal })).rejects.toThrow("caller gave up");
    expect(a.mconn.status().channels[0]!.sendWaiters).toBe(0);
  });
});

describe("MConnection receive backpressure", () => {
  it("pauseReceive stops delivery; resumeReceive delivers the rest in order", async () => {
    const [connA, connB] = createDuplexPair();
    const channels = [
      { id: 1, priority: 1, sendQueueCapacity: 50 },
      { id: 2, priority: 1, sendQueueCapacity: 50 },
    ];
    const a = createSide(connA, channels, { flushThrottleMs: 1 });
    // Pause from inside the handler after the third message.
    const b = createSide(connB, channels, {}, {}, (side) => {
      if (side.log.length === 3) side.mconn.pauseReceive();
    });
    track(a, b);
    a.mconn.start();
    b.mconn.start();
    const sent: { channelId: number; message: Uint8Array }[] = [];
    for (let k = 0; k < 40; k++) {
      const channelId = (k % 2) + 1;
      const message = pattern(k * 100, k);
      sent.push({ channelId, message });
      expect(a.mconn.trySend(channelId, message)).toBe(true);
    }
    await waitFor(() => b.log.length === 3, "three messages");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(b.log).toHaveLength(3);
    expect(b.mconn.isReceivePaused).toBe(true);

    // The paused side still sends.
    expect(b.mconn.trySend(1, Uint8Array.of(42))).toBe(true);
    await waitFor(() => a.log.length === 1, "a message from the paused side");

    b.mconn.resumeReceive();
    await waitFor(() => b.log.length === 40, "the rest");
    for (const channelId of [1, 2]) {
      expect(b.received.get(channelId)).toEqual(sent.filter((s) => s.channelId === channelId).map((s) => s.message));
    }
    expect(b.errors).toEqual([]);
  });
});
