/**
 * Fuzz target: NodeInfo as it arrives after the handshake (`decodeNodeInfo`,
 * `validateNodeInfo`, `checkCompatible`).
 *
 * Properties:
 * - decoding throws only `DecodeError` (bodies over 10240 bytes included);
 *   validation only `NodeInfoInvalidError`; compatibility only
 *   `NodeInfoIncompatibleError`;
 * - a decoded NodeInfo re-encodes and decodes to itself, and the re-encoding
 *   of a valid one is valid and fits the 10240-byte limit whenever the
 *   original did;
 * - a NodeInfo that passes validation has what the Switch relies on: a
 *   40-hex ID, at most 16 distinct channels in 0..255, a parsable port.
 */
import { DecodeError } from "../../server/src/wire/errors.js";
import {
  BLOCK_PROTOCOL_VERSION,
  MAX_NODE_INFO_SIZE_BYTES,
  MAX_NUM_CHANNELS,
  type NodeInfo,
  NodeInfoIncompatibleError,
  NodeInfoInvalidError,
  P2P_PROTOCOL_VERSION,
  checkCompatible,
  decodeNodeInfo,
  encodeNodeInfo,
  parsePort,
  splitHostPort,
  stripScheme,
  validateNodeInfo,
} from "../../server/src/wire/node-info.js";
import { check, expectTyped } from "./common.js";

export const OUR_NODE_INFO: NodeInfo = {
  protocolVersion: { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0n },
  nodeId: "a".repeat(40),
  listenAddr: "tcp://127.0.0.1:26656",
  network: "fuzz-chain",
  version: "0.38.0",
  channels: [0x00, 0x20, 0x40],
  moniker: "fuzz",
  other: { txIndex: "on", rpcAddress: "" },
};

function sameNodeInfo(a: NodeInfo, b: NodeInfo): boolean {
  return (
    a.protocolVersion.p2p === b.protocolVersion.p2p &&
    a.protocolVersion.block === b.protocolVersion.block &&
    a.protocolVersion.app === b.protocolVersion.app &&
    a.nodeId === b.nodeId &&
    a.listenAddr === b.listenAddr &&
    a.network === b.network &&
    a.version === b.version &&
    a.moniker === b.moniker &&
    a.channels.length === b.channels.length &&
    a.channels.every((c, i) => c === b.channels[i]) &&
    a.other.txIndex === b.other.txIndex &&
    a.other.rpcAddress === b.other.rpcAddress
  );
}

export type DecodeNodeInfo = (body: Uint8Array) => NodeInfo;

/** Runs the receive path on `body`; returns the NodeInfo if it was accepted as valid. */
export function checkNodeInfo(body: Uint8Array, decode: DecodeNodeInfo = decodeNodeInfo): NodeInfo | null {
  let info: NodeInfo;
  try {
    info = decode(body);
  } catch (err) {
    expectTyped(err, [DecodeError], "decodeNodeInfo");
    return null;
  }
  check(body.length <= MAX_NODE_INFO_SIZE_BYTES, () => `decoded a ${body.length}-byte NodeInfo, over the ${MAX_NODE_INFO_SIZE_BYTES}-byte limit`);
  check(info.channels.every((c) => Number.isInteger(c) && c >= 0 && c <= 255), "a channel outside 0..255");
  // Re-encoding gives the same NodeInfo back. It can be longer than the body: invalid UTF-8 in a
  // string decodes to U+FFFD, three bytes each. Past the limit the decoder must refuse it, typed.
  const reencoded = encodeNodeInfo(info);
  if (reencoded.length > MAX_NODE_INFO_SIZE_BYTES) {
    let refused = false;
    try {
      decode(reencoded);
    } catch (err) {
      expectTyped(err, [DecodeError], "decodeNodeInfo");
      refused = true;
    }
    check(refused, () => `decoded a ${reencoded.length}-byte re-encoding, over the ${MAX_NODE_INFO_SIZE_BYTES}-byte limit`);
  } else {
    check(sameNodeInfo(decode(reencoded), info), "NodeInfo does not survive re-encoding");
  }
  try {
    validateNodeInfo(info);
  } catch (err) {
    expectTyped(err, [NodeInfoInvalidError], "validateNodeInfo");
    return null;
  }
  check(/^[0-9a-fA-F]{40}$/.test(info.nodeId), "a valid NodeInfo with a malformed ID");
  check(info.channels.length <= MAX_NUM_CHANNELS && new Set(info.channels).size === info.channels.length, "a valid NodeInfo with too many or repeated channels");
  const hp = splitHostPort(stripScheme(info.listenAddr));
  check(hp !== null && parsePort(hp.port) !== null, "a valid NodeInfo whose listen_addr does not split into host and port");
  try {
    checkCompatible(OUR_NODE_INFO, info);
  } catch (err) {
    expectTyped(err, [NodeInfoIncompatibleError], "checkCompatible");
  }
  return info;
}

export function fuzz(data: Uint8Array): void {
  checkNodeInfo(data);
}
