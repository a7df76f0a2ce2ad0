/**
 * Every configuration default, in one place, as it is spelled in
 * `config.toml`, with its unit and the reason for the value. The schema
 * (`schema.ts`) parses these through the same validators as a user's file, the
 * `init` template and `server/docs/CONFIG.md` are rendered from them, so a
 * default changed here changes everywhere.
 *
 * Values follow CometBFT v0.38 (`config/config.go`) where CometBFT has the
 * setting; differences say so.
 *
 * A value that a lower layer also needs (a rate limit, a peer limit, a queue
 * bound) is owned by that layer and imported here, never restated: this file
 * adds the TOML spelling, the unit and the reason (server/test/config/
 * single-owner.test.ts fails on a value written twice).
 */
import * as GW from "../gateway/defaults.js";
import * as P2P from "../p2p/defaults.js";
import { DEFAULT_ADDRBOOK_FILE, DEFAULT_ADDRBOOK_STRICT, DEFAULT_SEED_MODE as PEX_DEFAULT_SEED_MODE } from "../p2p/pex/defaults.js";
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT_HANDSHAKES as TRANSPORT_MAX_CONCURRENT_HANDSHAKES } from "../p2p/transport.js";
import * as MCONN from "../wire/mconnection/defaults.js";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS } from "../wire/secret-connection/handshake.js";
import { BLOCK_PROTOCOL_VERSION, P2P_PROTOCOL_VERSION } from "../wire/node-info.js";

/** A default value with its unit and the one-line reason it was chosen. */
export interface Default<T> {
  readonly value: T;
  /** Unit of the value, or "" when it has none (names, flags). */
  readonly unit: string;
  readonly reason: string;
}

function d<T>(value: T, unit: string, reason: string): Default<T> {
  return Object.freeze({ value, unit, reason });
}

/** A duration owned in milliseconds, in the config's spelling (`"100ms"`, `"3s"`, `"60s"`). */
function duration(ms: number): string {
  return ms % 1_000 === 0 ? `${ms / 1_000}s` : `${ms}ms`;
}

/** Directory used when neither `--home` nor `$SWITCHBOARD_HOME` is given, relative to the user's home. */
export const DEFAULT_HOME_DIR_NAME = ".switchboard";
/** Environment variable naming the home directory. */
export const HOME_ENV_VAR = "SWITCHBOARD_HOME";
/**
 * The CLI's gateway credentials (`switchboard peers`, `dial`, ...): a bearer
 * token, and the CA, certificate and key files for TLS. They are not config
 * keys, and a node started in the same shell ignores them.
 */
export const CLI_ENV_VARS = Object.freeze({
  token: "SWITCHBOARD_GRPC_TOKEN",
  caFile: "SWITCHBOARD_GRPC_CA_FILE",
  certFile: "SWITCHBOARD_GRPC_CERT_FILE",
  keyFile: "SWITCHBOARD_GRPC_KEY_FILE",
});
/** Prefix of environment variables that override config keys: `SWITCHBOARD_<SECTION>_<KEY>`. */
export const ENV_PREFIX = "SWITCHBOARD_";
/** The config file, relative to the home directory (CometBFT's layout). */
export const CONFIG_FILE = "config/config.toml";
/** The node key file, relative to the home directory (CometBFT's layout and format). */
export const NODE_KEY_FILE = "config/node_key.json";

// ------------------------------------------------------------------ top level

/** Used when the host name is not a valid moniker (NodeInfo wants printable ASCII). */
export const FALLBACK_MONIKER = "switchboard";
export const DEFAULT_MONIKER = d("", "", "empty means the machine's host name, as CometBFT does");
export const DEFAULT_LOG_LEVEL = d("info", "", "lifecycle and peer events without per-message noise");
export const DEFAULT_LOG_FORMAT = d("plain", "", "one line of text per record, for people, as CometBFT prints by default; `json` is one object per line, for log collectors");

// ------------------------------------------------------------------ [node]

