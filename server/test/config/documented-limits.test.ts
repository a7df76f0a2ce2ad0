/**
 * server/docs/LIMITS.md states defaults in prose; this test holds each stated
 * default to the constant that owns it, so the page cannot drift from the
 * code. (CONFIG.md is generated from the key table, whose defaults import the
 * same constants: server/test/config/template.test.ts and single-owner.test.ts.)
 *
 * Each row below names a table row of LIMITS.md by its section and first cell
 * and the texts its "default" cell must contain, rendered from the code.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MAX_INFLIGHT_COMMANDS_PER_STREAM } from "../../src/gateway/attach-stream.js";
import { MAX_PEER_DATA_KEY_LENGTH, MAX_PEER_DATA_VALUE_BYTES } from "../../src/gateway/commands.js";
import * as GW from "../../src/gateway/defaults.js";
import { MAX_REMOTE_RECV_BUFFER_BYTES, MAX_REMOTE_SEND_QUEUE_CAPACITY } from "../../src/gateway/registration.js";
import { DEFAULT_REMOTE_REACTOR_LIMITS, RECENTLY_REMOVED_MAX } from "../../src/gateway/remote-reactor.js";
import { MAX_BATCH_COMMANDS, MAX_CONTROL_MESSAGE_BYTES } from "../../src/gateway/request-screen.js";
import { MAX_RESULT_BATCH_BYTES, MAX_RESULT_BATCH_RESULTS } from "../../src/gateway/results.js";
import * as P2P from "../../src/p2p/defaults.js";
import { DEFAULT_INBOUND_QUEUE_MAX_BYTES, DEFAULT_INBOUND_QUEUE_MAX_MESSAGES, DEFAULT_PEER_DATA_MAX_KEYS } from "../../src/p2p/peer.js";
import { DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS, MAX_CRAWL_RECORDS, MAX_DIAL_ATTEMPT_RECORDS } from "../../src/p2p/pex/defaults.js";
import { REJECTION_LOG_MAX_KEYS, REJECTION_LOG_WINDOW_MS } from "../../src/p2p/switch.js";
import { DEFAULT_DIAL_TIMEOUT_MS, DEFAULT_MAX_CONCURRENT_HANDSHAKES } from "../../src/p2p/transport.js";
import * as MCONN from "../../src/wire/mconnection/defaults.js";
import { MAX_NODE_INFO_SIZE_BYTES, MAX_NUM_CHANNELS } from "../../src/wire/node-info.js";
import { DEFAULT_HANDSHAKE_TIMEOUT_MS, MAX_AUTH_SIG_MESSAGE_BYTES } from "../../src/wire/secret-connection/handshake.js";

const LIMITS_MD = join(import.meta.dirname, "../../docs/LIMITS.md");

/** 65536 → "64 KiB", 115343360 → "110 MiB"; a byte count that is neither stays a number. */
function bytes(n: number): string {
  if (n % (1024 * 1024) === 0) return `${n / (1024 * 1024)} MiB`;
  if (n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n}`;
}

/** 3000 → "3 s", 100 → "100 ms", 600000 → "10 min", 100800000 → "28 h". */
function duration(ms: number): string {
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000} h`;
  if (ms % 60_000 === 0 && ms >= 600_000) return `${ms / 60_000} min`;
  if (ms % 1_000 === 0) return `${ms / 1_000} s`;
  return `${ms} ms`;
}

/** section → first cell → the default cell. */
function limitsTables(markdown: string): Map<string, Map<string, string>> {
  const out = new Map<string, Map<string, string>>();
  let section = "";
  for (const line of markdown.split("\n")) {
    const heading = /^## (.+)$/.exec(line);
    if (heading !== null) {
      section = heading[1]?.trim() ?? "";
      continue;
    }
    if (!line.startsWith("|") || /^\|\s*(limit|---)/.test(line)) continue;
    const cells = line.split("|").map((c) => c.trim());
    const [, limit, def] = cells;
    if (limit === undefined || def === undefined) continue;
    if (!out.has(section)) out.set(section, new Map());
    out.get(section)?.set(limit, def);
  }
  return out;
}

