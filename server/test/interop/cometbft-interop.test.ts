/**
 * Wire interop with a real CometBFT node of one release line (issues "Wire protocol" and 19): the line is env
 * COMETBFT_LINE, one of server/test/interop/cometbft-lines.txt; `npm run test:interop:lines` runs every line.
 *
 * One Go node (kvstore, ~500 ms blocks) on the chain `chainId`, two of our Switches, each advertising exactly
 * 0x40 (blocksync) and 0x30 (mempool) through in-process RecordingReactors, with the channel parameters Go's
 * reactors register (protocol digest §3.7). No 0x00: we run no PEX reactor, so Go must never send on it.
 *
 *   B (listens)  ◀── dialed by ── Go (B is its persistent peer)
 *   A            ─── dials ────▶ Go
 *
 * The connections are the same for the whole file: the last tests check that they stayed up past the 60 s ping
 * interval (both sides ping every 60 s, pong timeout 45 s), counting from the later connection, so the blocksync
 * and mempool tests run inside that window. Byte-level checks use the Go node's own p2p debug log: every message
 * Go reassembled from us must be byte-identical to what we sent, and every message Go queued for us must be
 * byte-identical to what our reactors received (support/go-log.ts).
 *
 * The chain is shared by every check, in order: handshakes both ways, /net_info, blocksync (single blocks, then
 * following the chain block by block from height 1, each compared with /block), mempool txs committed, a large
 * block (a ~1.5 MB tx we send in ~1500 packets, committed, then fetched back by blocksync in as many packets), the
 * connections still up past the ping interval, and Go's log agreeing byte for byte.
 *
 * Needs the line's binary: `bash scripts/install-cometbft.sh --line LINE`. Takes ~90 s.
 * Set TEST_LOG_LEVEL=debug to see our Switches' logs.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { BlocksyncMessage } from "../../src/gen/switchboard/cometbft/blocksync/v1/blocksync.js";
import { MempoolMessage } from "../../src/gen/switchboard/cometbft/mempool/v1/mempool.js";
import type { Block } from "../../src/gen/switchboard/cometbft/types/v1/types.js";
import { generateNodeKey, type NodeKey } from "../../src/p2p/node-key.js";
import type { Peer } from "../../src/p2p/peer.js";
import { Switch } from "../../src/p2p/switch.js";
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import { silentLogger } from "../support/nodes.js";
import { checkReactorTrace, type ReactorEvent } from "../support/reactor-trace.js";
import { RecordingReactor } from "../support/recording-reactor.js";
import { selectedCometBftLine } from "./support/cometbft-lines.js";
import { CometBftNode, formatGoRfc3339Nano, type RpcBlockResult, txHashHex } from "./support/cometbft-node.js";
import {
  goPingPong,
  hexUpper,
  logTailWithoutNoise,
  messagesGoReceived,
  messagesGoSent,
  readGoLog,
} from "./support/go-log.js";

const cometbft = selectedCometBftLine();

const BLOCKSYNC = 0x40;
const MEMPOOL = 0x30;
const PEX = 0x00;
/**
 * The Go node's `mempool.max_tx_bytes`: room for the large-block check's tx, which the default (1 MiB) would refuse.
 * Go sizes its mempool channel's receive capacity from it, and so do we.
 */
