/**
 * Every condition under which CometBFT drops an MConnection: each produces
 * its typed error, exactly once, and closes the connection.
 */
import { Duplex } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import type { MConnectionError } from "../../../src/wire/mconnection/errors.js";
import {
  ConnectionClosedError,
  EmptyPacketError,
  MessageOverCapacityError,
  PacketDecodeError,
  PacketTooLargeError,
  PongTimeoutError,
  ReadError,
  ReceiveHandlerError,
  UnknownChannelError,
  WriteError,
} from "../../../src/wire/mconnection/errors.js";
import { encodePacket, encodePing } from "../../../src/wire/mconnection/packet.js";
import { createDuplexPair } from "../../support/duplex-pair.js";
import { unhex } from "../../support/vectors.js";
import { FakeClock } from "./fake-clock.js";
import type { Side } from "./helpers.js";
import { RawPeer, createSide, ticks, waitFor } from "./helpers.js";

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
});

const CHANNELS = [
  { id: 1, priority: 1, recvMessageCapacity: 2048 },
  { id: 0x40, priority: 5 },
];

function setup(clock = new FakeClock()): { side: Side; raw: RawPeer; clock: FakeClock } {
  const [conn, rawConn] = createDuplexPair();
  const side = createSide(conn, CHANNELS, {}, { clock });
  const raw = new RawPeer(rawConn);
  side.mconn.start();
  cleanups.push(() => {
    side.mconn.stop();
    rawConn.destroy();
  });
  return { side, raw, clock };
}

function msg(channelId: number, eof: boolean, size: number): Uint8Array {
  return encodePacket({ kind: "msg", channelId, eof, data: new Uint8Array(size).fill(channelId & 0xff) });
}

async function expectDropped<T extends MConnectionError>(
  side: Side,
  clock: FakeClock,
  type: abstract new (...args: never[]) => T,
): Promise<T> {
  await waitFor(() => side.errors.length > 0, "an error");
  await ticks(10);
  expect(side.errors).toHaveLength(1);
  const error = side.errors[0]!;
  expect(error).toBeInstanceOf(type);
  if (!(error instanceof type)) throw new Error("unreachable");
  expect(side.mconn.isRunning).toBe(false);
  expect(side.mconn.currentState).toBe("stopped");
  expect(side.conn.destroyed).toBe(true);
  expect(clock.pendingTimers).toBe(0);
  return error;
}

