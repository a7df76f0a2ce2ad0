/**
 * Reassembly in Channel.receive: messages split into packets come back whole,
 * in buffers of their own, and a stream of like-sized messages is reassembled
 * with one buffer per message, handed over without a copy.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { Channel } from "../../../src/wire/mconnection/channel.js";
import { MessageOverCapacityError } from "../../../src/wire/mconnection/errors.js";

const PAYLOAD = 1024;

function channel(recvMessageCapacity = 1 << 20, recvBufferCapacity = 4096): Channel {
  return new Channel({ id: 0x40, priority: 1, sendQueueCapacity: 10, recvBufferCapacity, recvMessageCapacity });
}

/** Feeds `message` as packets of at most `payload` bytes (an empty message is one empty packet); returns what came out. */
function feed(ch: Channel, message: Uint8Array, payload = PAYLOAD): Uint8Array | null {
  if (message.length === 0) return ch.receive(message, true);
  let out: Uint8Array | null = null;
  for (let off = 0; off < message.length; off += payload) {
    const end = Math.min(message.length, off + payload);
    const r = ch.receive(message.subarray(off, end), end === message.length);
    if (r !== null) out = r;
    else if (end === message.length) throw new Error(`no message after the last packet (${message.length} bytes)`);
  }
  return out;
}

const same = (a: Uint8Array | null, b: Uint8Array): boolean => a !== null && Buffer.compare(a, b) === 0;

/** Bytes that differ from message to message (`seed`) and along each message: a window of a fixed random block. */
const BLOCK = Uint8Array.from({ length: 20_000 + 256 }, (_, i) => (i * 131 + ((i * i) >> 3)) & 0xff);
function pattern(size: number, seed: number): Uint8Array {
  const at = (seed * 37) % 256;
  return BLOCK.slice(at, at + size);
}

describe("Channel reassembly", () => {
  it("returns every message whole, in memory of its own, whatever the sizes (repeats included) and packet sizes", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.constantFrom(0, 1500, 4106, 9000), fc.integer({ min: 0, max: 20_000 })), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 2048 }), (sizes, payload) => {
        const ch = channel();
        const outs: Uint8Array[] = [];
        sizes.forEach((size, i) => {
          const sent = pattern(size, i);
          const got = feed(ch, sent, payload);
          expect(same(got, sent)).toBe(true);
          outs.push(got!);
        });
        // Later reassembly wrote into none of them.
        outs.forEach((o, i) => {
          expect(same(o, pattern(sizes[i]!, i))).toBe(true);
        });
        // Nothing aliases: overwrite each output and check the others kept their bytes.
        outs.forEach((o, i) => {
          o.fill(i & 0xff);
        });
        outs.forEach((o, i) => {
          expect(same(o, new Uint8Array(o.length).fill(i & 0xff))).toBe(true);
        });
      }),
      { numRuns: 200 },
    );
  });

  it("after one message spanning packets, like-sized ones get one exact buffer each, handed over without a copy", () => {
    const ch = channel();
    const size = 4106; // a 4 KiB tx in a mempool message: just over recvBufferCapacity
    expect(same(feed(ch, pattern(size, 1)), pattern(size, 1))).toBe(true);
    for (let i = 2; i < 6; i++) {
      const m = feed(ch, pattern(size, i))!;
      expect(same(m, pattern(size, i))).toBe(true);
      expect(m.byteOffset).toBe(0);
      expect(m.buffer.byteLength).toBe(size); // the reassembly buffer itself, filled exactly
      expect(ch.recvBufferBytes).toBe(0); // and no longer the channel's
    }
    // A smaller message after them still comes out right, in its own buffer.
    const small = feed(ch, pattern(1500, 9))!;
    expect(same(small, pattern(1500, 9))).toBe(true);
    expect(small.buffer.byteLength).toBe(1500);
  });

  it("the size guess never takes the buffer past the message capacity, and the capacity still holds", () => {
    const cap = 10_000;
    const ch = channel(cap);
    expect(same(feed(ch, pattern(cap, 1)), pattern(cap, 1))).toBe(true); // exactly at the cap passes
    ch.receive(new Uint8Array(PAYLOAD), false);
    expect(ch.recvBufferBytes).toBeLessThanOrEqual(cap);
    expect(() => {
      for (let i = 0; i < 10; i++) ch.receive(new Uint8Array(PAYLOAD), false);
    }).toThrow(MessageOverCapacityError);
  });
});