const MAX_TX_BYTES = 2 * 1024 * 1024;
/** The large-block check's tx: a block of ~1.5 MB, ~1500 packets of 1024 bytes each way. */
const LARGE_TX_BYTES = 1_500_000;
/** Blocks the follow check requests one after the other from height 1, each compared with /block. */
const FOLLOW_BLOCKS = 6;
/** As blocksync/reactor.go registers it. */
const BLOCKSYNC_CHANNEL: ChannelDescriptor = {
  id: BLOCKSYNC,
  priority: 5,
  sendQueueCapacity: 1000,
  recvBufferCapacity: 50 * 4096,
  recvMessageCapacity: 104_857_605,
};
/** As mempool/reactor.go registers it: the receive capacity is a Txs message holding one tx of max_tx_bytes. */
const MEMPOOL_CHANNEL: ChannelDescriptor = {
  id: MEMPOOL,
  priority: 5,
  sendQueueCapacity: 1,
  recvBufferCapacity: 4096,
  recvMessageCapacity: MempoolMessage.encode({ sum: { $case: "txs", value: { txs: [new Uint8Array(MAX_TX_BYTES)] } } }).finish().length,
};
/** How long both connections must stay up: past the 60 s ping interval, with room for the pongs. */
const STAY_UP_MS = 65_000;
/** Go node p2p debug logging gives us Go's view of every message, ping and pong. */
const GO_LOG_LEVEL = "*:info,p2p:debug";

interface OurNode {
  readonly name: string;
  readonly sw: Switch;
  readonly key: NodeKey;
  readonly blocksync: RecordingReactor;
  readonly mempool: RecordingReactor;
  /** id@127.0.0.1:port */
  readonly address: string;
  /** What we sent to the Go node, in order. */
  readonly sent: { channelId: number; bytes: Uint8Array }[];
}

async function startOurNode(name: string, network: string): Promise<OurNode> {
  const key = generateNodeKey();
  // Defaults everywhere else: the MConnection timings (flush 100 ms, ping 60 s, pong 45 s) are Go's.
  const sw = new Switch({
    nodeKey: key,
    logger: silentLogger,
    config: {
      network,
      moniker: `switchboard-${name}`,
      listen: { host: "127.0.0.1", port: 0 },
      allowDuplicateIp: true,
    },
  });
  const blocksync = new RecordingReactor([BLOCKSYNC_CHANNEL]);
  const mempool = new RecordingReactor([MEMPOOL_CHANNEL]);
  sw.addReactor("blocksync", blocksync);
  sw.addReactor("mempool", mempool);
  await sw.start();
  const port = sw.listenAddress?.port;
  if (port === undefined) throw new Error(`switch ${name} has no listen address`);
  return { name, sw, key, blocksync, mempool, address: `${key.id}@127.0.0.1:${port}`, sent: [] };
}

/** Sends `bytes` to `peer` on `channelId`, recording it; the send must be accepted. */
async function sendTo(node: OurNode, peer: Peer, channelId: number, bytes: Uint8Array): Promise<void> {
  node.sent.push({ channelId, bytes });
  expect(await peer.send(channelId, bytes), `${node.name}: send on 0x${channelId.toString(16)}`).toBe(true);
}

type BlocksyncCase = NonNullable<BlocksyncMessage["sum"]>["$case"];
type BlocksyncValue<C extends BlocksyncCase> = Extract<NonNullable<BlocksyncMessage["sum"]>, { $case: C }>["value"];

/** The first blocksync message of kind `kase` from `peerId` at or after index `from` of the reactor's record. */
async function nextBlocksync<C extends BlocksyncCase>(
  node: OurNode,
  peerId: string,
  kase: C,
  from = 0,
): Promise<{ bytes: Uint8Array; value: BlocksyncValue<C> }> {
  const find = (): { bytes: Uint8Array; value: BlocksyncValue<C> } | undefined => {
    for (const r of node.blocksync.received.slice(from)) {
      if (r.peerId !== peerId || r.channelId !== BLOCKSYNC) continue;
      const sum = BlocksyncMessage.decode(r.message).sum;
      if (sum?.$case === kase) return { bytes: r.message, value: sum.value as BlocksyncValue<C> };
    }
    return undefined;
  };
  await node.blocksync.waitFor(() => find() !== undefined, 15_000, `${node.name}: blocksync ${kase} from ${peerId}`);
  return find()!;
}