export const DEFAULT_NETWORK = d("switchboard-local", "", "a chain ID no public network uses, so a newcomer's node never joins one by accident");
export const DEFAULT_P2P_VERSION = d(Number(P2P_PROTOCOL_VERSION), "", "CometBFT v0.38's p2p protocol version (peers do not compare it)");
export const DEFAULT_BLOCK_VERSION = d(Number(BLOCK_PROTOCOL_VERSION), "", "CometBFT v0.38's block protocol version; peers must agree on it");
export const DEFAULT_APP_VERSION = d(0, "", "the application's protocol version; 0 until an application says otherwise");

// ------------------------------------------------------------------ [p2p]

export const DEFAULT_P2P_LADDR = d(
  "tcp://127.0.0.1:26656",
  "",
  "loopback, so a newcomer's node is not reachable from the network until they choose to; CometBFT listens on 0.0.0.0",
);
export const DEFAULT_EXTERNAL_ADDRESS = d("", "", "empty advertises the bound listen address");
export const DEFAULT_SEEDS = d("", "", "no seeds: a node joins no network it was not told about");
export const DEFAULT_PERSISTENT_PEERS = d("", "", "no persistent peers until the operator names some");
export const DEFAULT_MAX_NUM_INBOUND_PEERS = d(P2P.DEFAULT_MAX_NUM_INBOUND_PEERS, "peers", "CometBFT's default: room for many peers within a modest file-descriptor budget");
export const DEFAULT_MAX_NUM_OUTBOUND_PEERS = d(P2P.DEFAULT_MAX_NUM_OUTBOUND_PEERS, "peers", "CometBFT's default: enough diversity against eclipse attacks");
export const DEFAULT_UNCONDITIONAL_PEER_IDS = d("", "", "no peer bypasses the limits unless named");
export const DEFAULT_PRIVATE_PEER_IDS = d("", "", "no peer is hidden from gossip unless named");
export const DEFAULT_SEND_RATE = d(MCONN.DEFAULT_SEND_RATE_BYTES_PER_SECOND, "bytes/s", "CometBFT's config default (5 MB/s per connection); 0 disables the limit");
export const DEFAULT_RECV_RATE = d(MCONN.DEFAULT_RECV_RATE_BYTES_PER_SECOND, "bytes/s", "CometBFT's config default (5 MB/s per connection); 0 disables the limit");
export const DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL = d(MCONN.DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL, "bytes", "about 3 s of the default send rate, and a full queue of consensus block parts twice; a larger message still goes into an empty queue");
export const DEFAULT_SEND_QUEUE_MAX_BYTES = d(MCONN.DEFAULT_SEND_QUEUE_MAX_BYTES, "bytes", "two channels' worth per connection, so that a reactor cannot make the node hold its largest message many times over for one slow peer");
export const DEFAULT_FLUSH_THROTTLE_TIMEOUT = d(duration(MCONN.DEFAULT_FLUSH_THROTTLE_MS), "duration", "CometBFT's default: batches small messages without adding noticeable latency");
export const DEFAULT_MAX_PACKET_MSG_PAYLOAD_SIZE = d(MCONN.DEFAULT_MAX_PACKET_MSG_PAYLOAD_BYTES, "bytes", "CometBFT's default; Go peers reject larger packets, so change it only network-wide");
export const DEFAULT_ALLOW_DUPLICATE_IP = d(P2P.DEFAULT_ALLOW_DUPLICATE_IP, "", "one peer per IP limits what a single host can take over; turn on for local testnets");
export const DEFAULT_HANDSHAKE_TIMEOUT = d(
  duration(DEFAULT_HANDSHAKE_TIMEOUT_MS),
  "duration",
  "the value CometBFT really applies (it ignores its own 20s setting and hard-codes 3s); we honour this key",
);
export const DEFAULT_DIAL_TIMEOUT = d(
  duration(DEFAULT_DIAL_TIMEOUT_MS),
  "duration",
  "the value CometBFT really applies (it ignores its own 3s setting and hard-codes 1s); we honour this key",
);
export const DEFAULT_PEX = d(true, "", "CometBFT's default: peer exchange finds peers beyond the configured ones");
export const DEFAULT_SEED_MODE = d(PEX_DEFAULT_SEED_MODE, "", "CometBFT's default: a node keeps its peers; a seed crawls the network and lets every peer go once answered");
export const DEFAULT_ADDR_BOOK_FILE = d(DEFAULT_ADDRBOOK_FILE, "path", "CometBFT's location, relative to the home directory");
export const DEFAULT_ADDR_BOOK_STRICT = d(DEFAULT_ADDRBOOK_STRICT, "", "keep private and loopback addresses out of the book on a public network; turn off for local testnets");
export const DEFAULT_MAX_CONCURRENT_HANDSHAKES = d(TRANSPORT_MAX_CONCURRENT_HANDSHAKES, "handshakes", "bounds the memory and CPU an inbound connection flood can take");
export const DEFAULT_ACCEPT_RATE_PER_IP = d(P2P.DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND, "connections/s", "a reconnecting peer needs far less; a flooding host is slowed down before any handshake");
export const DEFAULT_ACCEPT_BURST_PER_IP = d(P2P.DEFAULT_ACCEPT_BURST_PER_IP, "connections", "absorbs a burst of honest reconnects from one host (several nodes behind one NAT)");

