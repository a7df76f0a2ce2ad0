/**
 * The SDK's AttachRequest encoder must write exactly the generated encoder's
 * bytes for every request: batches and lone commands of every kind, numbers
 * at their limits, empty and non-ASCII strings, large payloads.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachRequest, type Command } from "../src/gen/switchboard/gateway/v1/gateway.js";
import { encodeAttachRequest } from "../src/internal/encode.js";

const text = fc.oneof(fc.constant(""), fc.string({ maxLength: 40, unit: fc.constantFrom("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f") }), fc.string({ maxLength: 12, unit: "grapheme" }), fc.string({ maxLength: 6, unit: "binary" }));
const bytes = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 100, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)));
const u64 = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 2n ** 20n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const u32 = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 0xffff_ffff }));
const command: fc.Arbitrary<Command> = fc.record({
  requestId: u64,
  kind: fc.oneof(
    { weight: 4, arbitrary: fc.record({ $case: fc.constant("send" as const), value: fc.record({ connectionId: text, peerId: text, channelId: u32, message: bytes, timeoutMs: u32 }) }) },
    { weight: 2, arbitrary: fc.record({ $case: fc.constant("trySend" as const), value: fc.record({ connectionId: text, peerId: text, channelId: u32, message: bytes }) }) },
    { weight: 2, arbitrary: fc.record({ $case: fc.constant("broadcast" as const), value: fc.record({ channelId: u32, message: bytes }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("setPeerData" as const), value: fc.record({ connectionId: text, peerId: text, key: text, value: bytes }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("dialPeers" as const), value: fc.record({ addresses: fc.array(text, { maxLength: 3 }), persistent: fc.boolean() }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("numPeers" as const), value: fc.constant({}) }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ),
});
const request: fc.Arbitrary<AttachRequest> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ ack: fc.option(fc.record({ eventSeq: u64 }), { nil: undefined }), credit: fc.option(fc.record({ messages: u32, bytes: u64 }), { nil: undefined }), commands: fc.array(command, { maxLength: 20 }) }).map((value): AttachRequest => ({ msg: { $case: "batch", value } })) },
  { weight: 2, arbitrary: command.map((value): AttachRequest => ({ msg: { $case: "command", value } })) },
  { weight: 1, arbitrary: fc.record({ eventSeq: u64 }).map((value): AttachRequest => ({ msg: { $case: "ack", value } })) },
  { weight: 1, arbitrary: fc.record({ messages: u32, bytes: u64 }).map((value): AttachRequest => ({ msg: { $case: "credit", value } })) },
);

describe("encodeAttachRequest", () => {
  it("writes the generated encoder's bytes", () => {
    fc.assert(
      fc.property(request, (req) => {
        expect(Buffer.from(encodeAttachRequest(req)).equals(Buffer.from(AttachRequest.encode(req).finish()))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("refuses what the generated encoder refuses (an out-of-range number), instead of writing wrong bytes", () => {
    const bad: AttachRequest = { msg: { $case: "command", value: { requestId: 1n, kind: { $case: "send", value: { connectionId: "", peerId: "p", channelId: -1, message: new Uint8Array(3), timeoutMs: 0 } } } } };
    expect(() => AttachRequest.encode(bad).finish()).toThrow();
    expect(() => encodeAttachRequest(bad)).toThrow();
  });
});