/** Go's BlockResponse for `height` from `peerId`, at or after index `from` of the reactor's record. */
async function blockResponseAt(node: OurNode, peerId: string, height: bigint, from: number, timeoutMs = 15_000): Promise<{ bytes: Uint8Array; value: BlocksyncValue<"blockResponse"> }> {
  const find = (): { bytes: Uint8Array; value: BlocksyncValue<"blockResponse"> } | undefined => {
    for (const r of node.blocksync.received.slice(from)) {
      if (r.peerId !== peerId || r.channelId !== BLOCKSYNC) continue;
      const sum = BlocksyncMessage.decode(r.message).sum;
      if (sum?.$case === "blockResponse" && sum.value.block?.header?.height === height) return { bytes: r.message, value: sum.value };
    }
    return undefined;
  };
  await node.blocksync.waitFor(() => find() !== undefined, timeoutMs, `${node.name}: BlockResponse for height ${height} from ${peerId}`);
  return find()!;
}

const blockRequest = (height: bigint): Uint8Array => BlocksyncMessage.encode({ sum: { $case: "blockRequest", value: { height } } }).finish();

/** A decoded Block in the shape `/block` prints it (hashes upper-case hex, bytes base64, int64 as strings). */
function blockAsRpc(block: Block | undefined): unknown {
  const hex = (b: Uint8Array | undefined): string => hexUpper(b ?? new Uint8Array());
  const blockId = (id: { hash: Uint8Array; partSetHeader: { total: number; hash: Uint8Array } | undefined } | undefined) => ({
    hash: hex(id?.hash),
    parts: { total: id?.partSetHeader?.total ?? 0, hash: hex(id?.partSetHeader?.hash) },
  });
  const time = (t: { seconds: bigint; nanos: number } | undefined): string | undefined =>
    t === undefined ? undefined : formatGoRfc3339Nano(t);
  const h = block?.header;
  const c = block?.lastCommit;
  return {
    header: {
      version: { block: String(h?.version?.block), app: String(h?.version?.app) },
      chain_id: h?.chainId,
      height: String(h?.height),
      time: time(h?.time),
      last_block_id: blockId(h?.lastBlockId),
      last_commit_hash: hex(h?.lastCommitHash),
      data_hash: hex(h?.dataHash),
      validators_hash: hex(h?.validatorsHash),
      next_validators_hash: hex(h?.nextValidatorsHash),
      consensus_hash: hex(h?.consensusHash),
      app_hash: hex(h?.appHash),
      last_results_hash: hex(h?.lastResultsHash),
      evidence_hash: hex(h?.evidenceHash),
      proposer_address: hex(h?.proposerAddress),
    },
    txs: (block?.data?.txs ?? []).map((tx) => Buffer.from(tx).toString("base64")),
    last_commit: {
      height: String(c?.height),
      round: c?.round,
      block_id: blockId(c?.blockId),
      signatures: (c?.signatures ?? []).map((s) => ({
        block_id_flag: s.blockIdFlag,
        validator_address: hex(s.validatorAddress),
        timestamp: time(s.timestamp),
        signature: s.signature.length === 0 ? null : Buffer.from(s.signature).toString("base64"),
      })),
    },
  };
}

function rpcBlockParts(rpc: RpcBlockResult): unknown {
  return { header: rpc.block.header, txs: rpc.block.data.txs ?? [], last_commit: rpc.block.last_commit };
}

/** tendermint.mempool.Message{txs: Txs{txs: [tx]}}, built by hand from the Go schema (tx < 126 bytes). */
function expectedMempoolBytes(tx: Uint8Array): Uint8Array {
  return Uint8Array.from([0x0a, tx.length + 2, 0x0a, tx.length, ...tx]);
}

