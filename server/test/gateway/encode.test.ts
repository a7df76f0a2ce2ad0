/**
 * The gateway's own AttachResponse encoder must write exactly the bytes of
 * the generated encoder, for every response (event batches of every kind of
 * event, with empty and non-ASCII fields, large payloads, and the rest).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { AttachResponse, ErrorReason, type Event, type PeerInfo } from "../../src/gen/switchboard/gateway/v1/gateway.js";
import { encodeAttachResponse } from "../../src/gateway/encode.js";

const text = fc.oneof(fc.constant(""), fc.string({ maxLength: 40, unit: fc.constantFrom("0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "a", "b", "c", "d", "e", "f") }), fc.string({ maxLength: 12, unit: "grapheme" }), fc.string({ maxLength: 6, unit: "binary" }));
const bytes = fc.oneof(fc.constant(new Uint8Array(0)), fc.uint8Array({ maxLength: 300 }), fc.integer({ min: 100, max: 70_000 }).map((n) => new Uint8Array(n).fill(n & 0xff)));
const seq = fc.oneof(fc.constant(0n), fc.bigInt({ min: 1n, max: 2n ** 20n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
const peer: fc.Arbitrary<PeerInfo> = fc.record({ peerId: text, connectionId: text, outbound: fc.boolean(), persistent: fc.boolean(), unconditional: fc.boolean(), remoteAddress: text, socketAddress: text, nodeInfo: fc.constant(undefined) });
const event: fc.Arbitrary<Event> = fc.record({
  seq,
  kind: fc.oneof(
    { weight: 6, arbitrary: fc.record({ $case: fc.constant("receive" as const), value: fc.record({ connectionId: text, peerId: text, channelId: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 255 }), fc.nat()), message: bytes }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("onStart" as const), value: fc.constant({}) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("onStop" as const), value: fc.constant({}) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("initPeer" as const), value: fc.record({ peer: fc.option(peer, { nil: undefined }) }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("addPeer" as const), value: fc.record({ connectionId: text, peerId: text }) }) },
    { weight: 1, arbitrary: fc.record({ $case: fc.constant("removePeer" as const), value: fc.record({ connectionId: text, peerId: text, reason: text }) }) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  ),
});

describe("encodeAttachResponse", () => {
  it("writes the generated encoder's bytes for event batches", () => {
    fc.assert(
      fc.property(fc.array(event, { maxLength: 40 }), (events) => {
        const res: AttachResponse = { msg: { $case: "events", value: { events } } };
        expect(Buffer.from(encodeAttachResponse(res)).equals(Buffer.from(AttachResponse.encode(res).finish()))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it("writes the right IDs when a few connections repeat, across batches (the encoder caches their bytes)", () => {
    // Twelve IDs, more than the encoder's cache holds: hits, misses and evictions, in one batch and from one batch to the next.
    const pool = Array.from({ length: 12 }, (_, i) => (i === 11 ? "é-ü-" + "x".repeat(i) : i.toString(16).repeat(i + 1)));
    const id = fc.constantFrom(...pool, "");
    const receive: fc.Arbitrary<Event> = fc.record({
      seq,
      kind: fc.record({ $case: fc.constant("receive" as const), value: fc.record({ connectionId: id, peerId: id, channelId: fc.integer({ min: 0, max: 255 }), message: fc.uint8Array({ maxLength: 40 }) }) }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(receive, { minLength: 1, maxLength: 30 }), { minLength: 1, maxLength: 4 }), (batches) => {
        for (const events of batches) {
          const res: AttachResponse = { msg: { $case: "events", value: { events } } };
          expect(Buffer.from(encodeAttachResponse(res)).equals(Buffer.from(AttachResponse.encode(res).finish()))).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("writes the generated encoder's bytes for a 1 MiB Receive and for other responses", () => {
    const big: AttachResponse = { msg: { $case: "events", value: { events: [{ seq: 7n, kind: { $case: "receive", value: { connectionId: "c".repeat(200), peerId: "p".repeat(40), channelId: 0x40, message: new Uint8Array(1 << 20).fill(9) } } }] } } };
    const others: AttachResponse[] = [
      { msg: { $case: "results", value: { results: [{ requestId: 2n ** 64n - 1n, error: undefined, kind: { $case: "send", value: { queued: true } } }] } } },
      { msg: { $case: "result", value: { requestId: 1n, error: { code: 5, message: "no", reason: ErrorReason.ERROR_REASON_UNKNOWN_PEER }, kind: undefined } } },
      { msg: undefined },
    ];
    for (const res of [big, ...others]) expect(Buffer.from(encodeAttachResponse(res)).equals(Buffer.from(AttachResponse.encode(res).finish()))).toBe(true);
    const decoded = AttachResponse.decode(encodeAttachResponse(big)).msg;
    const e = decoded?.$case === "events" ? decoded.value.events[0] : undefined;
    expect(e?.seq).toBe(7n);
    expect(e?.kind?.$case === "receive" && Buffer.from(e.kind.value.message).equals(Buffer.alloc(1 << 20, 9))).toBe(true);
  });
});
