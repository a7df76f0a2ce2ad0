/**
 * The typed configuration and the table of every key: its section, TOML name,
 * default, expected form and parser. The loader, the environment and flag
 * names, the `init` template and CONFIG.md are all derived from this table.
 */
import { hostname } from "node:os";
import type { GatewayConfig, GatewayFiles } from "../gateway/gateway.js";
import type { NetAddress } from "../p2p/net-address.js";
import { MAX_PACKET_MSG_PAYLOAD_BYTES } from "../wire/mconnection/defaults.js";
import * as D from "./defaults.js";
import {
  type GrpcListenAddress,
  type HostPort,
  type RawOrigin,
  parseBoolean,
  parseChainId,
  parseDuration,
  parseEnum,
  parseExternalAddress,
  parseGrpcAddress,
  parseIdList,
  parseInteger,
  parseListenHostPort,
  parseMetricNamespace,
  parseMoniker,
  parseNameList,
  parsePeerList,
  parsePositiveNumber,
  parseRelativeOrAbsolutePath,
  parseOptionalPath,
  parseTcpAddress,
} from "./values.js";

export type { GrpcListenAddress, HostPort } from "./values.js";
export type { GatewayConfig, GatewayFiles } from "../gateway/gateway.js";

export const LOG_LEVELS = ["trace", "debug", "info", "warn", "error", "fatal"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["plain", "json"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];
export const OVERFLOW_POLICIES = ["block", "drop-newest", "drop-oldest", "disconnect-peer"] as const;
/** What the gateway does when a reactor's event queue is full. */
export type OverflowPolicy = (typeof OVERFLOW_POLICIES)[number];

export interface NodeSectionConfig {
  /** Chain ID; peers on another network are refused. */
  readonly network: string;
  readonly p2pVersion: number;
  readonly blockVersion: number;
  readonly appVersion: number;
}

export interface P2PSectionConfig {
  /** Where the p2p listener binds; port 0 picks a free port. */
  readonly laddr: HostPort;
  /** `HOST:PORT` advertised to peers, or "" for the bound address. */
  readonly externalAddress: string;
  readonly seeds: readonly NetAddress[];
  readonly persistentPeers: readonly NetAddress[];
  readonly maxNumInboundPeers: number;
  readonly maxNumOutboundPeers: number;
  readonly unconditionalPeerIds: readonly string[];
  readonly privatePeerIds: readonly string[];
  /** ≤ 0 disables the limit. */
  readonly sendRateBytesPerSecond: number;
  readonly recvRateBytesPerSecond: number;
  readonly flushThrottleTimeoutMs: number;
  readonly sendQueueMaxBytesPerChannel: number;
  readonly sendQueueMaxBytes: number;
  readonly maxPacketMsgPayloadBytes: number;
  readonly allowDuplicateIp: boolean;
  readonly handshakeTimeoutMs: number;
  readonly dialTimeoutMs: number;
  readonly pex: boolean;
  /** Seed (crawler) mode of the PEX reactor; needs `pex`. */
  readonly seedMode: boolean;
  /** As written; relative paths are relative to the home directory. */
  readonly addrBookFile: string;
  readonly addrBookStrict: boolean;
  readonly maxConcurrentHandshakes: number;
  readonly acceptRatePerIpPerSecond: number;
  readonly acceptBurstPerIp: number;
}

/**
 * The `[grpc]` section, handed to the gateway as it is: the gateway declares
 * its config and files (`gateway/gateway.ts`); `listenAddress` is `laddr`
 * parsed, for the CLI.
 */
export interface GrpcSectionConfig extends GatewayConfig, GatewayFiles {
  /** {@link GatewayConfig.laddr}, parsed. */
  readonly listenAddress: GrpcListenAddress;
}

export interface InstrumentationConfig {
  /** Serve `/metrics`. */
  readonly prometheus: boolean;
  /** Host "" means every interface. */
  readonly prometheusListenAddr: HostPort;
  /** Metric name prefix. */
  readonly namespace: string;
}

/** The whole node configuration, parsed and validated. */
export interface SwitchboardConfig {
  /** Resolved: the host name when the file says "". */
  readonly moniker: string;
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
  readonly node: NodeSectionConfig;
  readonly p2p: P2PSectionConfig;
  readonly grpc: GrpcSectionConfig;
  readonly instrumentation: InstrumentationConfig;
}

// ------------------------------------------------------------------ the key table

/** TOML section; "" is the top level. */
export type SectionName = "" | "node" | "p2p" | "grpc" | "instrumentation";
export const SECTIONS: readonly SectionName[] = ["", "node", "p2p", "grpc", "instrumentation"];

export const SECTION_TITLES: Readonly<Record<SectionName, string>> = {
  "": "Main options",
  node: "Node identity and protocol versions",
  p2p: "P2P configuration (CometBFT's [p2p] section)",
  grpc: "Reactor gateway (gRPC)",
  instrumentation: "Instrumentation (Prometheus metrics)",
};

/** The value a default has in the file: what smol-toml gives back for it. */
export type TomlValue = string | number | boolean | readonly string[];

export interface KeySpec<T> {
  readonly section: SectionName;
  /** The TOML key, in CometBFT's spelling. */
  readonly key: string;
  /** `section.key`, or `key` at the top level. */
  readonly path: string;
  readonly default: D.Default<TomlValue>;
  /** What the key does, for the template and CONFIG.md. */
  readonly doc: string;
  /** The expected form, as errors say it: "expected <form>". */
  readonly form: string;
  /** Converts a raw value; throws `ValueError`. */
  readonly parse: (raw: unknown, origin: RawOrigin) => T;
}

function key<T>(
  section: SectionName,
  name: string,
  def: D.Default<TomlValue>,
  form: string,
  doc: string,
  parse: (raw: unknown, origin: RawOrigin) => T,
): KeySpec<T> {
  return Object.freeze({ section, key: name, path: section === "" ? name : `${section}.${name}`, default: def, doc, form, parse });
}

const INT32_MAX = 2 ** 31 - 1;
const NON_NEGATIVE_INTEGER = "a non-negative integer";
const POSITIVE_INTEGER = "a positive integer";
const DURATION = 'a duration such as "100ms" or "3s"';
const POSITIVE_DURATION = 'a duration above 0 such as "3s"';
const BOOLEAN = "true or false";
const PEER_LIST = "a comma-separated list of ID@HOST:PORT";
const ID_LIST = "a comma-separated list of node IDs (40 hex characters)";

export const MONIKER = key("", "moniker", D.DEFAULT_MONIKER, "a name of printable ASCII characters", "A custom human readable name for this node", (raw) => parseMoniker(raw));
export const LOG_LEVEL = key("", "log_level", D.DEFAULT_LOG_LEVEL, `one of ${LOG_LEVELS.join(", ")}`, "Output level for logging", (raw) => parseEnum(raw, LOG_LEVELS));
export const LOG_FORMAT = key("", "log_format", D.DEFAULT_LOG_FORMAT, `one of ${LOG_FORMATS.join(", ")}`, "Output format: 'plain' (one line of text per record, for people) or 'json' (one object per line, for log collectors)", (raw) => parseEnum(raw, LOG_FORMATS));

export const NODE_NETWORK = key("node", "network", D.DEFAULT_NETWORK, "a chain ID (1 to 50 printable characters, no spaces)", "Chain ID of the network; peers on another network are refused", (raw) => parseChainId(raw));
export const NODE_P2P_VERSION = key("node", "p2p_version", D.DEFAULT_P2P_VERSION, NON_NEGATIVE_INTEGER, "P2P protocol version advertised in NodeInfo", (raw, o) => parseInteger(raw, o, 0, Number.MAX_SAFE_INTEGER));
export const NODE_BLOCK_VERSION = key("node", "block_version", D.DEFAULT_BLOCK_VERSION, NON_NEGATIVE_INTEGER, "Block protocol version advertised in NodeInfo; peers with another one are refused", (raw, o) => parseInteger(raw, o, 0, Number.MAX_SAFE_INTEGER));
export const NODE_APP_VERSION = key("node", "app_version", D.DEFAULT_APP_VERSION, NON_NEGATIVE_INTEGER, "Application protocol version advertised in NodeInfo", (raw, o) => parseInteger(raw, o, 0, Number.MAX_SAFE_INTEGER));

export const P2P_LADDR = key("p2p", "laddr", D.DEFAULT_P2P_LADDR, "an address tcp://HOST:PORT", "Address to listen for incoming connections (port 0 picks a free port)", (raw) => parseTcpAddress(raw, 0));
export const P2P_EXTERNAL_ADDRESS = key("p2p", "external_address", D.DEFAULT_EXTERNAL_ADDRESS, '"" or an address HOST:PORT', "Address to advertise to peers for them to dial. If empty, the bound listen address is advertised. Example: 159.89.10.97:26656", (raw) => parseExternalAddress(raw));
export const P2P_SEEDS = key("p2p", "seeds", D.DEFAULT_SEEDS, PEER_LIST, "Comma separated list of seed nodes to connect to (used by the PEX reactor)", (raw) => parsePeerList(raw));
export const P2P_PERSISTENT_PEERS = key("p2p", "persistent_peers", D.DEFAULT_PERSISTENT_PEERS, PEER_LIST, "Comma separated list of nodes to keep persistent connections to", (raw) => parsePeerList(raw));
export const P2P_MAX_NUM_INBOUND_PEERS = key("p2p", "max_num_inbound_peers", D.DEFAULT_MAX_NUM_INBOUND_PEERS, NON_NEGATIVE_INTEGER, "Maximum number of inbound peers (unconditional peers not counted)", (raw, o) => parseInteger(raw, o, 0, INT32_MAX));
export const P2P_MAX_NUM_OUTBOUND_PEERS = key("p2p", "max_num_outbound_peers", D.DEFAULT_MAX_NUM_OUTBOUND_PEERS, NON_NEGATIVE_INTEGER, "Maximum number of outbound peers to connect to (persistent and unconditional peers are exempt)", (raw, o) => parseInteger(raw, o, 0, INT32_MAX));
export const P2P_UNCONDITIONAL_PEER_IDS = key("p2p", "unconditional_peer_ids", D.DEFAULT_UNCONDITIONAL_PEER_IDS, ID_LIST, "List of node IDs, to which a connection will be (re)established ignoring any existing limits", (raw) => parseIdList(raw));
export const P2P_PRIVATE_PEER_IDS = key("p2p", "private_peer_ids", D.DEFAULT_PRIVATE_PEER_IDS, ID_LIST, "Comma separated list of peer IDs to keep private (will not be gossiped to other peers)", (raw) => parseIdList(raw));
export const P2P_SEND_RATE = key("p2p", "send_rate", D.DEFAULT_SEND_RATE, NON_NEGATIVE_INTEGER, "Rate at which packets can be sent, in bytes/second, per connection (0: unlimited)", (raw, o) => parseInteger(raw, o, 0, Number.MAX_SAFE_INTEGER));
export const P2P_RECV_RATE = key("p2p", "recv_rate", D.DEFAULT_RECV_RATE, NON_NEGATIVE_INTEGER, "Rate at which packets can be received, in bytes/second, per connection (0: unlimited)", (raw, o) => parseInteger(raw, o, 0, Number.MAX_SAFE_INTEGER));
export const P2P_FLUSH_THROTTLE_TIMEOUT = key("p2p", "flush_throttle_timeout", D.DEFAULT_FLUSH_THROTTLE_TIMEOUT, DURATION, "Time to wait before flushing messages out on the connection", (raw) => parseDuration(raw));
export const P2P_SEND_QUEUE_MAX_BYTES_PER_CHANNEL = key("p2p", "send_queue_max_bytes_per_channel", D.DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL, POSITIVE_INTEGER, "Bytes one channel of a connection may hold queued for sending; beyond it Send waits and TrySend is not queued (a message goes into an empty queue whatever its size)", (raw, o) => parseInteger(raw, o, 1, Number.MAX_SAFE_INTEGER));
export const P2P_SEND_QUEUE_MAX_BYTES = key("p2p", "send_queue_max_bytes", D.DEFAULT_SEND_QUEUE_MAX_BYTES, POSITIVE_INTEGER, "Bytes all channels of a connection may hold queued for sending together", (raw, o) => parseInteger(raw, o, 1, Number.MAX_SAFE_INTEGER));
export const P2P_MAX_PACKET_MSG_PAYLOAD_SIZE = key("p2p", "max_packet_msg_payload_size", D.DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE, `an integer from 1 to ${MAX_PACKET_MSG_PAYLOAD_BYTES}`, "Maximum size of a message packet payload, in bytes", (raw, o) => parseInteger(raw, o, 1, MAX_PACKET_MSG_PAYLOAD_BYTES));
export const P2P_ALLOW_DUPLICATE_IP = key("p2p", "allow_duplicate_ip", D.DEFAULT_ALLOW_DUPLICATE_IP, BOOLEAN, "Toggle to disable guard against peers connecting from the same ip", (raw, o) => parseBoolean(raw, o));
export const P2P_HANDSHAKE_TIMEOUT = key("p2p", "handshake_timeout", D.DEFAULT_HANDSHAKE_TIMEOUT, POSITIVE_DURATION, "Deadline of the SecretConnection handshake, and again of the NodeInfo exchange", (raw) => parseDuration(raw, { positive: true }));
export const P2P_DIAL_TIMEOUT = key("p2p", "dial_timeout", D.DEFAULT_DIAL_TIMEOUT, POSITIVE_DURATION, "Deadline of an outbound TCP connect", (raw) => parseDuration(raw, { positive: true }));
export const P2P_PEX = key("p2p", "pex", D.DEFAULT_PEX, BOOLEAN, "Set true to enable the peer-exchange reactor", (raw, o) => parseBoolean(raw, o));
export const P2P_SEED_MODE = key(
  "p2p",
  "seed_mode",
  D.DEFAULT_SEED_MODE,
  BOOLEAN,
  "Seed mode, in which the node constantly crawls the network and looks for peers. If another node asks it for addresses, it responds and disconnects. Needs pex; ignored, with a warning, when pex is false",
  (raw, o) => parseBoolean(raw, o),
);
export const P2P_ADDR_BOOK_FILE = key("p2p", "addr_book_file", D.DEFAULT_ADDR_BOOK_FILE, "a file path", "Path to address book (relative paths are relative to the home directory)", (raw) => parseRelativeOrAbsolutePath(raw));
export const P2P_ADDR_BOOK_STRICT = key("p2p", "addr_book_strict", D.DEFAULT_ADDR_BOOK_STRICT, BOOLEAN, "Set true for strict address routability rules; set false for private or local networks", (raw, o) => parseBoolean(raw, o));
export const P2P_MAX_CONCURRENT_HANDSHAKES = key("p2p", "max_concurrent_handshakes", D.DEFAULT_MAX_CONCURRENT_HANDSHAKES, POSITIVE_INTEGER, "Handshakes in progress at once; beyond it new inbound connections are closed at once", (raw, o) => parseInteger(raw, o, 1, INT32_MAX));
export const P2P_ACCEPT_RATE_PER_IP = key("p2p", "accept_rate_per_ip", D.DEFAULT_ACCEPT_RATE_PER_IP, "a positive number", "Sustained inbound connection attempts per second from one IP", (raw, o) => parsePositiveNumber(raw, o));
export const P2P_ACCEPT_BURST_PER_IP = key("p2p", "accept_burst_per_ip", D.DEFAULT_ACCEPT_BURST_PER_IP, POSITIVE_INTEGER, "Inbound connection attempts one IP may make in a burst", (raw, o) => parseInteger(raw, o, 1, INT32_MAX));

export const GRPC_LADDR = key("grpc", "laddr", D.DEFAULT_GRPC_LADDR, "an address tcp://HOST:PORT, HOST:PORT or unix:///PATH", "Address the reactor gateway listens on", (raw) => ({ text: String(raw).trim(), address: parseGrpcAddress(raw) }));
export const GRPC_REACTORS = key("grpc", "reactors", D.DEFAULT_GRPC_REACTORS, 'a list of reactor names (["a", "b"] or "a,b")', "Reactors the node waits for before it starts the Switch (no peer connects before they are attached)", (raw) => parseNameList(raw));
export const GRPC_REGISTRATION_TIMEOUT = key("grpc", "registration_timeout", D.DEFAULT_REGISTRATION_TIMEOUT, POSITIVE_DURATION, "How long start waits for the reactors listed in `reactors` before it fails", (raw) => parseDuration(raw, { positive: true }));
export const GRPC_EVENT_QUEUE_MAX_MESSAGES = key("grpc", "event_queue_max_messages", D.DEFAULT_EVENT_QUEUE_MAX_MESSAGES, POSITIVE_INTEGER, "Events queued for one reactor stream, at most", (raw, o) => parseInteger(raw, o, 1, INT32_MAX));
export const GRPC_EVENT_QUEUE_MAX_BYTES = key("grpc", "event_queue_max_bytes", D.DEFAULT_EVENT_QUEUE_MAX_BYTES, POSITIVE_INTEGER, "Bytes of events queued for one reactor stream, at most", (raw, o) => parseInteger(raw, o, 1, Number.MAX_SAFE_INTEGER));
export const GRPC_DEFAULT_OVERFLOW_POLICY = key("grpc", "default_overflow_policy", D.DEFAULT_OVERFLOW_POLICY, `one of ${OVERFLOW_POLICIES.join(", ")}`, "What happens when a reactor's event queue is full, unless the reactor chose a policy when it registered", (raw) => parseEnum(raw, OVERFLOW_POLICIES));
export const GRPC_RESUME_WINDOW = key("grpc", "resume_window", D.DEFAULT_RESUME_WINDOW, DURATION, "How long a reactor whose stream dropped may reattach and resume before it is treated as gone (0: no resuming)", (raw) => parseDuration(raw));
const OPTIONAL_PATH = '"" or a file path (relative to the home directory)';
export const GRPC_TLS_CERT_FILE = key("grpc", "tls_cert_file", D.DEFAULT_GRPC_TLS_CERT_FILE, OPTIONAL_PATH, "PEM certificate chain of the gateway; with tls_key_file it serves TLS (required when laddr is not loopback or a unix socket)", (raw) => parseOptionalPath(raw));
export const GRPC_TLS_KEY_FILE = key("grpc", "tls_key_file", D.DEFAULT_GRPC_TLS_KEY_FILE, OPTIONAL_PATH, "PEM private key for tls_cert_file", (raw) => parseOptionalPath(raw));
export const GRPC_TLS_CLIENT_CA_FILE = key("grpc", "tls_client_ca_file", D.DEFAULT_GRPC_TLS_CLIENT_CA_FILE, OPTIONAL_PATH, "PEM CA: when set, clients must present a certificate it signed (mutual TLS)", (raw) => parseOptionalPath(raw));
export const GRPC_CREDENTIALS_FILE = key("grpc", "credentials_file", D.DEFAULT_GRPC_CREDENTIALS_FILE, OPTIONAL_PATH, "TOML file mapping reactor names and the admin role to tokens or client-certificate identities; when set, every call must authenticate", (raw) => parseOptionalPath(raw));
export const GRPC_MAX_MESSAGE_BYTES = key("grpc", "max_message_bytes", D.DEFAULT_MAX_MESSAGE_BYTES, "an integer from 1024 to 2147483647", "Largest gRPC message the gateway sends or receives", (raw, o) => parseInteger(raw, o, 1024, INT32_MAX));

export const INSTRUMENTATION_PROMETHEUS = key("instrumentation", "prometheus", D.DEFAULT_PROMETHEUS, BOOLEAN, "When true, Prometheus metrics are served under /metrics on prometheus_listen_addr", (raw, o) => parseBoolean(raw, o));
export const INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR = key("instrumentation", "prometheus_listen_addr", D.DEFAULT_PROMETHEUS_LISTEN_ADDR, "an address [HOST]:PORT", "Address to listen for Prometheus collector(s) connections (no host: every interface)", (raw) => parseListenHostPort(raw));
export const INSTRUMENTATION_NAMESPACE = key("instrumentation", "namespace", D.DEFAULT_NAMESPACE, "a Prometheus name (letters, digits, underscores)", "Instrumentation namespace: the prefix of every metric name", (raw) => parseMetricNamespace(raw));

/** Every key, in file order. */
export const ALL_KEYS: readonly KeySpec<unknown>[] = [
  MONIKER,
  LOG_LEVEL,
  LOG_FORMAT,
  NODE_NETWORK,
  NODE_P2P_VERSION,
  NODE_BLOCK_VERSION,
  NODE_APP_VERSION,
  P2P_LADDR,
  P2P_EXTERNAL_ADDRESS,
  P2P_SEEDS,
  P2P_PERSISTENT_PEERS,
  P2P_MAX_NUM_INBOUND_PEERS,
  P2P_MAX_NUM_OUTBOUND_PEERS,
  P2P_UNCONDITIONAL_PEER_IDS,
  P2P_PRIVATE_PEER_IDS,
  P2P_SEND_RATE,
  P2P_RECV_RATE,
  P2P_FLUSH_THROTTLE_TIMEOUT,
  P2P_SEND_QUEUE_MAX_BYTES_PER_CHANNEL,
  P2P_SEND_QUEUE_MAX_BYTES,
  P2P_MAX_PACKET_MSG_PAYLOAD_SIZE,
  P2P_ALLOW_DUPLICATE_IP,
  P2P_HANDSHAKE_TIMEOUT,
  P2P_DIAL_TIMEOUT,
  P2P_PEX,
  P2P_SEED_MODE,
  P2P_ADDR_BOOK_FILE,
  P2P_ADDR_BOOK_STRICT,
  P2P_MAX_CONCURRENT_HANDSHAKES,
  P2P_ACCEPT_RATE_PER_IP,
  P2P_ACCEPT_BURST_PER_IP,
  GRPC_LADDR,
  GRPC_REACTORS,
  GRPC_REGISTRATION_TIMEOUT,
  GRPC_EVENT_QUEUE_MAX_MESSAGES,
  GRPC_EVENT_QUEUE_MAX_BYTES,
  GRPC_DEFAULT_OVERFLOW_POLICY,
  GRPC_RESUME_WINDOW,
  GRPC_MAX_MESSAGE_BYTES,
  GRPC_TLS_CERT_FILE,
  GRPC_TLS_KEY_FILE,
  GRPC_TLS_CLIENT_CA_FILE,
  GRPC_CREDENTIALS_FILE,
  INSTRUMENTATION_PROMETHEUS,
  INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR,
  INSTRUMENTATION_NAMESPACE,
];

export const KEYS_BY_PATH: ReadonlyMap<string, KeySpec<unknown>> = new Map(ALL_KEYS.map((k) => [k.path, k]));

/**
 * Keys CometBFT has in these sections that Switchboard does not implement:
 * an error names them as such instead of "unknown key".
 */
export const UNSUPPORTED_COMETBFT_KEYS: ReadonlyMap<string, string> = new Map([
  ["p2p.persistent_peers_max_dial_period", "not configurable in Switchboard; persistent peers are redialled on CometBFT's fixed schedule"],
  ["p2p.test_dial_fail", "a CometBFT test setting"],
  ["p2p.test_fuzz", "a CometBFT test setting"],
  ["p2p.test_fuzz_config", "a CometBFT test setting"],
  ["instrumentation.max_open_connections", "not configurable in Switchboard"],
]);

/** `SWITCHBOARD_P2P_LADDR` for `p2p.laddr`, `SWITCHBOARD_MONIKER` for `moniker`. */
export function envVarName(spec: KeySpec<unknown>): string {
  return `${D.ENV_PREFIX}${spec.section === "" ? "" : `${spec.section.toUpperCase()}_`}${spec.key.toUpperCase()}`;
}

/** `--p2p.laddr`, `--moniker`. */
export function flagName(spec: KeySpec<unknown>): string {
  return `--${spec.path}`;
}

/** The host name, when NodeInfo would accept it as a moniker; else a fixed name. */
export function defaultMoniker(): string {
  const h = hostname();
  return /^[\x20-\x7e]+$/.test(h) && h.trim().length > 0 ? h : D.FALLBACK_MONIKER;
}

/** Assembles the typed config; `get` returns each key's parsed value. */
export function buildConfig(get: <T>(spec: KeySpec<T>) => T): SwitchboardConfig {
  const moniker = get(MONIKER);
  return {
    moniker: moniker === "" ? defaultMoniker() : moniker,
    logLevel: get(LOG_LEVEL),
    logFormat: get(LOG_FORMAT),
    node: {
      network: get(NODE_NETWORK),
      p2pVersion: get(NODE_P2P_VERSION),
      blockVersion: get(NODE_BLOCK_VERSION),
      appVersion: get(NODE_APP_VERSION),
    },
    p2p: {
      laddr: get(P2P_LADDR),
      externalAddress: get(P2P_EXTERNAL_ADDRESS),
      seeds: get(P2P_SEEDS),
      persistentPeers: get(P2P_PERSISTENT_PEERS),
      maxNumInboundPeers: get(P2P_MAX_NUM_INBOUND_PEERS),
      maxNumOutboundPeers: get(P2P_MAX_NUM_OUTBOUND_PEERS),
      unconditionalPeerIds: get(P2P_UNCONDITIONAL_PEER_IDS),
      privatePeerIds: get(P2P_PRIVATE_PEER_IDS),
      sendRateBytesPerSecond: get(P2P_SEND_RATE),
      recvRateBytesPerSecond: get(P2P_RECV_RATE),
      flushThrottleTimeoutMs: get(P2P_FLUSH_THROTTLE_TIMEOUT),
      sendQueueMaxBytesPerChannel: get(P2P_SEND_QUEUE_MAX_BYTES_PER_CHANNEL),
      sendQueueMaxBytes: get(P2P_SEND_QUEUE_MAX_BYTES),
      maxPacketMsgPayloadBytes: get(P2P_MAX_PACKET_MSG_PAYLOAD_SIZE),
      allowDuplicateIp: get(P2P_ALLOW_DUPLICATE_IP),
      handshakeTimeoutMs: get(P2P_HANDSHAKE_TIMEOUT),
      dialTimeoutMs: get(P2P_DIAL_TIMEOUT),
      pex: get(P2P_PEX),
      seedMode: get(P2P_SEED_MODE),
      addrBookFile: get(P2P_ADDR_BOOK_FILE),
      addrBookStrict: get(P2P_ADDR_BOOK_STRICT),
      maxConcurrentHandshakes: get(P2P_MAX_CONCURRENT_HANDSHAKES),
      acceptRatePerIpPerSecond: get(P2P_ACCEPT_RATE_PER_IP),
      acceptBurstPerIp: get(P2P_ACCEPT_BURST_PER_IP),
    },
    grpc: {
      laddr: get(GRPC_LADDR).text,
      listenAddress: get(GRPC_LADDR).address,
      reactors: get(GRPC_REACTORS),
      registrationTimeoutMs: get(GRPC_REGISTRATION_TIMEOUT),
      eventQueueMaxMessages: get(GRPC_EVENT_QUEUE_MAX_MESSAGES),
      eventQueueMaxBytes: get(GRPC_EVENT_QUEUE_MAX_BYTES),
      defaultOverflowPolicy: get(GRPC_DEFAULT_OVERFLOW_POLICY),
      resumeWindowMs: get(GRPC_RESUME_WINDOW),
      maxMessageBytes: get(GRPC_MAX_MESSAGE_BYTES),
      tlsCertFile: get(GRPC_TLS_CERT_FILE),
      tlsKeyFile: get(GRPC_TLS_KEY_FILE),
      tlsClientCaFile: get(GRPC_TLS_CLIENT_CA_FILE),
      credentialsFile: get(GRPC_CREDENTIALS_FILE),
    },
    instrumentation: {
      prometheus: get(INSTRUMENTATION_PROMETHEUS),
      prometheusListenAddr: get(INSTRUMENTATION_PROMETHEUS_LISTEN_ADDR),
      namespace: get(INSTRUMENTATION_NAMESPACE),
    },
  };
}