describe("MConnection drops the connection", () => {
  it("on a packet for an unregistered channel", async () => {
    const { side, raw, clock } = setup();
    raw.write(msg(1, true, 3));
    raw.write(msg(7, true, 3));
    raw.write(msg(1, true, 3));
    const error = await expectDropped(side, clock, UnknownChannelError);
    expect(error.channelId).toBe(7);
    expect(side.log).toHaveLength(1); // the packet before was delivered, the one after was not
  });

  for (const channelId of [256, 1025, 0x101, -1]) {
    it(`on channel id ${channelId}, outside 0..255 (even if it truncates to a registered one)`, async () => {
      const { side, raw, clock } = setup();
      raw.write(msg(channelId, true, 3));
      const error = await expectDropped(side, clock, UnknownChannelError);
      expect(error.channelId).toBe(channelId);
      expect(side.log).toHaveLength(0);
    });
  }

  it("when reassembly would exceed recvMessageCapacity (exactly at the cap is fine)", async () => {
    const { side, raw, clock } = setup();
    raw.write(msg(1, false, 1024));
    raw.write(msg(1, true, 1024)); // 2048 = the cap
    await waitFor(() => side.log.length === 1, "the message at the cap");
    expect(side.log[0]!.message).toHaveLength(2048);
    raw.write(msg(1, false, 1024));
    raw.write(msg(1, false, 1024));
    raw.write(msg(1, true, 1));
    const error = await expectDropped(side, clock, MessageOverCapacityError);
    expect(error).toMatchObject({ channelId: 1, sizeBytes: 2049, capacityBytes: 2048 });
    expect(side.log).toHaveLength(1);
  });

  it("on a length prefix over maxPacketMsgSize", async () => {
    const { side, raw, clock } = setup();
    raw.write(msg(1, true, 1024)); // 1034-byte body: allowed
    raw.write(unhex("8b08")); // 1035
    const error = await expectDropped(side, clock, PacketTooLargeError);
    expect(error).toMatchObject({ sizeBytes: 1035, limitBytes: 1034 });
    expect(side.log).toHaveLength(1);
  });

  it("on an empty packet", async () => {
    const { side, raw, clock } = setup();
    raw.write(unhex("00"));
    await expectDropped(side, clock, EmptyPacketError);
  });

  it("on a packet with only unknown fields", async () => {
    const { side, raw, clock } = setup();
    raw.write(unhex("023801"));
    await expectDropped(side, clock, EmptyPacketError);
  });

  it("on garbage bytes", async () => {
    const { side, raw, clock } = setup();
    raw.write(unhex("05ffffffffff"));
    await expectDropped(side, clock, PacketDecodeError);
  });

  it("on a length prefix that overflows", async () => {
    const { side, raw, clock } = setup();
    raw.write(new Uint8Array(11).fill(0x80));
    await expectDropped(side, clock, PacketDecodeError);
  });

  it("when no pong arrives within pongTimeoutMs of our ping", async () => {
    const clock = new FakeClock();
    const [conn, rawConn] = createDuplexPair();
    const side = createSide(conn, CHANNELS, { pingIntervalMs: 1000, pongTimeoutMs: 500 }, { clock });
    const raw = new RawPeer(rawConn);
    cleanups.push(() => side.mconn.stop());
    side.mconn.start();
    clock.advance(1000);
    await waitFor(() => raw.count("ping") === 1, "our ping");
    expect(raw.bytes).toBe(3);
    clock.advance(499);
    expect(side.errors).toEqual([]);
    clock.advance(1);
    const error = await expectDropped(side, clock, PongTimeoutError);
    expect(error.timeoutMs).toBe(500);
  });

  it("when the remote ends the stream (EOF), after delivering what came before", async () => {
    const { side, raw, clock } = setup();
    raw.write(msg(0x40, true, 10));
    raw.conn.end();
    await expectDropped(side, clock, ConnectionClosedError);
    expect(side.log).toHaveLength(1);
  });

  it("when the remote destroys the connection", async () => {
    const { side, raw, clock } = setup();
    raw.conn.destroy();
    await expectDropped(side, clock, ConnectionClosedError);
  });

  it("when the connection reports an error", async () => {
    const { side, clock } = setup();
    side.conn.destroy(new Error("decrypt failed"));
    const error = await expectDropped(side, clock, ReadError);
    expect((error.cause as Error).message).toBe("decrypt failed");
  });

  it("when a write fails", async () => {
    const clock = new FakeClock();
    const failing = new Duplex({
      read() {
        // never yields data
      },
      write(_chunk, _enc, cb) {
        cb(new Error("broken pipe"));
      },
    });
    const side = createSide(failing, CHANNELS, { flushThrottleMs: 0 }, { clock });
    cleanups.push(() => side.mconn.stop());
    side.mconn.start();
    expect(side.mconn.trySend(1, Uint8Array.of(1))).toBe(true);
    await ticks();
    clock.advance(0); // flush
    const error = await expectDropped(side, clock, WriteError);
    expect((error.cause as Error).message).toBe("broken pipe");
  });

  it("when onReceive throws", async () => {
    const clock = new FakeClock();
    const [conn, rawConn] = createDuplexPair();
    const side = createSide(conn, CHANNELS, {}, { clock }, () => {
      throw new Error("reactor failed");
    });
    const raw = new RawPeer(rawConn);
    cleanups.push(() => side.mconn.stop());
    side.mconn.start();
    raw.write(msg(1, true, 1));
    raw.write(msg(1, true, 1));
    const error = await expectDropped(side, clock, ReceiveHandlerError);
    expect(error.channelId).toBe(1);
    expect(side.log).toHaveLength(1);
  });

  it("reports only the first of several failures", async () => {
    const { side, raw, clock } = setup();
    raw.write(Buffer.concat([encodePing(), unhex("00"), msg(9, true, 1)]));
    raw.conn.destroy();
    await expectDropped(side, clock, EmptyPacketError);
  });
});
