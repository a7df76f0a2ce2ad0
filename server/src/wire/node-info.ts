/**
 * NodeInfo: what a node says about itself right after the SecretConnection
 * handshake, and the checks CometBFT v0.38 applies to what it receives
 * (`Validate` and `CompatibleWith` in p2p/node_info.go).
 */
import { DefaultNodeInfo } from "../gen/switchboard/p2p/v1/types.js";
import { DecodeError, WireError } from "./errors.js";
import { encodeDelimited } from "./varint.js";

/** Largest NodeInfo body CometBFT reads (bytes, excluding the uvarint prefix). */
export const MAX_NODE_INFO_SIZE_BYTES = 10_240;
/** Most channels a NodeInfo may list. */
export const MAX_NUM_CHANNELS = 16;
/** P2P protocol version of CometBFT v0.38 (not compared by peers). */
export const P2P_PROTOCOL_VERSION = 8n;
/** Block protocol version of CometBFT v0.38 chains; peers must agree on it. */
export const BLOCK_PROTOCOL_VERSION = 11n;

/** Our in-memory NodeInfo, with channels as plain numbers. */
export interface NodeInfo {
  readonly protocolVersion: { readonly p2p: bigint; readonly block: bigint; readonly app: bigint };
  /** 40 lower-case hex characters. */
  readonly nodeId: string;
  /** `host:port`, optionally with a scheme, as the node advertises it. */
  readonly listenAddr: string;
  /** Chain ID. */
  readonly network: string;
  /** Software version. */
  readonly version: string;
  /** Channel IDs this node handles, in registration order. */
  readonly channels: readonly number[];
  readonly moniker: string;
  readonly other: { readonly txIndex: string; readonly rpcAddress: string };
}

/** A NodeInfo that fails `Validate`. */
export class NodeInfoInvalidError extends WireError {
  readonly code = "node_info_invalid";
  constructor(
    readonly field: string,
    reason: string,
  ) {
    super(`invalid NodeInfo: ${field}: ${reason}`);
  }
}

/** What makes two NodeInfos incompatible: the network, the block protocol version, or no channel in common. */
export type IncompatibilityKind = "wrong_network" | "wrong_block_version" | "no_common_channel";

/** A NodeInfo that is valid but not compatible with ours. */
export class NodeInfoIncompatibleError extends WireError {
  readonly code = "node_info_incompatible";
  constructor(
    readonly kind: IncompatibilityKind,
    reason: string,
  ) {
    super(`incompatible peer: ${reason}`);
  }
}

const NODE_ID_PATTERN = /^[0-9a-fA-F]{40}$/;

/** True for a well-formed node ID in any case (CometBFT's validateID). */
export function isValidNodeId(id: string): boolean {
  return NODE_ID_PATTERN.test(id);
}

function isPrintableAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

function isBlank(s: string): boolean {
  return s.trim().length === 0;
}

/** Strips a `scheme://` prefix, as CometBFT does before parsing addresses. */
export function stripScheme(addr: string): string {
  const at = addr.indexOf("://");
  return at === -1 ? addr : addr.slice(at + 3);
}

/**
 * Splits `host:port` the way Go's net.SplitHostPort does: IPv6 hosts need
 * brackets. Returns null when the form is wrong.
 */
export function splitHostPort(hostPort: string): { host: string; port: string } | null {
  if (hostPort.startsWith("[")) {
    const close = hostPort.indexOf("]");
    if (close === -1 || hostPort[close + 1] !== ":") return null;
    const host = hostPort.slice(1, close);
    const port = hostPort.slice(close + 2);
    if (port.includes(":")) return null;
    return { host, port };
  }
  const colon = hostPort.lastIndexOf(":");
  if (colon === -1) return null;
  const host = hostPort.slice(0, colon);
  if (host.includes(":")) return null; // unbracketed IPv6
  return { host, port: hostPort.slice(colon + 1) };
}

