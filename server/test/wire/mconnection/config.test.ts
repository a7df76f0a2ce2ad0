import { describe, expect, it } from "vitest";
import { fillChannelDefaults, fillChannelList } from "../../../src/wire/mconnection/channel-descriptor.js";
import {
  DEFAULT_MCONNECTION_CONFIG,
  DEFAULT_RECV_BUFFER_CAPACITY_BYTES,
  DEFAULT_RECV_MESSAGE_CAPACITY_BYTES,
  DEFAULT_SEND_QUEUE_CAPACITY,
  resolveMConnectionConfig,
} from "../../../src/wire/mconnection/defaults.js";
import { InvalidConfigError } from "../../../src/wire/mconnection/errors.js";

function fieldOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(InvalidConfigError);
    return (err as InvalidConfigError).field;
  }
  throw new Error("expected an InvalidConfigError");
}

describe("ChannelDescriptor", () => {
  it("fills CometBFT's defaults for unset or zero capacities", () => {
    expect(DEFAULT_SEND_QUEUE_CAPACITY).toBe(1);
    expect(DEFAULT_RECV_BUFFER_CAPACITY_BYTES).toBe(4096);
    expect(DEFAULT_RECV_MESSAGE_CAPACITY_BYTES).toBe(22020096);
    expect(fillChannelDefaults({ id: 0x30, priority: 5 })).toEqual({
      id: 0x30,
      priority: 5,
      sendQueueCapacity: 1,
      recvBufferCapacity: 4096,
      recvMessageCapacity: 22020096,
    });
    expect(fillChannelDefaults({ id: 0, priority: 1, sendQueueCapacity: 0, recvBufferCapacity: 0, recvMessageCapacity: 0 })).toEqual(
      fillChannelDefaults({ id: 0, priority: 1 }),
    );
    expect(fillChannelDefaults({ id: 0, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64000 })).toMatchObject({
      sendQueueCapacity: 10,
      recvMessageCapacity: 64000,
    });
  });

  it("names the invalid field", () => {
    expect(fieldOf(() => fillChannelDefaults({ id: 256, priority: 1 }))).toBe("channel.id");
    expect(fieldOf(() => fillChannelDefaults({ id: -1, priority: 1 }))).toBe("channel.id");
    expect(fieldOf(() => fillChannelDefaults({ id: 1.5, priority: 1 }))).toBe("channel.id");
    expect(fieldOf(() => fillChannelDefaults({ id: 1, priority: 0 }))).toBe("channel.priority");
    expect(fieldOf(() => fillChannelDefaults({ id: 1, priority: -2 }))).toBe("channel.priority");
    expect(fieldOf(() => fillChannelDefaults({ id: 1, priority: 1, sendQueueCapacity: -1 }))).toBe("channel.sendQueueCapacity");
    expect(fieldOf(() => fillChannelDefaults({ id: 1, priority: 1, recvBufferCapacity: 0.5 }))).toBe("channel.recvBufferCapacity");
    expect(fieldOf(() => fillChannelDefaults({ id: 1, priority: 1, recvMessageCapacity: -3 }))).toBe("channel.recvMessageCapacity");
    expect(fieldOf(() => fillChannelList([{ id: 1, priority: 1 }, { id: 1, priority: 2 }]))).toBe("channels[1].id");
    expect(fieldOf(() => fillChannelList([{ id: 1, priority: 1 }, { id: 2, priority: 0 }]))).toBe("channels[1].priority");
  });
});

describe("MConnectionConfig", () => {
  it("has CometBFT's effective defaults, and byte bounds on the send queues that CometBFT does not have", () => {
    expect(resolveMConnectionConfig()).toEqual({
      sendRateBytesPerSecond: 5_120_000,
      recvRateBytesPerSecond: 5_120_000,
      maxPacketMsgPayloadBytes: 1024,
      flushThrottleMs: 100,
      pingIntervalMs: 60_000,
      pongTimeoutMs: 45_000,
      sendTimeoutMs: 10_000,
      writeBufferBytes: 65_536,
      flushStopTimeoutMs: 10_000,
      sendQueueMaxBytesPerChannel: 16 * 1024 * 1024,
      sendQueueMaxBytes: 32 * 1024 * 1024,
    });
    expect(Object.isFrozen(DEFAULT_MCONNECTION_CONFIG)).toBe(true);
  });

  it("requires the pong timeout to be below the ping interval", () => {
    expect(fieldOf(() => resolveMConnectionConfig({ pongTimeoutMs: 60_000 }))).toBe("pongTimeoutMs");
    expect(fieldOf(() => resolveMConnectionConfig({ pingIntervalMs: 100, pongTimeoutMs: 200 }))).toBe("pongTimeoutMs");
    expect(resolveMConnectionConfig({ pingIntervalMs: 100, pongTimeoutMs: 99 }).pongTimeoutMs).toBe(99);
  });

  it("names the invalid field", () => {
    expect(fieldOf(() => resolveMConnectionConfig({ maxPacketMsgPayloadBytes: 0 }))).toBe("maxPacketMsgPayloadBytes");
    expect(fieldOf(() => resolveMConnectionConfig({ flushThrottleMs: -1 }))).toBe("flushThrottleMs");
    expect(fieldOf(() => resolveMConnectionConfig({ sendRateBytesPerSecond: Number.NaN }))).toBe("sendRateBytesPerSecond");
    expect(fieldOf(() => resolveMConnectionConfig({ writeBufferBytes: 0 }))).toBe("writeBufferBytes");
    expect(resolveMConnectionConfig({ sendRateBytesPerSecond: 0, recvRateBytesPerSecond: -1 })).toMatchObject({
      sendRateBytesPerSecond: 0,
      recvRateBytesPerSecond: -1,
    });
  });
});
