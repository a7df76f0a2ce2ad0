import { describe, expect, it } from "vitest";
import {
  BLOCK_PROTOCOL_VERSION,
  type NodeInfo,
  NodeInfoIncompatibleError,
  NodeInfoInvalidError,
  P2P_PROTOCOL_VERSION,
  checkCompatible,
  decodeNodeInfo,
  encodeNodeInfoDelimited,
  splitHostPort,
  validateNodeInfo,
} from "../../src/wire/node-info.js";
import { DecodeError } from "../../src/wire/errors.js";
import { hex, readVectorJson, unhex } from "../support/vectors.js";

const examples = readVectorJson<Record<string, string | number>>("wire_examples.json");
const exampleKey = Object.keys(examples).find((k) => k.startsWith("DefaultNodeInfo example"));
const exampleHex = String(examples[exampleKey ?? ""]);

const base: NodeInfo = {
  protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0n },
  nodeId: "0b14a087357f7ba164bed9f4d5a15d249341b273",
  listenAddr: "tcp://0.0.0.0:26656",
  network: "test-chain",
  version: "0.38.9",
  channels: [0x40, 0x20, 0x21, 0x22, 0x23, 0x30, 0x38, 0x60, 0x61, 0x00],
  moniker: "node0",
  other: { txIndex: "on", rpcAddress: "tcp://127.0.0.1:26657" },
};

describe("NodeInfo encoding", () => {
  it("matches the shared wire example byte for byte", () => {
    expect(hex(encodeNodeInfoDelimited(base))).toBe(exampleHex);
  });

  it("encodes each NodeInfo object once, and an equal-looking new object afresh", () => {
    const first = encodeNodeInfoDelimited(base);
    expect(encodeNodeInfoDelimited(base)).toBe(first);
    const moved = { ...base, listenAddr: "tcp://10.0.0.1:26656" };
    const encoded = encodeNodeInfoDelimited(moved);
    expect(encoded).not.toBe(first);
    expect(decodeNodeInfo(encoded.subarray(2))).toEqual(moved);
  });

  it("decodes the shared example back to the same fields", () => {
    const body = unhex(exampleHex).subarray(2); // 0x89 0x01 prefix = 137 bytes
    expect(decodeNodeInfo(body)).toEqual(base);
  });

  it("decodes a NodeInfo whose non-nullable parts were omitted", () => {
    const info = decodeNodeInfo(unhex("1228" + Buffer.from(base.nodeId).toString("hex")));
    expect(info.protocolVersion).toEqual({ p2p: 0n, block: 0n, app: 0n });
    expect(info.other).toEqual({ txIndex: "", rpcAddress: "" });
  });

  it("refuses malformed bytes with a DecodeError", () => {
    expect(() => decodeNodeInfo(unhex("0aff"))).toThrow(DecodeError);
  });
});

describe("validateNodeInfo", () => {
  it("accepts the example", () => {
    expect(() => {
      validateNodeInfo(base);
    }).not.toThrow();
  });

  const bad: [string, Partial<NodeInfo>, string][] = [
    ["bad id", { nodeId: "xyz" }, "default_node_id"],
    ["listen_addr without port", { listenAddr: "tcp://127.0.0.1" }, "listen_addr"],
    ["listen_addr with empty host", { listenAddr: ":26656" }, "listen_addr"],
    ["listen_addr with bad port", { listenAddr: "127.0.0.1:70000" }, "listen_addr"],
    ["unbracketed IPv6", { listenAddr: "::1:26656" }, "listen_addr"],
    ["non-printable version", { version: "0.38\u0001" }, "version"],
    ["blank version", { version: "   " }, "version"],
    ["17 channels", { channels: Array.from({ length: 17 }, (_, i) => i) }, "channels"],
    ["duplicate channel", { channels: [0x40, 0x40] }, "channels"],
    ["empty moniker", { moniker: "" }, "moniker"],
    ["non-ASCII moniker", { moniker: "nœud" }, "moniker"],
    ["bad tx_index", { other: { txIndex: "maybe", rpcAddress: "" } }, "other.tx_index"],
    ["blank rpc_address", { other: { txIndex: "", rpcAddress: "  " } }, "other.rpc_address"],
  ];
  for (const [name, patch, field] of bad) {
    it(`rejects ${name}, naming ${field}`, () => {
      let error: unknown;
      try {
        validateNodeInfo({ ...base, ...patch });
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(NodeInfoInvalidError);
      expect((error as NodeInfoInvalidError).field).toBe(field);
    });
  }

  it("accepts bracketed IPv6 and host names", () => {
    expect(splitHostPort("[::1]:26656")).toEqual({ host: "::1", port: "26656" });
    expect(() => {
      validateNodeInfo({ ...base, listenAddr: "[::1]:26656" });
    }).not.toThrow();
    expect(() => {
      validateNodeInfo({ ...base, listenAddr: "node1.example:26656" });
    }).not.toThrow();
  });
});

describe("checkCompatible", () => {
  const kindOf = (ours: NodeInfo, theirs: NodeInfo): string | null => {
    try {
      checkCompatible(ours, theirs);
      return null;
    } catch (err) {
      expect(err).toBeInstanceOf(NodeInfoIncompatibleError);
      return (err as NodeInfoIncompatibleError).kind;
    }
  };

  it("requires the same block version, the same network and a common channel, and says which failed", () => {
    expect(kindOf(base, { ...base, protocolVersion: { ...base.protocolVersion, block: 10n } })).toBe("wrong_block_version");
    expect(() => {
      checkCompatible(base, { ...base, network: "other" });
    }).toThrow(`incompatible peer: wrong network: the peer is on "other", we are on "${base.network}"`);
    expect(kindOf(base, { ...base, network: "other" })).toBe("wrong_network");
    expect(() => {
      checkCompatible({ ...base, channels: [0x40, 0x70] }, { ...base, channels: [0x99] });
    }).toThrow("incompatible peer: no channel in common: the peer has 0x99, we have 0x40,0x70");
    expect(kindOf(base, { ...base, channels: [0x99] })).toBe("no_common_channel");
    expect(kindOf(base, { ...base, channels: [0x00], protocolVersion: { ...base.protocolVersion, p2p: 7n, app: 5n } })).toBeNull();
  });

  it("two nodes that list no channel are compatible", () => {
    expect(kindOf({ ...base, channels: [] }, { ...base, channels: [] })).toBeNull();
  });

  it("refuses a peer that lists channels when we list none (CometBFT accepts it; the peer then refuses us)", () => {
    expect(() => {
      checkCompatible({ ...base, channels: [] }, { ...base, channels: [0x99] });
    }).toThrow("incompatible peer: no channel in common: the peer has 0x99, we have none");
    expect(kindOf({ ...base, channels: [0x99] }, { ...base, channels: [] })).toBe("no_common_channel");
  });
});
