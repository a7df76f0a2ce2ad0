import { describe, expect, it } from "vitest";
import { PexDecodeError, PexInvalidAddressError } from "../../../src/p2p/pex/errors.js";
import { addressesFromProto, decodePexMessage, encodePexAddrs, encodePexRequest } from "../../../src/p2p/pex/pex-messages.js";
import { hex, readVectorJson, unhex } from "../../support/vectors.js";

interface ProtoVectors {
  readonly vectors: readonly { readonly source: string; readonly what: string; readonly hex: string }[];
}

const pexVectors = readVectorJson<ProtoVectors>("proto_vectors.json").vectors.filter((v) => v.source.includes("TestPexVectors"));
const wireExamples = readVectorJson<Record<string, unknown>>("wire_examples.json");

function vector(whatIncludes: string): string {
  const v = pexVectors.find((x) => x.what.includes(whatIncludes));
  if (v === undefined) throw new Error(`no TestPexVectors entry for ${whatIncludes}`);
  return v.hex;
}

describe("PEX wire vectors (TestPexVectors)", () => {
  it("has both upstream vectors", () => {
    expect(pexVectors).toHaveLength(2);
  });

  it("encodes PexRequest as the vector 0a00 and decodes it back", () => {
    expect(hex(encodePexRequest())).toBe(vector("pex_request"));
    expect(hex(encodePexRequest())).toBe("0a00");
    expect(decodePexMessage(unhex("0a00"))).toEqual({ kind: "request" });
  });

  it("encodes the one-address PexAddrs vector byte for byte and decodes it back", () => {
    const expected = vector("pex_addrs");
    expect(expected).toBe(wireExamples["PexAddrs vector (TestPexVectors)"]);
    expect(hex(encodePexAddrs([{ id: "1", host: "127.0.0.1", port: 9090 }]))).toBe(expected);
    const decoded = decodePexMessage(unhex(expected));
    expect(decoded).toEqual({ kind: "addrs", addrs: [{ id: "1", ip: "127.0.0.1", port: 9090 }] });
  });

  it("encodes an empty PexAddrs as 1200 and decodes it back", () => {
    expect(hex(encodePexAddrs([]))).toBe("1200");
    expect(decodePexMessage(unhex("1200"))).toEqual({ kind: "addrs", addrs: [] });
  });
});

describe("decodePexMessage errors", () => {
  it.each([
    ["empty payload", "", /no known message/],
    ["legacy V2 field 3", "1a00", /unknown oneof/],
    ["truncated length", "1205", /do not decode/],
    ["invalid wire type", "0f", /do not decode/],
  ])("%s is a PexDecodeError", (_name, bytes, message) => {
    const run = (): unknown => decodePexMessage(unhex(bytes));
    expect(run).toThrow(PexDecodeError);
    expect(run).toThrow(message);
  });
});

describe("addressesFromProto", () => {
  it("canonicalises IPs and keeps IDs as sent", () => {
    expect(addressesFromProto([{ id: "ab", ip: "::ffff:8.8.8.8", port: 1 }, { id: "cd", ip: "2A00::1", port: 2 }])).toEqual([
      { id: "ab", host: "8.8.8.8", port: 1 },
      { id: "cd", host: "2a00::1", port: 2 },
    ]);
  });

  it.each([
    [{ id: "a", ip: "example.com", port: 1 }, /not an IP address/],
    [{ id: "a", ip: "", port: 1 }, /not an IP address/],
    [{ id: "a", ip: "8.8.8.8", port: 65_536 }, /port 65536/],
  ])("refuses %j", (addr, message) => {
    const run = (): unknown => addressesFromProto([{ id: "ok", ip: "1.1.1.1", port: 1 }, addr]);
    expect(run).toThrow(PexInvalidAddressError);
    expect(run).toThrow(/entry 1/);
    expect(run).toThrow(message);
  });
});
