/**
 * Hostile bytes on the blocksync and mempool channels, through the generated
 * decoders reactors use (`BlocksyncMessage`, `MempoolMessage`). These have no
 * typed errors of their own: the property is that they fail only with the
 * protobuf reader's documented errors (never a TypeError or a stack
 * overflow), that what they accept re-encodes to a fixpoint, and that they
 * decode in time linear in the input.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { concatBytes } from "../../../fuzz/targets/common.js";
import { BlocksyncMessage } from "../../src/gen/switchboard/cometbft/blocksync/v1/blocksync.js";
import { MempoolMessage } from "../../src/gen/switchboard/cometbft/mempool/v1/mempool.js";
import { bytesUpTo, expectPropertyToFail, junk } from "./support.js";

interface Codec<T> {
  decode(b: Uint8Array): T;
  encode(m: T): { finish(): Uint8Array };
}

/** The protobuf reader's own errors (@bufbuild/protobuf's BinaryReader) and ts-proto's depth guard. */
const READER_ERROR = /^(premature EOF|invalid varint|illegal tag: .*|cant skip wire type \d+|invalid end group tag|maximum recursion depth reached|protobuf decode recursion limit exceeded)$/;

function checkCodec<T>(codec: Codec<T>, bytes: Uint8Array): void {
  let msg: T;
  try {
    msg = codec.decode(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TypeError);
    expect((err as Error).message).toMatch(READER_ERROR);
    return;
  }
  const again = codec.decode(codec.encode(msg).finish());
  expect(again).toEqual(msg);
}

const blocksyncValid = fc
  .oneof(
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }).map((height): BlocksyncMessage => ({ sum: { $case: "blockRequest", value: { height } } })),
    fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }).map((height): BlocksyncMessage => ({ sum: { $case: "noBlockResponse", value: { height } } })),
    fc.constant<BlocksyncMessage>({ sum: { $case: "statusRequest", value: {} } }),
    fc.record({ h: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), b: fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }) }).map(
      ({ h, b }): BlocksyncMessage => ({ sum: { $case: "statusResponse", value: { height: h, base: b } } }),
    ),
    fc.array(bytesUpTo(64), { maxLength: 6 }).map(
      (txs): BlocksyncMessage => ({ sum: { $case: "blockResponse", value: { block: { header: undefined, data: { txs }, evidence: undefined, lastCommit: undefined }, extCommit: undefined } } }),
    ),
  )
  .map((m) => BlocksyncMessage.encode(m).finish());

const mempoolValid = fc.array(bytesUpTo(100), { maxLength: 8 }).map((txs) => MempoolMessage.encode({ sum: { $case: "txs", value: { txs } } }).finish());

/** Valid encodings with a few bytes changed, inserted or cut, or junk. */
function hostile(valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  return fc.oneof(
    valid,
    fc.tuple(valid, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 })).map(([b, edits]) => {
      const out = b.slice();
      for (const [at, v] of edits) if (out.length > 0) out[at % out.length] = v;
      return out;
    }),
    fc.tuple(valid, fc.nat(), junk(12)).map(([b, at, j]) => concatBytes([b.subarray(0, at % (b.length + 1)), j, b.subarray(at % (b.length + 1))])),
    fc.tuple(valid, fc.nat()).map(([b, at]) => b.subarray(0, at % (b.length + 1))),
    junk(128),
    // Groups nested deeper than any reader allows.
    fc.integer({ min: 90, max: 3000 }).map((n) => new Uint8Array(n).fill(0x0b)),
  );
}

describe("blocksync and mempool messages under hostile input", () => {
  it("BlocksyncMessage: the reader's errors only; accepted messages re-encode to a fixpoint", () => {
    fc.assert(fc.property(hostile(blocksyncValid), (b) => checkCodec(BlocksyncMessage, b)), { numRuns: 3000 });
  });

  it("MempoolMessage: the reader's errors only; accepted messages re-encode to a fixpoint", () => {
    fc.assert(fc.property(hostile(mempoolValid), (b) => checkCodec(MempoolMessage, b)), { numRuns: 3000 });
  });

  it("decoding is linear: 64 KiB of hostile patterns decode in well under a second", () => {
    const patterns = [0x0b, 0x0a, 0x12, 0x1a, 0x22, 0x2a, 0x80];
    for (const p of patterns) {
      const bytes = new Uint8Array(64 * 1024).fill(p);
      const started = performance.now();
      for (const codec of [BlocksyncMessage, MempoolMessage] as Codec<unknown>[]) {
        try {
          codec.decode(bytes);
        } catch {
          // Errors are checked above; only the time matters here.
        }
      }
      expect(performance.now() - started).toBeLessThan(1000);
    }
  });

  it("the property catches a decoder that leaks TypeErrors", () => {
    const leaky: Codec<MempoolMessage> = {
      decode: (b) => {
        const m = MempoolMessage.decode(b);
        if (m.sum === undefined) throw new TypeError("cannot read properties of undefined");
        return m;
      },
      encode: (m) => MempoolMessage.encode(m),
    };
    expectPropertyToFail(hostile(mempoolValid), (b) => {
      checkCodec(leaky, b);
    });
  });
});