describe(`Switchboard ⇄ CometBFT ${cometbft.version} (line ${cometbft.line}, a real node)`, () => {
  const chainId = `interop-${randomBytes(4).toString("hex")}`;
  const ours: OurNode[] = [];
  let go: CometBftNode | undefined;
  let a: OurNode | undefined;
  let b: OurNode | undefined;
  /** Our Peer objects for the Go node: A's outbound, B's inbound. */
  let aPeer: Peer | undefined;
  let bPeer: Peer | undefined;
  let setupDone = false;
  let failed = false;

  const need = <T,>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`${what} is missing: an earlier step failed`);
    return value;
  };

  beforeAll(async () => {
    // B first, so that the Go node can dial it as a persistent peer as soon as it starts.
    b = await startOurNode("b", chainId);
    ours.push(b);
    a = await startOurNode("a", chainId);
    ours.push(a);
    go = await CometBftNode.start({
      binary: cometbft.binary,
      chainId,
      moniker: "cometbft-interop",
      persistentPeers: [b.address],
      configOverrides: { log_level: GO_LOG_LEVEL, "mempool.max_tx_bytes": MAX_TX_BYTES },
    });
    setupDone = true;
  });

  beforeEach(({ onTestFailed }) => {
    onTestFailed(() => {
      failed = true;
    });
  });

  afterAll(async () => {
    const stops = await Promise.allSettled(ours.map((n) => n.sw.stop()));
    if (go !== undefined && (failed || !setupDone)) {
      console.error(
        `--- CometBFT node log tail, consensus-gossip debug lines left out (${go.logPath}) ---\n` +
          `${logTailWithoutNoise(go.logPath, 80)}\n--- end of log tail ---`,
      );
    }
    await go?.stop();
    for (const s of stops) if (s.status === "rejected") throw s.reason;
  });

  it("we dial it: the handshake succeeds and our reactors see InitPeer, AddPeer for the Go node", async () => {
    const node = need(go, "the Go node");
    const ourA = need(a, "switch A");
    const peer = await ourA.sw.dialPeerWithAddress(node.p2pAddress);
    aPeer = peer;

    expect(peer.id).toBe(node.nodeId);
    expect(peer.isOutbound()).toBe(true);
    expect(peer.isRunning()).toBe(true);
    expect(ourA.sw.peers().get(node.nodeId)).toBe(peer);
    // The Go node's NodeInfo as we decoded it.
    expect(peer.nodeInfo).toMatchObject({
      nodeId: node.nodeId,
      network: chainId,
      // What the binary calls itself (`cometbft version`): not always the tag (v0.37.18 says 0.37.16).
      version: cometbft.reportedVersion,
      moniker: "cometbft-interop",
      listenAddr: `tcp://127.0.0.1:${node.p2pPort}`,
      other: { txIndex: "on", rpcAddress: node.rpcUrl.replace("http://", "tcp://") },
    });
    // Its reactors' channels, PEX included, and the two we share with it.
    expect(peer.nodeInfo.channels).toEqual(expect.arrayContaining([BLOCKSYNC, MEMPOOL, PEX]));
    expect(peer.nodeInfo.protocolVersion).toMatchObject({ p2p: cometbft.p2pProtocol, block: 11n });
    for (const r of [ourA.blocksync, ourA.mempool]) {
      const peerEvents = r.events.filter((e) => "peerId" in e && e.kind !== "Receive");
      expect(peerEvents).toEqual([
        { kind: "InitPeer", peerId: node.nodeId, connection: peer.connectionId },
        { kind: "AddPeer", peerId: node.nodeId, connection: peer.connectionId },
      ]);
    }
  });

  it("it dials us as a persistent peer: B gets an inbound connection from the Go node", async () => {
    const node = need(go, "the Go node");
    const ourB = need(b, "switch B");
    await ourB.blocksync.waitFor(() => ourB.blocksync.count("AddPeer", node.nodeId) > 0, 20_000, "B: AddPeer of the Go node");
    const peer = ourB.sw.peers().get(node.nodeId);
    expect(peer).toBeDefined();
    bPeer = peer;

    expect(peer?.isOutbound()).toBe(false);
    expect(peer?.isRunning()).toBe(true);
    expect(peer?.nodeInfo.network).toBe(chainId);
    expect(ourB.sw.peers().size).toBe(1);
    for (const r of [ourB.blocksync, ourB.mempool]) {
      const peerEvents = r.events.filter((e) => "peerId" in e && e.kind !== "Receive");
      expect(peerEvents).toEqual([
        { kind: "InitPeer", peerId: node.nodeId, connection: peer?.connectionId },
        { kind: "AddPeer", peerId: node.nodeId, connection: peer?.connectionId },
      ]);
    }
  });

  it("Go's /net_info lists both of our nodes, as we introduced ourselves", async () => {
    const node = need(go, "the Go node");
    const ourA = need(a, "switch A");
    const ourB = need(b, "switch B");
    const net = await node.waitFor(
      async () => {
        const n = await node.netInfo();
        return n.peers.length >= 2 ? n : undefined;
      },
      10_000,
      "/net_info to list 2 peers",
    );
    expect(net.n_peers).toBe("2");
    const byId = new Map(net.peers.map((p) => [p.node_info.id, p]));
    expect([...byId.keys()].sort()).toEqual([ourA.key.id, ourB.key.id].sort());
    for (const [n, outbound] of [[ourA, false], [ourB, true]] as const) {
      const p = byId.get(n.key.id);
      expect(p?.is_outbound, `${n.name}: is_outbound`).toBe(outbound);
      expect(p?.node_info).toMatchObject({
        id: n.key.id,
        network: chainId,
        channels: "4030",
        moniker: `switchboard-${n.name}`,
        listen_addr: `tcp://${n.address.split("@")[1] ?? ""}`,
        protocol_version: { p2p: "8", block: "11", app: "0" },
      });
    }
  });

  it("blocksync: Go's StatusResponse arrives; our BlockRequests get BlockResponses equal to /block", async () => {
    const node = need(go, "the Go node");
    const ourA = need(a, "switch A");
    const ourB = need(b, "switch B");
    const peerA = need(aPeer, "A's peer");
    const peerB = need(bPeer, "B's peer");

    // Right after AddPeer, Go sends StatusResponse{height, base} on 0x40 to each of us: its block store's range
    // at that moment. Go dials B before it has committed a block, so B may get {0, 0} (both fields omitted).
    const heightNow = BigInt(await node.latestHeight());
    for (const n of [ourA, ourB]) {
      const status = await nextBlocksync(n, node.nodeId, "statusResponse");
      expect(status.value.height, `${n.name}: height`).toBeLessThanOrEqual(heightNow);
      expect(status.value.base, `${n.name}: base`).toBe(status.value.height === 0n ? 0n : 1n);
    }
    // A dialed after the node had committed height 1.
    expect((await nextBlocksync(ourA, node.nodeId, "statusResponse")).value.height).toBeGreaterThanOrEqual(1n);

    // A: the genesis block, and a height Go does not have.
    const fromA = ourA.blocksync.received.length;
    const request1 = BlocksyncMessage.encode({ sum: { $case: "blockRequest", value: { height: 1n } } }).finish();
    // tendermint.blocksync.Message{block_request(1): BlockRequest{height(1): 1}}
    expect(hexUpper(request1)).toBe("0A020801");
    await sendTo(ourA, peerA, BLOCKSYNC, request1);
    const far = 1_000_000_000n;
    const requestFar = BlocksyncMessage.encode({ sum: { $case: "blockRequest", value: { height: far } } }).finish();
    await sendTo(ourA, peerA, BLOCKSYNC, requestFar);

    // B (the inbound connection): a recent block, whose last commit carries the validator's signature.
    const latest = await node.waitForHeight(2, 20_000);
    const fromB = ourB.blocksync.received.length;
    await sendTo(ourB, peerB, BLOCKSYNC, BlocksyncMessage.encode({ sum: { $case: "blockRequest", value: { height: BigInt(latest) } } }).finish());

    const [resp1, respFar, respLatest, rpc1, rpcLatest] = await Promise.all([
      nextBlocksync(ourA, node.nodeId, "blockResponse", fromA),
      nextBlocksync(ourA, node.nodeId, "noBlockResponse", fromA),
      nextBlocksync(ourB, node.nodeId, "blockResponse", fromB),
      node.block(1),
      node.block(latest),
    ]);

    const header1 = resp1.value.block?.header;
    expect(header1?.chainId).toBe(rpc1.block.header.chain_id);
    expect(String(header1?.height)).toBe(rpc1.block.header.height);
    expect(header1?.time && formatGoRfc3339Nano(header1.time)).toBe(rpc1.block.header.time);
    expect(header1?.chainId).toBe(chainId);
    expect(header1?.height).toBe(1n);
    // Every header field, the txs and the last commit, as the RPC prints them.
    expect(blockAsRpc(resp1.value.block)).toEqual(rpcBlockParts(rpc1));
    expect(blockAsRpc(respLatest.value.block)).toEqual(rpcBlockParts(rpcLatest));
    expect(respLatest.value.block?.lastCommit?.signatures.length).toBeGreaterThanOrEqual(1);
    expect(resp1.value.extCommit).toBeUndefined(); // vote extensions are off
    expect(respFar.value).toEqual({ height: far });
    // Our codec re-encodes Go's messages to the same bytes.
    for (const r of [resp1, respFar, respLatest]) expect(hexUpper(BlocksyncMessage.encode(BlocksyncMessage.decode(r.bytes)).finish())).toBe(hexUpper(r.bytes));

    // Go's view: it reassembled exactly our requests, and queued exactly what we received.
    const log = readGoLog(node.logPath);
    expect(messagesGoReceived(log, ourA.key.id)).toEqual(
      expect.arrayContaining([
        { channelId: BLOCKSYNC, hex: "0A020801" },
        { channelId: BLOCKSYNC, hex: hexUpper(requestFar) },
      ]),
    );
    expect(messagesGoSent(log, ourA.key.id)).toEqual(
      expect.arrayContaining([resp1, respFar].map((r) => ({ channelId: BLOCKSYNC, hex: hexUpper(r.bytes) }))),
    );
    expect(messagesGoSent(log, ourB.key.id)).toEqual(
      expect.arrayContaining([{ channelId: BLOCKSYNC, hex: hexUpper(respLatest.bytes) }]),
    );
  });

  it(`blocksync follow: blocks 1..${FOLLOW_BLOCKS} requested one after the other each equal /block, and chain up`, async () => {
    const node = need(go, "the Go node");
    const ourA = need(a, "switch A");
    const peerA = need(aPeer, "A's peer");
    await node.waitForHeight(FOLLOW_BLOCKS, 30_000);
    let previousHash: string | undefined;
    for (let h = 1n; h <= BigInt(FOLLOW_BLOCKS); h++) {
      // As a syncing node does: the next request once the previous block is in.
      const from = ourA.blocksync.received.length;
      await sendTo(ourA, peerA, BLOCKSYNC, blockRequest(h));
      const [resp, rpc] = await Promise.all([blockResponseAt(ourA, node.nodeId, h, from), node.block(h)]);
      expect(blockAsRpc(resp.value.block), `height ${h}`).toEqual(rpcBlockParts(rpc));
      if (previousHash !== undefined) expect(rpc.block.header.last_block_id.hash, `height ${h} links to ${h - 1n}`).toBe(previousHash);
      previousHash = rpc.block_id.hash;
    }
  });

  it("mempool: a Txs message we send on 0x30 is committed", async () => {
    const node = need(go, "the Go node");
    const sends = [
      { n: need(a, "switch A"), peer: need(aPeer, "A's peer") },
      { n: need(b, "switch B"), peer: need(bPeer, "B's peer") },
    ];
    const txs = sends.map(({ n }) => Buffer.from(`switchboard-${n.name}-${randomBytes(6).toString("hex")}=${randomBytes(4).toString("hex")}`));
    const messages = txs.map((tx) => MempoolMessage.encode({ sum: { $case: "txs", value: { txs: [tx] } } }).finish());
    for (const [i, { n, peer }] of sends.entries()) {
      const tx = txs[i]!;
      const msg = messages[i]!;
      // tendermint.mempool.Message{txs(1): Txs{txs(1): [tx]}}
      expect(hexUpper(msg)).toBe(hexUpper(expectedMempoolBytes(tx)));
      await sendTo(n, peer, MEMPOOL, msg);
    }

    const found = await Promise.all(txs.map((tx) => node.waitForTx(txHashHex(tx), 30_000)));
    for (const [i, f] of found.entries()) {
      expect(f.hash).toBe(txHashHex(txs[i]!));
      expect(f.tx_result.code).toBe(0);
      expect(Buffer.from(f.tx, "base64").equals(txs[i]!)).toBe(true);
    }
    const log = readGoLog(node.logPath);
    for (const [i, { n }] of sends.entries()) {
      expect(messagesGoReceived(log, n.key.id)).toContainEqual({ channelId: MEMPOOL, hex: hexUpper(messages[i]!) });
    }
  });

  it("a large block: a ~1.5 MB tx we send on 0x30 is committed, and blocksync brings its block back, equal to /block", async () => {
    const node = need(go, "the Go node");
    const ourA = need(a, "switch A");
    const ourB = need(b, "switch B");
    const peerA = need(aPeer, "A's peer");
    const peerB = need(bPeer, "B's peer");
    // kvstore's tx format, key=value, with a value of random hex.
    const key = `large-${randomBytes(4).toString("hex")}=`;
    const tx = Buffer.from(key + randomBytes(Math.ceil(LARGE_TX_BYTES / 2)).toString("hex").slice(0, LARGE_TX_BYTES - key.length));
    expect(tx.length).toBe(LARGE_TX_BYTES);
    await sendTo(ourA, peerA, MEMPOOL, MempoolMessage.encode({ sum: { $case: "txs", value: { txs: [tx] } } }).finish());

    const committed = await node.waitForTx(txHashHex(tx), 60_000);
    expect(committed.tx_result.code).toBe(0);
    const height = BigInt(committed.height);
    const from = ourB.blocksync.received.length;
    await sendTo(ourB, peerB, BLOCKSYNC, blockRequest(height));
    const [resp, rpc] = await Promise.all([blockResponseAt(ourB, node.nodeId, height, from, 30_000), node.block(height)]);
    // Many packets each way: the message is over a thousand times the 1024-byte packet payload.
    expect(resp.bytes.length).toBeGreaterThan(LARGE_TX_BYTES);
    expect(resp.value.block?.data?.txs.some((t) => Buffer.from(t).equals(tx))).toBe(true);
    expect(blockAsRpc(resp.value.block)).toEqual(rpcBlockParts(rpc));
  });

  it(
    "both connections stay up past the 60 s ping interval, with pings answered both ways",
    async () => {
      const node = need(go, "the Go node");
      const conns = [
        { n: need(a, "switch A"), peer: need(aPeer, "A's peer") },
        { n: need(b, "switch B"), peer: need(bPeer, "B's peer") },
      ];
      const upSince = Math.max(...conns.map((c) => c.peer.createdAt));
      const wait = upSince + STAY_UP_MS - Date.now();
      if (wait > 0) await sleep(wait);
      expect(Date.now() - upSince).toBeGreaterThanOrEqual(STAY_UP_MS);

      // Our side: the same connections, never removed.
      for (const { n, peer } of conns) {
        expect(n.sw.peers().get(node.nodeId), `${n.name}: still the first connection`).toBe(peer);
        expect(peer.isRunning()).toBe(true);
        expect(peer.status().connection.state).toBe("running");
        for (const r of [n.blocksync, n.mempool]) {
          expect(r.count("RemovePeer"), `${n.name}: RemovePeer`).toBe(0);
          expect(r.count("InitPeer"), `${n.name}: InitPeer`).toBe(1);
        }
      }

      // Go's side: still lists both of us, on connections older than the wait.
      const net = await node.netInfo();
      const byId = new Map(net.peers.map((p) => [p.node_info.id, p]));
      for (const { n } of conns) {
        const p = byId.get(n.key.id);
        expect(p, `${n.name} in /net_info`).toBeDefined();
        const durationNs = BigInt((p?.connection_status as { Duration?: string } | undefined)?.Duration ?? "0");
        expect(durationNs, `${n.name}: Go's connection age`).toBeGreaterThanOrEqual(BigInt(STAY_UP_MS - 1_000) * 1_000_000n);
      }

      // Pings both ways, each answered: Go's log...
      const log = readGoLog(node.logPath);
      for (const { n } of conns) {
        const goSide = goPingPong(log, n.key.id);
        expect(goSide.sendPing, `Go → ${n.name}: Send Ping`).toBeGreaterThanOrEqual(1);
        expect(goSide.receivePong, `${n.name} → Go: Receive Pong`).toBeGreaterThanOrEqual(1);
        expect(goSide.receivePing, `${n.name} → Go: Receive Ping`).toBeGreaterThanOrEqual(1);
        expect(goSide.sendPong, `Go → ${n.name}: Send Pong`).toBeGreaterThanOrEqual(1);
      }
      // ...and our MConnection's counters.
      for (const { n, peer } of conns) {
        const c = peer.status().connection.pings;
        expect(c.pingsSent, `${n.name}: pingsSent`).toBeGreaterThanOrEqual(1);
        expect(c.pongsReceived, `${n.name}: pongsReceived`).toBeGreaterThanOrEqual(1);
        expect(c.pingsReceived, `${n.name}: pingsReceived`).toBeGreaterThanOrEqual(1);
        expect(c.pongsSent, `${n.name}: pongsSent`).toBeGreaterThanOrEqual(1);
      }
    },
    STAY_UP_MS + 60_000,
  );

  it("stops cleanly: complete reactor traces, graceful removals, and Go's log agrees byte for byte", async () => {
    const node = need(go, "the Go node");
    const both = [need(a, "switch A"), need(b, "switch B")];
    await Promise.all(both.map((n) => n.sw.stop()));

    for (const n of both) {
      for (const [r, channel] of [[n.blocksync, BLOCKSYNC], [n.mempool, MEMPOOL]] as const) {
        const events = r.events.map((e): ReactorEvent => (e.kind === "GetChannels" ? { kind: "GetChannels", channelIds: [channel] } : e));
        expect(checkReactorTrace(events, { complete: true }), `${n.name}: trace of channel 0x${channel.toString(16)}`).toEqual({ ok: true });
        // One connection to the Go node, removed by our stop (no error), nothing else.
        expect(r.removeReasons).toEqual([{ peerId: node.nodeId, connection: expect.any(String) as string, reason: undefined }]);
      }
    }

    // Every message in both directions, as bytes: what Go reassembled is what we sent, what Go queued for us is
    // what our reactors got, in order.
    const log = readGoLog(node.logPath);
    for (const n of both) {
      expect(messagesGoReceived(log, n.key.id), `${n.name} → Go`).toEqual(n.sent.map((s) => ({ channelId: s.channelId, hex: hexUpper(s.bytes) })));
      const goSent = messagesGoSent(log, n.key.id);
      expect(goSent.length, `Go → ${n.name}: count`).toBeGreaterThan(0);
      for (const [r, ch] of [[n.blocksync, BLOCKSYNC], [n.mempool, MEMPOOL]] as const) {
        expect(
          r.received.filter((m) => m.peerId === node.nodeId && m.channelId === ch).map((m) => hexUpper(m.message)),
          `Go → ${n.name} on 0x${ch.toString(16)}`,
        ).toEqual(goSent.filter((s) => s.channelId === ch).map((s) => s.hex));
      }
      expect(goSent.every((s) => s.channelId === BLOCKSYNC || s.channelId === MEMPOOL), `Go → ${n.name}: only our channels`).toBe(true);
    }
  });
});
