/**
 * Hostile NodeInfo bodies (`decodeNodeInfo`, `validateNodeInfo`,
 * `checkCompatible`): structurally valid messages with adversarial field
 * values, mutated valid encodings, oversize bodies and junk (the property
 * lives in fuzz/targets/node-info.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { OUR_NODE_INFO, checkNodeInfo, type DecodeNodeInfo } from "../../../fuzz/targets/node-info.js";
import { DefaultNodeInfo } from "../../src/gen/switchboard/p2p/v1/types.js";
import { DecodeError } from "../../src/wire/errors.js";
import { MAX_NODE_INFO_SIZE_BYTES, decodeNodeInfo, encodeNodeInfo } from "../../src/wire/node-info.js";
import { expectPropertyToFail, junk } from "./support.js";

const text = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
  fc.constantFrom("", " ", "\t", "a\u0000b", "tcp://127.0.0.1:26656", "[::1]:1", "1.2.3.4:65536", "host:-1", "on", "off", "x".repeat(300)),
);

const nodeInfoMessage: fc.Arbitrary<DefaultNodeInfo> = fc.record({
  protocolVersion: fc.option(fc.record({ p2p: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), block: fc.constantFrom(11n, 0n, 2n ** 64n - 1n), app: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }) }), { nil: undefined }),
  defaultNodeId: fc.oneof(fc.stringMatching(/^[0-9a-fA-F]{40}$/), text),
  listenAddr: fc.oneof(fc.constantFrom("tcp://0.0.0.0:26656", "127.0.0.1:1", "[2001:db8::1]:26656", "example.com:80"), text),
  network: fc.constantFrom("fuzz-chain", "other", ""),
  version: text,
  channels: fc.oneof(fc.uint8Array({ maxLength: 20 }), fc.constant(Uint8Array.of(0x40, 0x40))),
  moniker: text,
  other: fc.option(fc.record({ txIndex: text, rpcAddress: text }), { nil: undefined }),
});

const body = fc.oneof(
  { weight: 5, arbitrary: nodeInfoMessage.map((m) => DefaultNodeInfo.encode(m).finish()) },
  {
    weight: 2,
    arbitrary: fc.tuple(fc.constant(encodeNodeInfo(OUR_NODE_INFO)), fc.integer({ min: 0, max: 200 }), fc.integer({ min: 0, max: 255 })).map(([b, at, v]) => {
      const out = b.slice();
      out[at % out.length] = v;
      return out;
    }),
  },
  { weight: 1, arbitrary: junk(100) },
  { weight: 1, arbitrary: fc.integer({ min: MAX_NODE_INFO_SIZE_BYTES - 2, max: MAX_NODE_INFO_SIZE_BYTES + 2 }).map((n) => new Uint8Array(n)) },
);

describe("NodeInfo under hostile input", () => {
  it("decodes, validates and checks compatibility with typed errors only; accepted ones round-trip and keep the Switch's invariants", () => {
    let valid = 0;
    fc.assert(
      fc.property(body, (b) => {
        if (checkNodeInfo(b) !== null) valid++;
      }),
      { numRuns: 2000 },
    );
    // The arbitraries must reach the accepting path, or the invariants above were never checked.
    expect(valid).toBeGreaterThan(20);
  });

  it("a body over 10240 bytes is refused before decoding", () => {
    expect(() => decodeNodeInfo(new Uint8Array(MAX_NODE_INFO_SIZE_BYTES + 1))).toThrow(DecodeError);
  });

  describe("the property catches broken decoders", () => {
    it("one without the size limit", () => {
      const unlimited: DecodeNodeInfo = (b) => decodeNodeInfo(b.length > MAX_NODE_INFO_SIZE_BYTES ? b.subarray(0, 0) : b);
      expectPropertyToFail(body, (b) => {
        checkNodeInfo(b, unlimited);
      });
    });
    it("one that lets protobuf errors escape untyped", () => {
      const raw: DecodeNodeInfo = (b) => {
        DefaultNodeInfo.decode(b);
        return decodeNodeInfo(b);
      };
      expectPropertyToFail(body, (b) => {
        checkNodeInfo(b, raw);
      });
    });
    it("one that loses a channel", () => {
      const lossy: DecodeNodeInfo = (b) => {
        const info = decodeNodeInfo(b);
        return { ...info, channels: info.channels.slice(1) };
      };
      expectPropertyToFail(body, (b) => {
        checkNodeInfo(b, lossy);
      });
    });
  });
});
