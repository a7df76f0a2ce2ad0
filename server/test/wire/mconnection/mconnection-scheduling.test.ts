/**
 * Scheduling, pings and rate limits, driven by a fake clock so that nothing
 * depends on wall time: assertions count packets and limiter decisions.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ChannelDescriptor } from "../../../src/wire/mconnection/channel-descriptor.js";
import type { MConnectionConfig } from "../../../src/wire/mconnection/defaults.js";
import { PongTimeoutError } from "../../../src/wire/mconnection/errors.js";
import { encodePacket, encodePing, encodePong, packetMsgWireSize } from "../../../src/wire/mconnection/packet.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { FakeClock } from "./fake-clock.js";
import type { Side } from "./helpers.js";
import { RawPeer, createSide, pattern, ticks, waitFor } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

function setup(
  channels: readonly ChannelDescriptor[],
  config: Partial<MConnectionConfig> = {},
): { side: Side; raw: RawPeer; clock: FakeClock } {
  const clock = new FakeClock();
  const [conn, rawConn] = createDuplexPair();
  const side = createSide(conn, channels, config, { clock });
  const raw = new RawPeer(rawConn);
  side.mconn.start();
  cleanups.push(() => {
    side.mconn.stop();
    rawConn.destroy();
  });
  return { side, raw, clock };
}

function channelsOf(raw: RawPeer): number[] {
  return raw.packets.flatMap((p) => (p.kind === "msg" ? [p.channelId] : []));
}

describe("send scheduling", () => {
  it("shares bytes between saturated channels in proportion to their priorities", async () => {
    const { side, raw } = setup(
      [
        { id: 1, priority: 1, sendQueueCapacity: 8 },
        { id: 2, priority: 10, sendQueueCapacity: 8 },
      ],
      { sendRateBytesPerSecond: 0 },
    );
    // 512 packets queued on each channel: both stay saturated for the packets counted.
    for (let k = 0; k < 8; k++) {
      expect(side.mconn.trySend(1, pattern(65_536, k))).toBe(true);
      expect(side.mconn.trySend(2, pattern(65_536, 10 + k))).toBe(true);
    }
    // The 64 KiB write buffer flushes whenever it fills; no timer needed.
    await waitFor(() => raw.count("msg") >= 396, "396 packets");
    const order = channelsOf(raw).slice(0, 396);
    const low = order.filter((c) => c === 1).length;
    const high = order.filter((c) => c === 2).length;
    expect(low + high).toBe(396);
    // recentlySent/priority: the low channel sends once per 10 packets of the high one.
    expect(low).toBeGreaterThanOrEqual(35);
    expect(low).toBeLessThanOrEqual(37);
    expect(high / low).toBeGreaterThan(9.5);
    expect(high / low).toBeLessThan(10.6);
    // The tie at the start goes to the channel registered first.
    expect(order.slice(0, 12)).toEqual([1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 1]);
  });

  it("alternates between equal priorities, registration order first", async () => {
    const { side, raw, clock } = setup(
      [
        { id: 9, priority: 3 },
        { id: 4, priority: 3 },
      ],
      { sendRateBytesPerSecond: 0 },
    );
    side.mconn.trySend(4, new Uint8Array(3000));
    side.mconn.trySend(9, new Uint8Array(3000));
    await ticks();
    clock.advance(100);
    await waitFor(() => raw.count("msg") === 6, "six packets");
    expect(channelsOf(raw)).toEqual([9, 4, 9, 4, 9, 4]);
  });

  it("counts recentlySent in wire bytes and decays it by 0.8 every 2 s", async () => {
    const { side, clock } = setup([{ id: 1, priority: 1 }], { sendRateBytesPerSecond: 0 });
    side.mconn.trySend(1, new Uint8Array(2500)); // 1024 + 1024 + 452 bytes of data
    await ticks();
    expect(packetMsgWireSize(1, false, 1024)).toBe(1034);
    expect(packetMsgWireSize(1, true, 452)).toBe(464);
    expect(side.mconn.status().channels[0]!.recentlySent).toBe(1034 + 1034 + 464);
    const sent = side.mconn.status().channels[0]!.recentlySent;
    clock.advance(1999);
    expect(side.mconn.status().channels[0]!.recentlySent).toBe(sent);
    clock.advance(1);
    expect(side.mconn.status().channels[0]!.recentlySent).toBe(Math.trunc(sent * 0.8));
    clock.advance(2000);
    expect(side.mconn.status().channels[0]!.recentlySent).toBe(Math.trunc(Math.trunc(sent * 0.8) * 0.8));
  });

  it("holds data up to the flush throttle, and flushes pings at once", async () => {
    const { side, raw, clock } = setup([{ id: 1, priority: 1 }], { flushThrottleMs: 100 });
    side.mconn.trySend(1, Uint8Array.of(1, 2, 3));
    await ticks(10);
    expect(raw.bytes).toBe(0);
    clock.advance(99);
    await ticks(10);
    expect(raw.bytes).toBe(0);
    clock.advance(1);
    await waitFor(() => raw.count("msg") === 1, "the flushed packet");
    // A ping flushes at once, data buffered before it included.
    side.mconn.trySend(1, Uint8Array.of(4));
    await ticks();
    raw.write(encodePing());
    await waitFor(() => raw.count("pong") === 1, "the pong");
    expect(raw.count("msg")).toBe(2);
  });
});

describe("ping and pong", () => {
  it("answers a ping with a pong, and counts both", async () => {
    const { side, raw } = setup([{ id: 1, priority: 1 }]);
    raw.write(encodePing());
    await waitFor(() => raw.count("pong") === 1, "a pong");
    expect(raw.bytes).toBe(3);
    expect(side.mconn.status().pings).toEqual({ pingsSent: 0, pongsReceived: 0, pingsReceived: 1, pongsSent: 1 });
  });

  it("answers several pings with at least one pong", async () => {
    const { side, raw } = setup([{ id: 1, priority: 1 }]);
    raw.write(Buffer.concat([encodePing(), encodePing(), encodePing(), encodePing(), encodePing()]));
    await waitFor(() => raw.count("pong") >= 1, "a pong");
    await ticks(20);
    expect(raw.count("pong")).toBeGreaterThanOrEqual(1);
    expect(raw.count("pong")).toBeLessThanOrEqual(5);
    expect(side.errors).toEqual([]);
  });

  it("ignores unsolicited pongs", async () => {
    const { side, raw } = setup([{ id: 1, priority: 1 }]);
    raw.write(Buffer.concat([encodePong(), encodePong(), encodePong()]));
    raw.write(encodePacket({ kind: "msg", channelId: 1, eof: true, data: Uint8Array.of(7) }));
    await waitFor(() => side.log.length === 1, "the message");
    expect(side.mconn.isRunning).toBe(true);
    expect(side.errors).toEqual([]);
  });

  it("pings every pingIntervalMs and a pong cancels the deadline", async () => {
    const { side, raw, clock } = setup([{ id: 1, priority: 1 }], { pingIntervalMs: 1000, pongTimeoutMs: 900 });
    for (let round = 1; round <= 3; round++) {
      clock.advance(1000);
      await waitFor(() => raw.count("ping") === round, `ping ${round}`);
      raw.write(encodePong());
      await waitFor(() => side.mconn.status().recvMonitor.bytes === 3 * round, `pong ${round}`);
    }
    clock.advance(950);
    expect(side.errors).toEqual([]);
    expect(side.mconn.isRunning).toBe(true);
    expect(side.mconn.status().pings).toEqual({ pingsSent: 3, pongsReceived: 3, pingsReceived: 0, pongsSent: 0 });
  });

  it("does not drop the remote for a pong deadline that passed while receiving was paused", async () => {
    const { side, raw, clock } = setup([{ id: 1, priority: 1 }], { pingIntervalMs: 1000, pongTimeoutMs: 500 });
    side.mconn.pauseReceive();
    clock.advance(1000);
    await waitFor(() => raw.count("ping") === 1, "our ping");
    raw.write(encodePong()); // arrives, but stays unread
    clock.advance(600);
    await ticks(10);
    expect(side.errors).toEqual([]);
    side.mconn.resumeReceive(); // reads the pong, which cancels the fresh deadline
    await ticks(10);
    clock.advance(499); // the next ping is due at 2000 and goes out at 2099; its deadline is 2599
    await ticks(10);
    clock.advance(499);
    await ticks(10);
    expect(side.errors).toEqual([]);

    // Without a pong, the fresh deadline after resuming does drop it.
    side.mconn.pauseReceive();
    clock.advance(1000);
    await ticks(10);
    expect(side.errors).toEqual([]);
    side.mconn.resumeReceive();
    clock.advance(500);
    await waitFor(() => side.errors.length === 1, "the pong timeout");
    expect(side.errors[0]).toBeInstanceOf(PongTimeoutError);
  });

  it("keeps two MConnections alive through many ping rounds", async () => {
    const clock = new FakeClock();
    const [connA, connB] = createDuplexPair();
    const config = { pingIntervalMs: 1000, pongTimeoutMs: 500 };
    const a = createSide(connA, [{ id: 1, priority: 1 }], config, { clock });
    const b = createSide(connB, [{ id: 1, priority: 1 }], config, { clock });
    cleanups.push(() => {
      a.mconn.stop();
      b.mconn.stop();
    });
    a.mconn.start();
    b.mconn.start();
    for (let round = 1; round <= 5; round++) {
      clock.advance(1000);
      // Each side pinged and got the other's pong: 3 bytes each way per round, twice.
      await waitFor(() => a.mconn.status().recvMonitor.bytes === 6 * round && b.mconn.status().recvMonitor.bytes === 6 * round, `round ${round}`);
    }
    clock.advance(600);
    expect(a.errors).toEqual([]);
    expect(b.errors).toEqual([]);
  });
});

describe("rate limits", () => {
  it("send: at most one batch per 100 ms sample when the rate allows less", async () => {
    // 20480 B/s = 2048 bytes per sample: one batch (10 packets, ~10 KiB) exceeds it,
    // so each sample carries exactly one batch, as in CometBFT.
    const { side, raw, clock } = setup([{ id: 1, priority: 1 }], { sendRateBytesPerSecond: 20_480, flushThrottleMs: 10 });
    const message = pattern(100 * 1024, 1); // 100 packets
    side.mconn.trySend(1, message);
    const perSample: number[] = [];
    let seen = 0;
    for (let sample = 0; sample < 15; sample++) {
      await ticks(20);
      clock.advance(10); // flush what this sample sent
      await ticks(20);
      perSample.push(raw.count("msg") - seen);
      seen = raw.count("msg");
      clock.advance(90); // the next sample opens
    }
    expect(perSample.slice(0, 10)).toEqual(new Array(10).fill(10));
    expect(perSample.slice(10)).toEqual([0, 0, 0, 0, 0]);
    const data = Buffer.concat(raw.packets.flatMap((p) => (p.kind === "msg" ? [p.data] : [])));
    expect(data.equals(Buffer.from(message))).toBe(true);
  });

  it("send: unlimited when the rate is 0", async () => {
    const { side, raw } = setup([{ id: 1, priority: 1 }], { sendRateBytesPerSecond: 0 });
    side.mconn.trySend(1, new Uint8Array(300 * 1024));
    // The write buffer flushes itself every 64 KiB; without a limit all but the tail arrives with no time passing.
    await waitFor(() => raw.count("msg") >= 250, "250 packets");
  });

  it("receive: pauses reading while the sample is full", async () => {
    // 10240 B/s = 1024 bytes per sample: one 1036-byte packet fills it.
    const { side, raw, clock } = setup([{ id: 1, priority: 1 }], { recvRateBytesPerSecond: 10_240 });
    for (let k = 0; k < 5; k++) raw.write(encodePacket({ kind: "msg", channelId: 1, eof: true, data: pattern(1024, k) }));
    const delivered: number[] = [];
    for (let sample = 0; sample < 7; sample++) {
      await ticks(20);
      delivered.push(side.log.length);
      clock.advance(100);
    }
    expect(delivered).toEqual([1, 2, 3, 4, 5, 5, 5]);
    expect(side.log.map((e) => e.message)).toEqual([0, 1, 2, 3, 4].map((k) => pattern(1024, k)));
  });
});

describe("status", () => {
  it("reports monitors and per-channel queues and counters", async () => {
    const { side, raw, clock } = setup(
      [
        { id: 0x20, priority: 6, sendQueueCapacity: 100 },
        { id: 0x00, priority: 1, sendQueueCapacity: 10 },
      ],
      { sendRateBytesPerSecond: 0 },
    );
    side.mconn.trySend(0x20, new Uint8Array(100));
    side.mconn.trySend(0x20, new Uint8Array(100));
    side.mconn.trySend(0x00, new Uint8Array(10));
    let status = side.mconn.status();
    expect(status.state).toBe("running");
    expect(status.channels.map((c) => [c.id, c.priority, c.sendQueueCapacity, c.sendQueueSize])).toEqual([
      [0x20, 6, 100, 2],
      [0x00, 1, 10, 1],
    ]);
    await ticks();
    clock.advance(100);
    await waitFor(() => raw.count("msg") === 3, "three packets");
    raw.write(encodePacket({ kind: "msg", channelId: 0, eof: true, data: new Uint8Array(5) }));
    await waitFor(() => side.log.length === 1, "a message");
    status = side.mconn.status();
    const [consensus, pex] = status.channels;
    expect(consensus).toMatchObject({ sendQueueSize: 0, messagesSent: 2, bytesSent: 2 * 109, messagesReceived: 0 });
    expect(pex).toMatchObject({ sendQueueSize: 0, messagesSent: 1, bytesSent: 17, messagesReceived: 1, bytesReceived: 12 });
    expect(status.sendMonitor.bytes).toBe(2 * 109 + 17);
    expect(status.recvMonitor.bytes).toBe(12);
    expect(status.durationMs).toBe(100);
  });
});
