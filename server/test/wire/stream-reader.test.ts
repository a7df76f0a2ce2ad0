import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { MessageTooLargeError, UnexpectedEofError, VarintOverflowError } from "../../src/wire/errors.js";
import { StreamReader } from "../../src/wire/stream-reader.js";
import { encodeDelimited } from "../../src/wire/varint.js";

const bytes = (...v: number[]): Uint8Array => Uint8Array.from(v);
const seq = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) & 0xff);
const EVENTS = ["readable", "end", "close", "error", "data"] as const;

function listenerCounts(stream: Readable): number[] {
  return EVENTS.map((e) => stream.listenerCount(e));
}

function feed(stream: PassThrough, data: Uint8Array, chunkSize: number): void {
  for (let i = 0; i < data.length; i += chunkSize) stream.write(data.subarray(i, i + chunkSize));
}

describe("StreamReader", () => {
  it("reads exact lengths across chunk boundaries, for every chunk size", async () => {
    const data = seq(300);
    for (let size = 1; size <= data.length; size++) {
      const stream = new PassThrough();
      const reader = new StreamReader(stream);
      feed(stream, data, size);
      const a = await reader.readExactly(1);
      const b = await reader.readExactly(150);
      const c = await reader.readExactly(0);
      const d = await reader.readExactly(100);
      expect([...a, ...b, ...c, ...d]).toEqual([...data.subarray(0, 251)]);
      // Pulled-but-unread bytes come back from release(); the rest is still in the stream.
      const rest = [...reader.release(), ...((stream.read() as Buffer | null) ?? [])];
      expect(rest).toEqual([...data.subarray(251)]);
    }
  });

  it("reads delimited messages fed one chunk size at a time, keeping what follows", async () => {
    const m1 = seq(200, 1);
    const m2 = seq(0);
    const m3 = seq(3, 9);
    const tail = bytes(0xaa, 0xbb);
    const wire = new Uint8Array([...encodeDelimited(m1), ...encodeDelimited(m2), ...encodeDelimited(m3), ...tail]);
    for (let size = 1; size <= wire.length; size++) {
      const stream = new PassThrough();
      const before = listenerCounts(stream);
      const reader = new StreamReader(stream);
      feed(stream, wire, size);
      expect([...(await reader.readDelimited(1000, "m1"))]).toEqual([...m1]);
      expect([...(await reader.readDelimited(1000, "m2"))]).toEqual([]);
      expect([...(await reader.readDelimited(1000, "m3"))]).toEqual([...m3]);
      // Whatever the reader pulled beyond m3 comes back; the rest is still in the stream.
      const rest = [...reader.release(), ...((stream.read() as Buffer | null) ?? [])];
      expect(rest).toEqual([...tail]);
      expect(listenerCounts(stream)).toEqual(before);
    }
  });

  it("checks the limit at the prefix, before the body arrives", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    stream.write(bytes(0x81, 0x80, 0x40)); // 1 MiB + 1, and no body at all
    const err = await reader.readDelimited(1024 * 1024, "thing").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MessageTooLargeError);
    expect(err).toMatchObject({ sizeBytes: 1024 * 1024 + 1, limitBytes: 1024 * 1024 });
  });

  it("accepts a body exactly at the limit", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    stream.write(encodeDelimited(seq(10)));
    expect(await reader.readDelimited(10, "thing")).toHaveLength(10);
  });

  it("rejects an over-long varint", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    stream.write(new Uint8Array(11).fill(0xff));
    await expect(reader.readDelimited(100, "thing")).rejects.toBeInstanceOf(VarintOverflowError);
  });

  it("rejects with UnexpectedEofError when the stream ends inside a read", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    const pending = reader.readExactly(10, "ten bytes");
    stream.end(seq(9));
    const err = await pending.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UnexpectedEofError);
    expect((err as Error).message).toContain("ten bytes");
  });

  it("rejects with UnexpectedEofError when the stream ends inside a prefix or before anything", async () => {
    const s1 = new PassThrough();
    const r1 = new StreamReader(s1);
    s1.end(bytes(0x80));
    await expect(r1.readDelimited(100, "x")).rejects.toBeInstanceOf(UnexpectedEofError);

    const s2 = new PassThrough();
    s2.end();
    s2.resume();
    await new Promise((resolve) => s2.once("end", resolve));
    await expect(new StreamReader(s2).readExactly(1)).rejects.toBeInstanceOf(UnexpectedEofError);
  });

  it("rejects with UnexpectedEofError when the stream is destroyed", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    const pending = reader.readExactly(4);
    stream.destroy();
    await expect(pending).rejects.toBeInstanceOf(UnexpectedEofError);
    await expect(new StreamReader(stream).readExactly(1)).rejects.toBeInstanceOf(UnexpectedEofError);
  });

  it("rejects with the stream's error", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    const pending = reader.readExactly(4);
    const boom = new Error("boom");
    stream.destroy(boom);
    await expect(pending).rejects.toBe(boom);
  });

  it("rejects with the abort reason, pending or already aborted", async () => {
    const stream = new PassThrough();
    const controller = new AbortController();
    const reader = new StreamReader(stream, { signal: controller.signal });
    const pending = reader.readExactly(4);
    const reason = new Error("deadline");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    stream.write(seq(8));
    await expect(reader.readExactly(1)).rejects.toBe(reason);
    expect(reader.release()).toHaveLength(0);
    expect(controller.signal.aborted).toBe(true);
  });

  it("release() removes every listener it added, also from the signal, and fails a pending read", async () => {
    const stream = new PassThrough();
    const controller = new AbortController();
    const before = listenerCounts(stream);
    const reader = new StreamReader(stream, { signal: controller.signal });
    stream.write(seq(5));
    expect([...(await reader.readExactly(2))]).toEqual([0, 1]);
    const pending = reader.readExactly(100);
    await new Promise((resolve) => setImmediate(resolve));
    const rest = reader.release();
    await expect(pending).rejects.toThrow(/released/);
    expect([...rest]).toEqual([2, 3, 4]);
    expect(listenerCounts(stream)).toEqual(before);
    // Aborting after release touches nothing.
    controller.abort(new Error("late"));
    expect(reader.release()).toHaveLength(0);
  });

  it("hands the stream over intact: a data listener after release sees the rest", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    stream.write(seq(4));
    await reader.readExactly(1);
    const rest = reader.release();
    stream.end(seq(3, 100));
    const received: number[] = [...rest];
    stream.on("data", (c: Buffer) => received.push(...c));
    await new Promise((resolve) => stream.once("end", resolve));
    expect(received).toEqual([1, 2, 3, 100, 101, 102]);
  });

  it("does not pull more than the stream's buffer while waiting", async () => {
    const stream = new PassThrough({ highWaterMark: 1024 });
    const reader = new StreamReader(stream);
    let written = 0;
    while (stream.write(seq(512))) written += 512;
    await reader.readExactly(10);
    // The reader took at most what was readable then; the writer is still held back.
    expect(reader.release().length).toBeLessThanOrEqual(4096);
    expect(written).toBeLessThan(8192);
  });

  it("allows one read at a time", async () => {
    const stream = new PassThrough();
    const reader = new StreamReader(stream);
    const first = reader.readExactly(2);
    await expect(reader.readExactly(1)).rejects.toThrow(/one read at a time/);
    stream.write(seq(2));
    expect(await first).toHaveLength(2);
  });

  it("rejects an object-mode chunk", async () => {
    const stream = new Readable({ objectMode: true, read() {} });
    stream.push({ not: "bytes" });
    await expect(new StreamReader(stream).readExactly(1)).rejects.toBeInstanceOf(TypeError);
  });
});
