/**
 * blocksync-follower: follows a CometBFT chain over blocksync (channel 0x40)
 * through a Switchboard node. It asks its peers for their height range
 * (StatusRequest, every second), requests every block from the lowest
 * available height (at least 1) upward, and prints one JSON line per block,
 * in height order, on stdout:
 *
 *   {"height":1,"chain_id":"my-chain","time":"2026-11-21T07:13:10.273826809Z","num_txs":0}
 *
 * `time` is printed as CometBFT's RPC prints it (Go RFC3339Nano, UTC).
 * Diagnostics go to stderr as JSON lines. Written in the rxjs style.
 *
 *   npx tsx examples/typescript/blocksync-follower.ts --grpc 127.0.0.1:26670
 *
 * With `--submit-tx key=value` it also registers the mempool channel (0x30)
 * and sends that transaction, once, to the first peer that has the channel.
 */
import { parseArgs } from "node:util";
import { type ChannelConfig, CommandError, type PeerInfo, ReactorClient, type ReactorEvent } from "../../client/src/index.js";
import { BlocksyncMessage } from "./gen/switchboard/cometbft/blocksync/v1/blocksync.js";
import { MempoolMessage } from "./gen/switchboard/cometbft/mempool/v1/mempool.js";
import type { Block } from "./gen/switchboard/cometbft/types/v1/types.js";

const BLOCKSYNC = 0x40;
const MEMPOOL = 0x30;
/** As CometBFT's blocksync reactor registers it. */
const BLOCKSYNC_CHANNEL: ChannelConfig = { id: BLOCKSYNC, priority: 5, sendQueueCapacity: 1000, recvMessageCapacity: 104_857_605 };
/** As CometBFT's mempool reactor registers it (default max_tx_bytes). */
const MEMPOOL_CHANNEL: ChannelConfig = { id: MEMPOOL, priority: 5, recvMessageCapacity: 1_048_584 };
/** Blocks requested and not yet received, at most. */
const MAX_IN_FLIGHT = 16;
/** A request unanswered this long is sent again (maybe to another peer). */
const REQUEST_TIMEOUT_MS = 5_000;
const STATUS_INTERVAL_MS = 1_000;

const { values } = parseArgs({
  options: {
    grpc: { type: "string", default: "127.0.0.1:26670" },
    name: { type: "string", default: "follower" },
    // The reactor's bearer token, when the node has a grpc.credentials_file (as the CLI, from the environment by default).
    token: { type: "string", default: process.env["SWITCHBOARD_GRPC_TOKEN"] ?? "" },
    "submit-tx": { type: "string" },
  },
});
const submitTx = values["submit-tx"];

/** Go's `time.Time.Format(time.RFC3339Nano)` of a protobuf Timestamp in UTC: the fraction without trailing zeros, none when zero. */
function formatRfc3339Nano(ts: { readonly seconds: bigint; readonly nanos: number }): string {
  const date = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19);
  const fraction = ts.nanos === 0 ? "" : `.${ts.nanos.toString().padStart(9, "0").replace(/0+$/, "")}`;
  return `${date}${fraction}Z`;
}

function diag(line: Record<string, unknown>): void {
  process.stderr.write(`${JSON.stringify(line, (_k, v: unknown) => (typeof v === "bigint" ? Number(v) : v))}\n`);
}

const encode = (m: BlocksyncMessage): Uint8Array => BlocksyncMessage.encode(m).finish();
const STATUS_REQUEST = encode({ sum: { $case: "statusRequest", value: {} } });

const reactor = new ReactorClient({
  target: values.grpc,
  name: values.name,
  token: values.token,
  channels: submitTx === undefined ? [BLOCKSYNC_CHANNEL] : [BLOCKSYNC_CHANNEL, MEMPOOL_CHANNEL],
});

/** Peers we may ask for blocks, with the range each reported. */
const ranges = new Map<string, { peer: PeerInfo; base: bigint; height: bigint }>();
/** Height → when it was requested. */
const inFlight = new Map<bigint, number>();
/** Blocks received ahead of the next height to print. */
const ready = new Map<bigint, Block>();
/** The next height to print; 0n until the first StatusResponse tells us where to start. */
let next = 0n;
let txSent = false;

function ignoreGone(err: unknown): void {
  // A peer removed meanwhile: its removePeer event follows and cleans up.
  if (!(err instanceof CommandError)) throw err;
  diag({ event: "command_failed", command: err.command, reason: err.reason, details: err.details });
}

