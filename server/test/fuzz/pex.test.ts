/**
 * Hostile messages on the PEX channel (`decodePexMessage`,
 * `addressesFromProto`): address lists with adversarial IPs, ports and IDs,
 * unknown oneof fields, and junk (the property lives in fuzz/targets/pex.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type DecodePex, checkPex } from "../../../fuzz/targets/pex.js";
import { PexMessage } from "../../src/gen/switchboard/p2p/v1/pex.js";
import { decodePexMessage } from "../../src/p2p/pex/pex-messages.js";
import { expectPropertyToFail, junk } from "./support.js";

const ip = fc.oneof(
  fc.ipV4(),
  fc.ipV6(),
  fc.ipV4Extended(),
  fc.constantFrom("", "::", "::ffff:1.2.3.4", "01.2.3.4", "1.2.3.4.5", "[::1]", "fe80::1%eth0", "localhost", "256.1.1.1", "1:2:3:4:5:6:7:8:9", ":::"),
  fc.string({ maxLength: 50 }),
);

const message = fc.oneof(
  fc.constant<PexMessage>({ sum: { $case: "pexRequest", value: {} } }),
  fc.record({
    sum: fc.record({
      $case: fc.constant("pexAddrs" as const),
      value: fc.record({
        addrs: fc.array(fc.record({ id: fc.oneof(fc.stringMatching(/^[0-9a-f]{40}$/), fc.string({ maxLength: 45 })), ip, port: fc.oneof(fc.integer({ min: 0, max: 65_535 }), fc.nat()) }), {
          maxLength: 12,
        }),
      }),
    }),
  }),
);

const bytes = fc.oneof(
  { weight: 5, arbitrary: message.map((m) => PexMessage.encode(m).finish()) },
  // Unknown oneof fields (CometBFT's legacy 3 and 4) and empty messages.
  { weight: 1, arbitrary: fc.constantFrom(Uint8Array.of(), Uint8Array.of(0x1a, 0x00), Uint8Array.of(0x22, 0x00), Uint8Array.of(0x0a, 0x02, 0x08, 0x01)) },
  { weight: 2, arbitrary: junk(80) },
);

describe("PEX messages under hostile input", () => {
  it("decode and convert with typed errors only; accepted addresses are canonical and round-trip", () => {
    let converted = 0;
    fc.assert(
      fc.property(bytes, (b) => {
        checkPex(b);
        const m = (() => {
          try {
            return decodePexMessage(b);
          } catch {
            return null;
          }
        })();
        if (m?.kind === "addrs" && m.addrs.length > 0) converted++;
      }),
      { numRuns: 3000 },
    );
    expect(converted).toBeGreaterThan(50);
  });

  describe("the property catches broken decoders", () => {
    it("one that lets protobuf errors escape untyped", () => {
      const raw: DecodePex = (b) => {
        PexMessage.decode(b);
        return decodePexMessage(b);
      };
      expectPropertyToFail(bytes, (b) => {
        checkPex(b, raw);
      });
    });
    it("one that drops the last address", () => {
      const lossy: DecodePex = (b) => {
        const m = decodePexMessage(b);
        return m.kind === "addrs" ? { kind: "addrs", addrs: m.addrs.slice(0, -1) } : m;
      };
      expectPropertyToFail(
        bytes,
        (b) => {
          checkPex(b, lossy);
        },
        3000,
      );
    });
  });
});
