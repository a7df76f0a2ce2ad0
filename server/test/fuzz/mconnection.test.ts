/**
 * Hostile byte streams into a live MConnection (the whole receive path:
 * decoder, channels, reassembly, ping handling) over an in-memory duplex.
 * Whatever the remote sends, the connection reports exactly one typed
 * `MConnectionError`, delivers exactly the messages a reference reassembly
 * finds before the first fault, in order, and never one over its channel's
 * capacity.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../../../fuzz/targets/common.js";
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import {
  ConnectionClosedError,
  MConnectionError,
  MessageOverCapacityError,
  UnknownChannelError,
} from "../../src/wire/mconnection/errors.js";
import { MConnection } from "../../src/wire/mconnection/mconnection.js";
import { type Packet, PacketDecoder, encodePacket, maxPacketMsgSize } from "../../src/wire/mconnection/packet.js";
import { encodeDelimited } from "../../src/wire/varint.js";
import { createDuplexPair } from "../support/duplex-pair.js";
import { bytesUpTo, expectAsyncPropertyToFail, hostilePrefix, junk } from "./support.js";

const CHANNELS: readonly ChannelDescriptor[] = [
  { id: 0x01, priority: 1, recvMessageCapacity: 64, recvBufferCapacity: 16 },
  { id: 0x40, priority: 1, recvMessageCapacity: 3000 },
];

const packet: fc.Arbitrary<Packet> = fc.oneof(
  { weight: 1, arbitrary: fc.constantFrom<Packet>({ kind: "ping" }, { kind: "pong" }) },
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant("msg" as const),
      channelId: fc.oneof({ weight: 8, arbitrary: fc.constantFrom(0x01, 0x40) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 300 }) }),
      eof: fc.boolean(),
      data: bytesUpTo(1024),
    }),
  },
);

const stream = fc
  .array(
    fc.oneof(
      { weight: 12, arbitrary: packet.map(encodePacket) },
      { weight: 1, arbitrary: junk(24).map(encodeDelimited) },
      { weight: 1, arbitrary: fc.tuple(hostilePrefix, junk(4)).map(([p, j]) => concatBytes([p, j])) },
    ),
    { maxLength: 14 },
  )
  .map(concatBytes);

interface Expected {
  readonly messages: { channelId: number; message: Uint8Array }[];
  readonly error: new (...args: never[]) => MConnectionError;
}

/** The reference: decode the whole stream, reassemble per channel, stop at the first fault. */
function expected(bytes: Uint8Array): Expected {
  const dec = new PacketDecoder(maxPacketMsgSize(1024));
  dec.push(bytes);
  const partial = new Map<number, Uint8Array[]>();
  const messages: { channelId: number; message: Uint8Array }[] = [];
  for (;;) {
    let p: Packet | undefined;
    try {
      p = dec.next();
    } catch (err) {
      return { messages, error: (err as MConnectionError).constructor as new () => MConnectionError };
    }
    if (p === undefined) return { messages, error: ConnectionClosedError };
    if (p.kind !== "msg") continue;
    const desc = CHANNELS.find((c) => c.id === p.channelId);
    if (desc === undefined) return { messages, error: UnknownChannelError };
    const parts = [...(partial.get(p.channelId) ?? []), p.data.slice()];
    if (parts.reduce((n, x) => n + x.length, 0) > (desc.recvMessageCapacity ?? 0)) return { messages, error: MessageOverCapacityError };
    if (p.eof) {
      messages.push({ channelId: p.channelId, message: concatBytes(parts) });
      partial.delete(p.channelId);
    } else partial.set(p.channelId, parts);
  }
}

async function feed(bytes: Uint8Array, pieceBytes: number, make = (): (typeof CHANNELS)[number][] => [...CHANNELS]): Promise<{ errors: MConnectionError[]; got: { channelId: number; message: Uint8Array }[] }> {
  const [local, remote] = createDuplexPair();
  remote.on("data", () => undefined); // our pongs
  remote.on("error", () => undefined);
  const errors: MConnectionError[] = [];
  const got: { channelId: number; message: Uint8Array }[] = [];
  let done: () => void = () => undefined;
  const finished = new Promise<void>((r) => {
    done = r;
  });
  const mconn = new MConnection(
    local,
    make(),
    {
      onReceive: (channelId, message) => got.push({ channelId, message }),
      onError: (e) => {
        errors.push(e);
        done();
      },
    },
    { flushThrottleMs: 1 },
  );
  mconn.start();
  for (let at = 0; at < bytes.length; at += pieceBytes) remote.write(bytes.subarray(at, at + pieceBytes));
  remote.end();
  await Promise.race([finished, new Promise((r) => setTimeout(r, 2000))]);
  await new Promise((r) => setTimeout(r, 5)); // a second onError would show up now
  mconn.stop();
  remote.destroy();
  return { errors, got };
}

const input = fc.record({ bytes: stream, piece: fc.oneof(fc.constant(1), fc.integer({ min: 1, max: 2000 })) });

async function property({ bytes, piece }: { bytes: Uint8Array; piece: number }): Promise<void> {
  const want = expected(bytes);
  const { errors, got } = await feed(bytes, piece);
  expect(errors).toHaveLength(1);
  expect(errors[0]).toBeInstanceOf(MConnectionError);
  expect(errors[0]).toBeInstanceOf(want.error);
  expect(got.map((m) => [m.channelId, Buffer.from(m.message).toString("hex")])).toEqual(want.messages.map((m) => [m.channelId, Buffer.from(m.message).toString("hex")]));
  for (const m of got) expect(m.message.length).toBeLessThanOrEqual(CHANNELS.find((c) => c.id === m.channelId)?.recvMessageCapacity ?? 0);
}

describe("MConnection receive path under hostile input", () => {
  it("one typed error, the reference's messages in order, none over capacity", async () => {
    await fc.assert(fc.asyncProperty(input, property), { numRuns: 150 });
  }, 60_000);

  it("the property catches a connection with a larger capacity than it was told", async () => {
    await expectAsyncPropertyToFail(input, async ({ bytes, piece }) => {
      const want = expected(bytes);
      const { errors, got } = await feed(bytes, piece, () => CHANNELS.map((c) => ({ ...c, recvMessageCapacity: 1 << 20 })));
      expect(errors[0]).toBeInstanceOf(want.error);
      expect(got.length).toBe(want.messages.length);
    });
  }, 60_000);
});