/** [section, first cell, texts the default cell must contain]. */
const ROWS: ReadonlyArray<readonly [string, string, readonly string[]]> = [
  ["Wire", "AuthSig message", [bytes(MAX_AUTH_SIG_MESSAGE_BYTES)]],
  ["Wire", "handshake deadline", [duration(DEFAULT_HANDSHAKE_TIMEOUT_MS)]],
  ["Wire", "NodeInfo body", [`${MAX_NODE_INFO_SIZE_BYTES} bytes`]],
  ["Wire", "channels per NodeInfo", [`${MAX_NUM_CHANNELS}`]],
  ["Wire", "packet body", [`\`max_packet_msg_payload_size\` ${MCONN.DEFAULT_MAX_PACKET_MSG_PAYLOAD_BYTES}`]],
  ["Wire", "message per channel", [`default ${MCONN.DEFAULT_RECV_MESSAGE_CAPACITY_BYTES}`]],
  ["Wire", "send queue per channel", [`default ${MCONN.DEFAULT_SEND_QUEUE_CAPACITY}`]],
  ["Wire", "send queue bytes per channel", [bytes(MCONN.DEFAULT_SEND_QUEUE_MAX_BYTES_PER_CHANNEL)]],
  ["Wire", "send queue bytes per connection", [bytes(MCONN.DEFAULT_SEND_QUEUE_MAX_BYTES)]],
  ["Wire", "write buffer", [bytes(MCONN.DEFAULT_WRITE_BUFFER_BYTES)]],
  ["Wire", "flush throttle", [duration(MCONN.DEFAULT_FLUSH_THROTTLE_MS)]],
  ["Wire", "send/recv rate", [`${MCONN.DEFAULT_SEND_RATE_BYTES_PER_SECOND} B/s each`]],
  ["Wire", "pong timeout", [`${duration(MCONN.DEFAULT_PONG_TIMEOUT_MS)} after a ping`, `pings every ${duration(MCONN.DEFAULT_PING_INTERVAL_MS)}`]],
  ["Wire", "flushing stop", [duration(MCONN.DEFAULT_FLUSH_STOP_TIMEOUT_MS)]],
  ["Switch and peers", "`max_num_inbound_peers`", [`${P2P.DEFAULT_MAX_NUM_INBOUND_PEERS}`]],
  ["Switch and peers", "`max_num_outbound_peers`", [`${P2P.DEFAULT_MAX_NUM_OUTBOUND_PEERS}`]],
  ["Switch and peers", "concurrent handshakes", [`${DEFAULT_MAX_CONCURRENT_HANDSHAKES}`]],
  ["Switch and peers", "connection attempts per IP", [`${P2P.DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND}/s, burst ${P2P.DEFAULT_ACCEPT_BURST_PER_IP}`]],
  ["Switch and peers", "tracked IPs for the rate limit", [`${P2P.DEFAULT_MAX_TRACKED_IPS}`]],
  ["Switch and peers", "refusals remembered for the log", [`${REJECTION_LOG_MAX_KEYS}`, `each for ${duration(REJECTION_LOG_WINDOW_MS)}`]],
  ["Switch and peers", "inbound queue per peer", [`${bytes(DEFAULT_INBOUND_QUEUE_MAX_BYTES)} and ${DEFAULT_INBOUND_QUEUE_MAX_MESSAGES} messages`]],
  ["Switch and peers", "per-peer key-value store", [`${DEFAULT_PEER_DATA_MAX_KEYS} keys`]],
  ["Switch and peers", "dial timeout", [duration(DEFAULT_DIAL_TIMEOUT_MS)]],
  ["PEX", "dial-attempt records", [`${MAX_DIAL_ATTEMPT_RECORDS}`]],
  ["PEX", "seed: crawl records", [`${MAX_CRAWL_RECORDS}`]],
  ["PEX", "seed: connection time", [duration(DEFAULT_SEED_DISCONNECT_WAIT_PERIOD_MS)]],
  ["Reactor gateway", "remote reactor event queue", [`${GW.DEFAULT_EVENT_QUEUE_MAX_MESSAGES} messages and ${bytes(GW.DEFAULT_EVENT_QUEUE_MAX_BYTES)}`]],
  ["Reactor gateway", "resume window", [duration(GW.DEFAULT_RESUME_WINDOW_MS)]],
  ["Reactor gateway", "gRPC message", [bytes(GW.DEFAULT_MAX_MESSAGE_BYTES)]],
  ["Reactor gateway", "AttachRequest before decoding", [`${bytes(MAX_CONTROL_MESSAGE_BYTES)} (\`MAX_CONTROL_MESSAGE_BYTES\`)`]],
  ["Reactor gateway", "commands per RequestBatch", [`${MAX_BATCH_COMMANDS} (\`MAX_BATCH_COMMANDS\``]],
  ["Reactor gateway", "commands in progress per stream", [`${MAX_INFLIGHT_COMMANDS_PER_STREAM} (\`MAX_INFLIGHT_COMMANDS_PER_STREAM\`)`]],
  [
    "Reactor gateway",
    "channel descriptor of a remote reactor",
    [`recv_buffer_capacity ≤ ${bytes(MAX_REMOTE_RECV_BUFFER_BYTES)}`, `send_queue_capacity ≤ ${MAX_REMOTE_SEND_QUEUE_CAPACITY}`],
  ],
  [
    "Reactor gateway",
    "per-peer store values from remote reactors",
    [`keys ≤ ${MAX_PEER_DATA_KEY_LENGTH} characters`, `values ≤ ${bytes(MAX_PEER_DATA_VALUE_BYTES)}`, `${DEFAULT_PEER_DATA_MAX_KEYS} keys per peer`],
  ],
  ["Reactor gateway", "lifecycle backlog per reactor", [`${DEFAULT_REMOTE_REACTOR_LIMITS.lifecycleBacklogMax} unacknowledged`]],
  ["Reactor gateway", "results per ResultBatch", [`${MAX_RESULT_BATCH_RESULTS} results`, `${bytes(MAX_RESULT_BATCH_BYTES)} of estimated result bytes`]],
  ["Reactor gateway", "removed connection IDs remembered", [`${RECENTLY_REMOVED_MAX} per reactor`]],
];

describe("LIMITS.md states the defaults the code has", () => {
  const tables = limitsTables(readFileSync(LIMITS_MD, "utf8"));

  it.each(ROWS)("%s: %s", (section, limit, texts) => {
    const cell = tables.get(section)?.get(limit);
    expect(cell, `LIMITS.md has no row "${limit}" under "## ${section}"`).toBeDefined();
    for (const text of texts) expect(cell, `the default of "${limit}"`).toContain(text);
  });

  it("send and receive rates are one default (the page gives one figure for both)", () => {
    expect(MCONN.DEFAULT_RECV_RATE_BYTES_PER_SECOND).toBe(MCONN.DEFAULT_SEND_RATE_BYTES_PER_SECOND);
  });

  it("fails on a page that states another value (the check itself works)", () => {
    const page = "## Wire\n\n| limit | default |\n| --- | --- |\n| write buffer | 32 KiB |\n";
    expect(limitsTables(page).get("Wire")?.get("write buffer")).not.toContain(bytes(MCONN.DEFAULT_WRITE_BUFFER_BYTES));
    expect(duration(3_000)).toBe("3 s");
    expect(bytes(115_343_360)).toBe("110 MiB");
  });
});
