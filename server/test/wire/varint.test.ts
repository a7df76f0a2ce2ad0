import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MessageTooLargeError, VarintOverflowError } from "../../src/wire/errors.js";
import { DelimitedDecoder, encodeDelimited, encodeUvarint, readUvarint, uvarintSize } from "../../src/wire/varint.js";
import { hex } from "../support/vectors.js";

describe("uvarint", () => {
  it("encodes the protobuf examples", () => {
    expect(hex(encodeUvarint(0))).toBe("00");
    expect(hex(encodeUvarint(1))).toBe("01");
    expect(hex(encodeUvarint(127))).toBe("7f");
    expect(hex(encodeUvarint(128))).toBe("8001");
    expect(hex(encodeUvarint(300))).toBe("ac02");
    expect(hex(encodeUvarint(1034))).toBe("8a08");
  });

  it("round-trips any safe integer", () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), (n) => {
        const enc = encodeUvarint(n);
        expect(enc.length).toBe(uvarintSize(n));
        const read = readUvarint(enc, 0, "test");
        expect(read).toEqual({ complete: true, value: n, size: enc.length });
      }),
    );
  });

  it("reports an incomplete varint instead of guessing", () => {
    expect(readUvarint(Uint8Array.of(0x80, 0x80), 0, "x")).toEqual({ complete: false });
  });

  it("rejects more than 10 bytes and values beyond 2^53", () => {
    expect(() => readUvarint(new Uint8Array(11).fill(0x80), 0, "x")).toThrow(VarintOverflowError);
    expect(() => readUvarint(Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01), 0, "x")).toThrow(
      VarintOverflowError,
    );
  });
});

describe("DelimitedDecoder", () => {
  const bodies = [new Uint8Array(0), Uint8Array.of(1), new Uint8Array(127).fill(7), new Uint8Array(300).fill(9), new Uint8Array(2000).fill(3)];
  const stream = Buffer.concat(bodies.map((b) => encodeDelimited(b)));

  it("decodes a stream fed in chunks of every size, one at a time", () => {
    for (let size = 1; size <= stream.length; size++) {
      const dec = new DelimitedDecoder(4096, "test");
      const out: Uint8Array[] = [];
      for (let at = 0; at < stream.length; at += size) out.push(...dec.push(stream.subarray(at, at + size)));
      expect(out.map(hex)).toEqual(bodies.map(hex));
      expect(dec.bufferedBytes).toBe(0);
    }
  });

  it("rejects an oversize length at the prefix, before buffering the body", () => {
    const dec = new DelimitedDecoder(1034, "packet");
    const prefix = encodeUvarint(1035);
    let error: unknown;
    try {
      dec.push(prefix);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(MessageTooLargeError);
    expect((error as MessageTooLargeError).sizeBytes).toBe(1035);
  });

  it("accepts a body exactly at the limit", () => {
    const dec = new DelimitedDecoder(1034, "packet");
    expect(dec.push(encodeDelimited(new Uint8Array(1034)))[0]?.length).toBe(1034);
  });

  it("never holds more than one body plus a partial prefix", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 20 }), fc.integer({ min: 1, max: 64 }), (msgs, chunk) => {
        const data = Buffer.concat(msgs.map((m) => encodeDelimited(m)));
        const dec = new DelimitedDecoder(600, "p");
        const got: string[] = [];
        for (let at = 0; at < data.length; at += chunk) {
          got.push(...dec.push(data.subarray(at, at + chunk)).map(hex));
          expect(dec.bufferedBytes).toBeLessThanOrEqual(600 + 10);
        }
        expect(got).toEqual(msgs.map(hex));
      }),
    );
  });
});