// ------------------------------------------------------------------ [grpc]

export const DEFAULT_GRPC_LADDR = d(GW.DEFAULT_GRPC_LADDR, "", "loopback: reactors run beside the node, and the API is not for the open network");
export const DEFAULT_GRPC_REACTORS = d<readonly string[]>([], "", "start the Switch at once; list reactors to make peers wait until they are attached");
export const DEFAULT_REGISTRATION_TIMEOUT = d(duration(GW.DEFAULT_REGISTRATION_TIMEOUT_MS), "duration", "long enough for reactor processes to start beside the node, short enough to fail a broken deployment");
export const DEFAULT_EVENT_QUEUE_MAX_MESSAGES = d(GW.DEFAULT_EVENT_QUEUE_MAX_MESSAGES, "messages", "absorbs bursts (a block's worth of gossip) while bounding memory per reactor");
export const DEFAULT_EVENT_QUEUE_MAX_BYTES = d(GW.DEFAULT_EVENT_QUEUE_MAX_BYTES, "bytes", "64 MiB per reactor: a few large blocks in flight, and a bound on memory");
export const DEFAULT_OVERFLOW_POLICY = d<string>(GW.DEFAULT_OVERFLOW_POLICY, "", "never lose a message silently: a slow reactor slows its peers down (TCP backpressure)");
export const DEFAULT_RESUME_WINDOW = d(duration(GW.DEFAULT_RESUME_WINDOW_MS), "duration", "a reactor process can restart and resume its stream without its peers being dropped");
export const DEFAULT_MAX_MESSAGE_BYTES = d(GW.DEFAULT_MAX_MESSAGE_BYTES, "bytes", "110 MiB, so that a 100 MiB blocksync message and its envelope fit");
export const DEFAULT_GRPC_TLS_CERT_FILE = d("", "path", "no TLS: the default listen address is loopback, which needs none");
export const DEFAULT_GRPC_TLS_KEY_FILE = d("", "path", "no TLS: the default listen address is loopback, which needs none");
export const DEFAULT_GRPC_TLS_CLIENT_CA_FILE = d("", "path", "no client certificates asked for unless mutual TLS is wanted");
export const DEFAULT_GRPC_CREDENTIALS_FILE = d("", "path", "no authentication: only local processes reach the default loopback listener");

// ------------------------------------------------------------------ [instrumentation]

export const DEFAULT_PROMETHEUS = d(false, "", "CometBFT's default: no extra listener unless asked for");
export const DEFAULT_PROMETHEUS_LISTEN_ADDR = d(":26660", "", "CometBFT's default port; an empty host means every interface, as in CometBFT");
export const DEFAULT_NAMESPACE = d("cometbft", "", "CometBFT's metric names, so existing dashboards and alerts work unchanged");