function requestBlocks(): void {
  if (next === 0n) return;
  const now = Date.now();
  for (const [h, at] of inFlight) if (now - at > REQUEST_TIMEOUT_MS) inFlight.delete(h);
  for (let h = next; inFlight.size < MAX_IN_FLIGHT; h++) {
    if (ready.has(h) || inFlight.has(h)) continue;
    const source = [...ranges.values()].find((r) => r.base <= h && h <= r.height);
    if (source === undefined) return; // nobody has it (yet)
    inFlight.set(h, now);
    reactor.send(source.peer, BLOCKSYNC, encode({ sum: { $case: "blockRequest", value: { height: h } } })).catch(ignoreGone);
  }
}

function printReady(): void {
  for (let block = ready.get(next); block !== undefined; block = ready.get(next)) {
    ready.delete(next);
    const header = block.header;
    const time = header?.time === undefined ? null : formatRfc3339Nano(header.time);
    process.stdout.write(`${JSON.stringify({ height: Number(header?.height ?? 0n), chain_id: header?.chainId ?? "", time, num_txs: block.data?.txs.length ?? 0 })}\n`);
    next++;
  }
}

function onBlocksync(peer: PeerInfo, message: Uint8Array): void {
  let decoded: BlocksyncMessage;
  try {
    decoded = BlocksyncMessage.decode(message);
  } catch (err) {
    diag({ event: "bad_message", peer: peer.id, error: (err as Error).message });
    reactor.stopPeerForError(peer, "undecodable blocksync message").catch(ignoreGone);
    return;
  }
  const m = decoded.sum;
  switch (m?.$case) {
    case "statusResponse": {
      const { base, height } = m.value;
      ranges.set(peer.id, { peer, base, height });
      if (next === 0n && height > 0n) next = base > 0n ? base : 1n;
      requestBlocks();
      return;
    }
    case "blockResponse": {
      const h = m.value.block?.header?.height;
      if (h === undefined || !inFlight.delete(h)) return; // not asked for (or answered twice)
      if (h >= next && m.value.block !== undefined) ready.set(h, m.value.block);
      printReady();
      requestBlocks();
      return;
    }
    case "noBlockResponse":
      inFlight.delete(m.value.height);
      return;
    case "statusRequest": {
      // We store no blocks: {0, 0}.
      reactor.trySend(peer, BLOCKSYNC, encode({ sum: { $case: "statusResponse", value: { height: 0n, base: 0n } } })).catch(ignoreGone);
      return;
    }
    case "blockRequest":
      reactor.trySend(peer, BLOCKSYNC, encode({ sum: { $case: "noBlockResponse", value: { height: m.value.height } } })).catch(ignoreGone);
      return;
    case undefined:
      return;
  }
}

function submit(peer: PeerInfo): void {
  if (submitTx === undefined || txSent || peer.nodeInfo?.channels.includes(MEMPOOL) !== true) return;
  txSent = true;
  const message = MempoolMessage.encode({ sum: { $case: "txs", value: { txs: [new TextEncoder().encode(submitTx)] } } }).finish();
  reactor.send(peer, MEMPOOL, message).then(
    (queued) => {
      diag({ event: "tx_submitted", tx: submitTx, peer: peer.id, queued });
      if (!queued) txSent = false;
    },
    (err: unknown) => {
      txSent = false;
      ignoreGone(err);
    },
  );
}

function onEvent(e: ReactorEvent): void {
  switch (e.type) {
    case "session":
      diag({ event: "session", node: e.nodeInfo.nodeId, network: e.nodeInfo.network, resumed: e.resumed, refused: e.refusedReason || undefined });
      if (!e.resumed) ranges.clear();
      return;
    case "addPeer":
      diag({ event: "add_peer", peer: e.peer.id });
      reactor.trySend(e.peer, BLOCKSYNC, STATUS_REQUEST).catch(ignoreGone);
      submit(e.peer);
      return;
    case "removePeer":
      ranges.delete(e.peer.id);
      diag({ event: "remove_peer", peer: e.peer.id, reason: e.reason || undefined });
      return;
    case "receive":
      if (e.channelId === BLOCKSYNC) onBlocksync(e.peer, e.message);
      return;
    case "stop":
      diag({ event: "stop" });
      return;
    case "start":
    case "initPeer":
      return;
  }
}

// Keep up: ask every peer for its range each second (blocksync's own StatusRequest cadence is 10 s).
const poll = setInterval(() => {
  for (const { peer } of ranges.values()) reactor.trySend(peer, BLOCKSYNC, STATUS_REQUEST).catch(ignoreGone);
  for (const peer of reactor.peers.values()) if (!ranges.has(peer.id)) reactor.trySend(peer, BLOCKSYNC, STATUS_REQUEST).catch(ignoreGone);
  requestBlocks();
}, STATUS_INTERVAL_MS);

const subscription = reactor.events$.subscribe({
  next: onEvent,
  error: (err: unknown) => {
    diag({ event: "error", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
  complete: () => {
    clearInterval(poll);
    process.exit(0);
  },
});
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    subscription.unsubscribe();
    clearInterval(poll);
    process.exit(0);
  });
}
