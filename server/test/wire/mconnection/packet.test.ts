import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { Packet as PbPacket } from "../../../src/gen/switchboard/p2p/v1/conn.js";
import { VarintOverflowError } from "../../../src/wire/errors.js";
import { EmptyPacketError, PacketDecodeError, PacketTooLargeError } from "../../../src/wire/mconnection/errors.js";
import type { Packet } from "../../../src/wire/mconnection/packet.js";
import {
  PacketDecoder,
  decodePacketBody,
  encodePacket,
  encodePacketBody,
  encodePing,
  encodePong,
  maxPacketMsgSize,
  packetMsgWireSize,
} from "../../../src/wire/mconnection/packet.js";
import { encodeDelimited } from "../../../src/wire/varint.js";
import { hex, readVectorJson, unhex } from "../../support/vectors.js";

interface ProtoVectors {
  vectors: { source: string; what: string; hex: string }[];
}
const protoVectors = readVectorJson<ProtoVectors>("proto_vectors.json").vectors.filter((v) =>
  v.source.startsWith("p2p/conn/connection_test.go TestConnVectors"),
);
const wireExamples = readVectorJson<Record<string, unknown>>("wire_examples.json");

function wireExample(key: string): unknown {
  expect(wireExamples).toHaveProperty([key]);
  return wireExamples[key];
}

function msg(channelId: number, eof: boolean, data: Uint8Array): Packet {
  return { kind: "msg", channelId, eof, data };
}

/** The generated (ts-proto) encoding of the same packet. */
function generatedBody(packet: Packet): Uint8Array {
  const pb: PbPacket =
    packet.kind === "ping"
      ? { sum: { $case: "packetPing", value: {} } }
      : packet.kind === "pong"
        ? { sum: { $case: "packetPong", value: {} } }
        : { sum: { $case: "packetMsg", value: { channelId: packet.channelId, eof: packet.eof, data: packet.data } } };
  return PbPacket.encode(pb).finish();
}

const arbPacket: fc.Arbitrary<Packet> = fc.oneof(
  fc.constant<Packet>({ kind: "ping" }),
  fc.constant<Packet>({ kind: "pong" }),
  fc
    .record({
      channelId: fc.oneof(fc.integer({ min: 0, max: 255 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })),
      eof: fc.boolean(),
      data: fc.uint8Array({ maxLength: 1100 }),
    })
    .map(({ channelId, eof, data }) => msg(channelId, eof, data)),
);

describe("packet vectors", () => {
  it("encodes TestConnVectors byte for byte", () => {
    expect(protoVectors).toHaveLength(3);
    const [ping, pong, packetMsg] = protoVectors;
    expect(hex(encodePacketBody({ kind: "ping" }))).toBe(ping!.hex);
    expect(hex(encodePacketBody({ kind: "pong" }))).toBe(pong!.hex);
    const data = new TextEncoder().encode("data transmitted over the wire");
    expect(hex(encodePacketBody(msg(1, false, data)))).toBe(packetMsg!.hex);
    expect(decodePacketBody(unhex(packetMsg!.hex))).toEqual(msg(1, false, data));
    expect(decodePacketBody(unhex(ping!.hex))).toEqual({ kind: "ping" });
    expect(decodePacketBody(unhex(pong!.hex))).toEqual({ kind: "pong" });
  });

  it("encodes delimited ping and pong as 020a00 and 021200", () => {
    expect(hex(encodePing())).toBe(wireExample("delimited Packet{PacketPing} on wire"));
    expect(hex(encodePong())).toBe(wireExample("delimited Packet{PacketPong} on wire"));
    expect(hex(encodePacket({ kind: "ping" }))).toBe("020a00");
    expect(hex(encodePacket({ kind: "pong" }))).toBe("021200");
  });

  it("encodes a PEX request on channel 0 without a channel_id field", () => {
    const pexRequest = unhex("0a00");
    const wire = encodePacket(msg(0, true, pexRequest));
    expect(hex(wire)).toBe(wireExample("PEX PexRequest on channel 0 as delimited Packet (ch id omitted, eof=true)"));
    expect(hex(wire)).toBe("081a0610011a020a00");
    expect(packetMsgWireSize(0, true, 2)).toBe(wire.length);
  });

  it("computes maxPacketMsgSize as CometBFT does (1034 for 1024)", () => {
    expect(maxPacketMsgSize(1024)).toBe(wireExample("maxPacketMsgSize(payload=1024) [Packet body length, excl. prefix]"));
    expect(maxPacketMsgSize(1024)).toBe(1034);
    for (const payload of [1, 100, 127, 128, 1024, 4096, 65536]) {
      const body = generatedBody(msg(1, true, new Uint8Array(payload)));
      expect(maxPacketMsgSize(payload)).toBe(body.length);
    }
  });

  it("encodes the byte layouts of the digest's Appendix A", () => {
    const full = encodePacket(msg(0x20, true, new Uint8Array(1024)));
    expect(full.length).toBe(1036);
    expect(hex(full.subarray(0, 11))).toBe("8a081a8708082010011a80");
    const notEof = encodePacket(msg(0x20, false, new Uint8Array(1024)));
    expect(notEof.length).toBe(1034);
    expect(hex(notEof.subarray(0, 10))).toBe("88081a850808201a8008");
  });

  it("emits an empty message as one packet with eof and no data", () => {
    expect(hex(encodePacket(msg(0, true, new Uint8Array(0))))).toBe("041a021001");
    expect(hex(encodePacket(msg(5, true, new Uint8Array(0))))).toBe("061a0408051001");
  });
});