const HOSTNAME_PATTERN = /^(?=.{1,253}$)([A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;
const IPV4_PATTERN = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** True when `host` is an IP literal or a syntactically valid DNS name. */
export function isValidHost(host: string): boolean {
  if (host.length === 0) return false;
  if (IPV4_PATTERN.test(host)) return true;
  if (host.includes(":")) return /^[0-9a-fA-F:.]+$/.test(host);
  return HOSTNAME_PATTERN.test(host);
}

/** Parses a decimal TCP port (0..65535); null when it is not one. */
export function parsePort(port: string): number | null {
  if (!/^\d{1,5}$/.test(port)) return null;
  const n = Number(port);
  return n <= 65_535 ? n : null;
}

/**
 * CometBFT's `DefaultNodeInfo.Validate`. The one difference: CometBFT
 * resolves a host name in listen_addr through DNS; we check that it is a
 * well-formed name and leave resolution to dialing.
 */
export function validateNodeInfo(info: NodeInfo): void {
  if (!isValidNodeId(info.nodeId)) throw new NodeInfoInvalidError("default_node_id", "must be 40 hex characters");
  const hostPort = splitHostPort(stripScheme(info.listenAddr));
  if (hostPort === null) throw new NodeInfoInvalidError("listen_addr", `"${info.listenAddr}" is not host:port`);
  if (!isValidHost(hostPort.host)) throw new NodeInfoInvalidError("listen_addr", `"${hostPort.host}" is not a valid host`);
  if (parsePort(hostPort.port) === null) throw new NodeInfoInvalidError("listen_addr", `"${hostPort.port}" is not a valid port`);
  if (info.version.length > 0 && (!isPrintableAscii(info.version) || isBlank(info.version))) {
    throw new NodeInfoInvalidError("version", "must be printable ASCII and not only spaces");
  }
  if (info.channels.length > MAX_NUM_CHANNELS) {
    throw new NodeInfoInvalidError("channels", `${info.channels.length} channels, at most ${MAX_NUM_CHANNELS} allowed`);
  }
  const seen = new Set<number>();
  for (const ch of info.channels) {
    if (seen.has(ch)) throw new NodeInfoInvalidError("channels", `duplicate channel 0x${ch.toString(16).padStart(2, "0")}`);
    seen.add(ch);
  }
  if (info.moniker.length === 0 || !isPrintableAscii(info.moniker) || isBlank(info.moniker)) {
    throw new NodeInfoInvalidError("moniker", "must be non-empty printable ASCII and not only spaces");
  }
  const txIndex = info.other.txIndex;
  if (txIndex !== "" && txIndex !== "on" && txIndex !== "off") {
    throw new NodeInfoInvalidError("other.tx_index", `"${txIndex}" is not "", "on" or "off"`);
  }
  const rpc = info.other.rpcAddress;
  if (rpc.length > 0 && (!isPrintableAscii(rpc) || isBlank(rpc))) {
    throw new NodeInfoInvalidError("other.rpc_address", "must be printable ASCII and not only spaces");
  }
}

/**
 * CometBFT's `CompatibleWith`: same block protocol, same network, and at least
 * one common channel, unless neither side lists any. (CometBFT accepts any
 * peer while it lists no channel itself; we refuse one that lists some, since
 * that peer refuses us.) The error's `kind` says which check failed.
 */
export function checkCompatible(ours: NodeInfo, theirs: NodeInfo): void {
  if (ours.protocolVersion.block !== theirs.protocolVersion.block) {
    throw new NodeInfoIncompatibleError(
      "wrong_block_version",
      `block protocol version: the peer's is ${theirs.protocolVersion.block}, ours is ${ours.protocolVersion.block}`,
    );
  }
  if (ours.network !== theirs.network) {
    throw new NodeInfoIncompatibleError("wrong_network", `wrong network: the peer is on "${theirs.network}", we are on "${ours.network}"`);
  }
  // Two nodes without channels are compatible (CometBFT: "we're just testing").
  if (ours.channels.length === 0 && theirs.channels.length === 0) return;
  const theirsSet = new Set(theirs.channels);
  if (!ours.channels.some((ch) => theirsSet.has(ch))) {
    // CometBFT accepts anyone when it lists no channel itself; but the peer,
    // which lists some, refuses us (the same rule from its side), so such a
    // connection would only be dropped at once: refuse it here too, with the reason.
    throw new NodeInfoIncompatibleError("no_common_channel", `no channel in common: the peer has ${formatChannels(theirs.channels)}, we have ${formatChannels(ours.channels)}`);
  }
}

function formatChannels(channels: readonly number[]): string {
  if (channels.length === 0) return "none";
  return channels.map((c) => `0x${c.toString(16).padStart(2, "0")}`).join(",");
}

/** The protobuf body of a NodeInfo (no length prefix). */
export function encodeNodeInfo(info: NodeInfo): Uint8Array {
  return DefaultNodeInfo.encode({
    protocolVersion: { p2p: info.protocolVersion.p2p, block: info.protocolVersion.block, app: info.protocolVersion.app },
    defaultNodeId: info.nodeId,
    listenAddr: info.listenAddr,
    network: info.network,
    version: info.version,
    channels: Uint8Array.from(info.channels),
    moniker: info.moniker,
    other: { txIndex: info.other.txIndex, rpcAddress: info.other.rpcAddress },
  }).finish();
}

// Encodings of the NodeInfo objects a node sends at every handshake (a
// Switch keeps one object until its listen address changes). Weak keys: an
// entry goes with its object.
const delimitedEncodings = new WeakMap<NodeInfo, Uint8Array>();

/**
 * `uvarint(len) || body`, as it is written through the SecretConnection. The
 * bytes are remembered per NodeInfo object (NodeInfo is immutable) and shared
 * between calls: callers must not modify them.
 */
export function encodeNodeInfoDelimited(info: NodeInfo): Uint8Array {
  let bytes = delimitedEncodings.get(info);
  if (bytes === undefined) {
    bytes = encodeDelimited(encodeNodeInfo(info));
    delimitedEncodings.set(info, bytes);
  }
  return bytes;
}

/** Decodes a NodeInfo body; throws {@link DecodeError} on malformed bytes. */
export function decodeNodeInfo(body: Uint8Array): NodeInfo {
  if (body.length > MAX_NODE_INFO_SIZE_BYTES) {
    throw new DecodeError("NodeInfo", `${body.length} bytes exceeds ${MAX_NODE_INFO_SIZE_BYTES}`);
  }
  let msg: DefaultNodeInfo;
  try {
    msg = DefaultNodeInfo.decode(body);
  } catch (err) {
    throw new DecodeError("NodeInfo", err instanceof Error ? err.message : String(err), { cause: err });
  }
  const pv = msg.protocolVersion;
  const other = msg.other;
  return {
    protocolVersion: { p2p: pv?.p2p ?? 0n, block: pv?.block ?? 0n, app: pv?.app ?? 0n },
    nodeId: msg.defaultNodeId,
    listenAddr: msg.listenAddr,
    network: msg.network,
    version: msg.version,
    channels: Array.from(msg.channels),
    moniker: msg.moniker,
    other: { txIndex: other?.txIndex ?? "", rpcAddress: other?.rpcAddress ?? "" },
  };
}