describe("hand codec against the generated codec", () => {
  it("encodes every packet as ts-proto does", () => {
    fc.assert(
      fc.property(arbPacket, (packet) => {
        expect(hex(encodePacketBody(packet))).toBe(hex(generatedBody(packet)));
        expect(hex(encodePacket(packet))).toBe(hex(encodeDelimited(generatedBody(packet))));
        if (packet.kind === "msg") {
          expect(packetMsgWireSize(packet.channelId, packet.eof, packet.data.length)).toBe(encodePacket(packet).length);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("decodes what ts-proto encodes, and agrees with ts-proto's decoder", () => {
    fc.assert(
      fc.property(arbPacket, (packet) => {
        const body = generatedBody(packet);
        const ours = decodePacketBody(body);
        expect(ours).toEqual(packet);
        const theirs = PbPacket.decode(body);
        if (ours.kind === "msg") {
          expect(theirs.sum).toEqual({ $case: "packetMsg", value: { channelId: ours.channelId, eof: ours.eof, data: ours.data } });
        } else {
          expect(theirs.sum?.$case).toBe(ours.kind === "ping" ? "packetPing" : "packetPong");
        }
      }),
      { numRuns: 500 },
    );
  });

  it("accepts the non-canonical forms gogoproto accepts", () => {
    // Fields out of order, eof as a multi-byte varint, channel_id written twice (last wins), unknown fields.
    const w = new BinaryWriter();
    w.uint32(0x1a).fork();
    w.uint32(0x1a).bytes(Uint8Array.of(7, 8));
    w.uint32(0x10).uint64(2n ** 40n);
    w.uint32(0x08).int32(9);
    w.uint32(0x08).int32(3);
    w.uint32(0x25).fixed32(1); // field 4, fixed32
    w.uint32(0x2b).uint32(0x08).uint32(1).uint32(0x2c); // field 5, a group holding a varint
    w.join();
    w.uint32(0x38).uint32(5); // an unknown Packet field 7
    const packet = decodePacketBody(w.finish());
    expect(packet).toEqual(msg(3, true, Uint8Array.of(7, 8)));
    // A ping with unknown content is still a ping; a later oneof field wins.
    expect(decodePacketBody(unhex("0a0208011200"))).toEqual({ kind: "pong" });
    expect(decodePacketBody(unhex("0a020801"))).toEqual({ kind: "ping" });
    // channel_id is an int32: a varint over 32 bits keeps its low 32 bits.
    expect(decodePacketBody(unhex("1a06088180808010"))).toEqual(msg(1, false, new Uint8Array(0)));
    // A negative channel_id decodes (the MConnection then rejects it).
    expect(decodePacketBody(unhex("1a0b08ffffffffffffffffff01"))).toEqual(msg(-1, false, new Uint8Array(0)));
  });
});

describe("decodePacketBody errors", () => {
  it("rejects an empty packet", () => {
    expect(() => decodePacketBody(new Uint8Array(0))).toThrow(EmptyPacketError);
    expect(() => decodePacketBody(unhex("3801"))).toThrow(EmptyPacketError); // only an unknown field
  });

  const malformed: [string, string][] = [
    ["tag 0", "0000"],
    ["a stray end group", "0c"],
    ["ping with wire type 0", "0800"],
    ["msg with wire type 0", "1801"],
    ["msg length past the end", "1a05080110"],
    ["channel_id with wire type 2", "1a020a00"],
    ["eof with wire type 2", "1a021200"],
    ["data with wire type 0", "1a021800"],
    ["data length past the end", "1a031a0501"],
    ["a truncated varint", "1a020888"],
    ["an 11-byte varint", "1a0c08ffffffffffffffffffff01"],
    ["an illegal wire type", "0f"],
    ["an unterminated group", "2b0801"],
    ["a fixed64 past the end", "3901020304"],
    ["garbage", "ffffffff"],
  ];
  for (const [what, bytes] of malformed) {
    it(`rejects ${what}`, () => {
      expect(() => decodePacketBody(unhex(bytes))).toThrow(PacketDecodeError);
    });
  }
});

describe("PacketDecoder", () => {
  function stream(packets: Packet[]): Uint8Array {
    return Buffer.concat(packets.map((p) => encodePacket(p)));
  }

  function drain(decoder: PacketDecoder): Packet[] {
    const out: Packet[] = [];
    for (let p = decoder.next(); p !== undefined; p = decoder.next()) {
      // Copy the data: views into the input are only valid while it is.
      out.push(p.kind === "msg" ? msg(p.channelId, p.eof, new Uint8Array(p.data)) : p);
    }
    return out;
  }

  function describePacket(p: Packet): string {
    return p.kind === "msg" ? `msg ${p.channelId} ${p.eof} ${hex(p.data)}` : p.kind;
  }

  const packets: Packet[] = [
    { kind: "ping" },
    msg(1, false, new Uint8Array(1024).map((_, i) => i & 0xff)),
    msg(1, true, Uint8Array.of(1, 2, 3)),
    { kind: "pong" },
    msg(0, true, new Uint8Array(0)),
    msg(0x40, true, new Uint8Array(200).fill(9)),
    msg(255, true, new Uint8Array(1023).fill(7)),
  ];
  const bytes = stream(packets);

  it("decodes a stream fed in chunks of every size, one at a time", () => {
    for (let size = 1; size <= bytes.length; size++) {
      const decoder = new PacketDecoder(maxPacketMsgSize(1024));
      const out: Packet[] = [];
      let sizes = 0;
      for (let at = 0; at < bytes.length; at += size) {
        decoder.push(bytes.subarray(at, at + size));
        for (let p = decoder.next(); p !== undefined; p = decoder.next()) {
          out.push(p.kind === "msg" ? msg(p.channelId, p.eof, new Uint8Array(p.data)) : p);
          sizes += decoder.lastPacketBytes;
        }
      }
      // Compared as strings: deep equality of thousands of byte arrays is slow.
      expect(out.map(describePacket)).toEqual(packets.map(describePacket));
      expect(sizes).toBe(bytes.length);
      expect(decoder.bufferedBytes).toBe(0);
    }
  });

  it("holds chunks until asked and returns packets one at a time", () => {
    const decoder = new PacketDecoder(1034);
    decoder.push(bytes.subarray(0, 10));
    decoder.push(bytes.subarray(10));
    expect(decoder.next()).toEqual({ kind: "ping" });
    expect(decoder.lastPacketBytes).toBe(3);
    expect(decoder.bufferedBytes).toBe(bytes.length - 3);
    expect(drain(decoder)).toEqual(packets.slice(1));
  });

  it("rejects a length prefix over the limit before buffering the body", () => {
    const decoder = new PacketDecoder(1034);
    decoder.push(unhex("8b08")); // 1035
    expect(() => decoder.next()).toThrow(PacketTooLargeError);
    // Sticky: the decoder does not resynchronise.
    expect(() => decoder.next()).toThrow(PacketTooLargeError);
    const exact = new PacketDecoder(1034);
    const atLimit = encodePacket(msg(1, true, new Uint8Array(1024)));
    expect(atLimit.length).toBe(1036);
    exact.push(atLimit);
    expect(exact.next()).toMatchObject({ kind: "msg", channelId: 1, eof: true });
  });

  it("rejects a 1024-byte payload with eof on a channel >= 0x80 (1035 bytes)", () => {
    const decoder = new PacketDecoder(maxPacketMsgSize(1024));
    decoder.push(encodePacket(msg(0x80, true, new Uint8Array(1024))));
    expect(() => decoder.next()).toThrow(PacketTooLargeError);
  });

  it("rejects an overflowing length prefix", () => {
    const decoder = new PacketDecoder(1034);
    decoder.push(new Uint8Array(11).fill(0xff));
    let error: unknown;
    try {
      decoder.next();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(PacketDecodeError);
    expect((error as Error).cause).toBeInstanceOf(VarintOverflowError);
  });

  it("returns the packets before a bad one first", () => {
    const decoder = new PacketDecoder(1034);
    decoder.push(Buffer.concat([encodePing(), Uint8Array.of(0x00), encodePong()]));
    expect(decoder.next()).toEqual({ kind: "ping" });
    expect(() => decoder.next()).toThrow(EmptyPacketError);
  });
});
