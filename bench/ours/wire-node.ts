/**
 * A child process hosting one or more Switchboard nodes (a `Switch` with an
 * in-process bench reactor on one channel), driven by the controller through
 * the RPC of bench/lib/child.ts. The wire-level counterpart of the Go
 * reference's in-process switches.
 */
import pino from "pino";
import { generateNodeKey } from "../../server/src/p2p/node-key.js";
import type { Envelope, Peer } from "../../server/src/p2p/peer.js";
import { BaseReactor } from "../../server/src/p2p/reactor.js";
import { Switch } from "../../server/src/p2p/switch.js";
import type { ChannelDescriptor } from "../../server/src/wire/mconnection/channel-descriptor.js";
import { serve } from "../lib/child.js";
import { BENCH_CHANNEL, decodeTx, encodeTxMessage, nowNs, sentAtNs, sequenceOf, stampedCopy, txOffset } from "../lib/message.js";
import type { BenchSettings } from "../lib/settings.js";
import { summarizeNs } from "../lib/stats.js";

const logger = pino({ level: "silent" });

type Handler = (env: Envelope, txAt: number) => void;

class BenchReactor extends BaseReactor {
  handler: Handler | null = null;
  readonly peerList: Peer[] = [];
  private readonly peerWaiters: (() => void)[] = [];

  constructor(private readonly settings: BenchSettings) {
    super();
  }

  getChannels(): readonly ChannelDescriptor[] {
    return [
      {
        id: BENCH_CHANNEL,
        priority: 1,
        sendQueueCapacity: this.settings.sendQueueCapacity,
        recvBufferCapacity: 4096,
        recvMessageCapacity: this.settings.recvMessageCapacityBytes,
      },
    ];
  }

  override addPeer(peer: Peer): void {
    this.peerList.push(peer);
    for (const w of this.peerWaiters.splice(0)) w();
  }

  override removePeer(peer: Peer): void {
    const i = this.peerList.indexOf(peer);
    if (i >= 0) this.peerList.splice(i, 1);
  }

  override receive(env: Envelope): void {
    const h = this.handler;
    if (h === null) return;
    h(env, decodeTx(env.message).at);
  }

  async waitPeers(count: number, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.peerList.length < count) {
      if (Date.now() > deadline) throw new Error(`only ${this.peerList.length} of ${count} peers after ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        this.peerWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  firstPeer(): Peer {
    const p = this.peerList[0];
    if (p === undefined) throw new Error("no peer");
    return p;
  }
}

interface BenchNode {
  readonly sw: Switch;
  readonly reactor: BenchReactor;
  readonly address: string | null;
}

const nodes: BenchNode[] = [];

async function createNode(settings: BenchSettings, listen: boolean, moniker: string): Promise<BenchNode> {
  const key = generateNodeKey();
  const sw = new Switch({
    nodeKey: key,
    logger,
    config: {
      network: "bench",
      moniker,
      listen: listen ? { host: "127.0.0.1", port: 0 } : null,
      allowDuplicateIp: true,
      maxNumInboundPeers: 100_000,
      maxNumOutboundPeers: 100_000,
      // CometBFT has no cap on concurrent inbound handshakes, nor a per-IP accept rate.
      maxConcurrentHandshakes: 100_000,
      acceptRateLimit: { ratePerSecond: 1_000_000, burst: 1_000_000 },
      dialRandomizerMs: 0,
      handshakeTimeoutMs: 3_000,
      dialTimeoutMs: 1_000,
      mconn: {
        flushThrottleMs: settings.flushThrottleMs,
        sendRateBytesPerSecond: settings.rateBytesPerSecond,
        recvRateBytesPerSecond: settings.rateBytesPerSecond,
        maxPacketMsgPayloadBytes: settings.maxPacketMsgPayloadBytes,
      },
    },
  });
  const reactor = new BenchReactor(settings);
  sw.addReactor("bench", reactor);
  await sw.start();
  const l = sw.listenAddress;
  return { sw, reactor, address: l === null ? null : `${key.id}@127.0.0.1:${l.port}` };
}

function node(i: number): BenchNode {
  const n = nodes[i];
  if (n === undefined) throw new Error(`no node ${i}`);
  return n;
}

/** Runs `fn` over `items` with at most `concurrency` in flight. */
async function pool<T>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++] as T;
      await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
}

async function sendOrWait(peer: Peer, message: Uint8Array): Promise<void> {
  if (peer.trySend(BENCH_CHANNEL, message)) return;
  if (!(await peer.send(BENCH_CHANNEL, message, { timeoutMs: 60_000 }))) throw new Error("send timed out");
}

// Latencies recorded by an echoing node.
let echoLatencies: number[] = [];

interface StreamResult {
  readonly lastNs: bigint;
  readonly loaded: ReturnType<typeof summarizeNs>;
}
let expected: Promise<StreamResult> | null = null;
let fanout: Promise<{ lastNs: bigint }> | null = null;

serve({
  async createNodes(args: { settings: BenchSettings; count: number; listen: boolean }): Promise<{ first: number; addresses: (string | null)[] }> {
    const first = nodes.length;
    const created: BenchNode[] = [];
    for (let i = 0; i < args.count; i++) created.push(await createNode(args.settings, args.listen, `n${first + i}`));
    nodes.push(...created);
    return { first, addresses: created.map((n) => n.address) };
  },

  /** Nodes [from, to) dial `target`, `concurrency` at a time; the time until the last dial resolved. */
  async dial(args: { from: number; to: number; target: string; concurrency: number }): Promise<{ seconds: number; handshakesPerSecond: number; failures: number }> {
    const dialers = nodes.slice(args.from, args.to);
    let failures = 0;
    const start = nowNs();
    await pool(dialers, args.concurrency, async (n) => {
      try {
        await n.sw.dialPeerWithAddress(args.target);
      } catch (err) {
        failures++;
        console.error(`dial: ${(err as Error).message}`);
      }
    });
    const seconds = Number(nowNs() - start) / 1e9;
    return { seconds, handshakesPerSecond: (dialers.length - failures) / seconds, failures };
  },

  async waitPeers(args: { node: number; count: number; timeoutMs?: number }): Promise<void> {
    await node(args.node).reactor.waitPeers(args.count, args.timeoutMs ?? 30_000);
  },

  peerCount(args: { node: number }): number {
    return node(args.node).reactor.peerList.length;
  },

  /**
   * Starts counting arrivals at the node (answered once counting, so that the
   * sender may start); {@link streamResult} resolves once `n` arrived.
   */
  expectStream(args: { node: number; n: number }): void {
    const r = node(args.node).reactor;
    const lat = new Float64Array(args.n);
    let got = 0;
    expected = new Promise((resolve) => {
      r.handler = (env, txAt) => {
        const now = nowNs();
        lat[got++] = Number(now - sentAtNs(env.message, txAt));
        if (got === args.n) {
          r.handler = null;
          resolve({ lastNs: now, loaded: summarizeNs(lat) });
        }
      };
    });
  },

  /** The last arrival time and the latency under load, once the expected messages arrived. */
  streamResult(): Promise<StreamResult> {
    if (expected === null) throw new Error("expectStream first");
    return expected;
  },

  /** Sends `n` messages of a `size`-byte tx to the node's first peer as fast as its queue admits. */
  async sendStream(args: { node: number; size: number; n: number }): Promise<{ startNs: bigint }> {
    const peer = node(args.node).reactor.firstPeer();
    const template = encodeTxMessage(args.size);
    const at = txOffset(args.size);
    const start = nowNs();
    for (let i = 0; i < args.n; i++) await sendOrWait(peer, stampedCopy(template, at, i));
    return { startNs: start };
  },

  /** The node answers every message with an 8-byte tx and records one-way latencies past `warmup`. */
  echo(args: { node: number; warmup: number }): void {
    const r = node(args.node).reactor;
    const ack = encodeTxMessage(8);
    echoLatencies = [];
    r.handler = (env, txAt) => {
      const now = nowNs();
      if (sequenceOf(env.message, txAt) >= args.warmup) echoLatencies.push(Number(now - sentAtNs(env.message, txAt)));
      if (!env.src.trySend(BENCH_CHANNEL, ack)) throw new Error("ack did not fit the queue");
    };
  },

  echoLatencies(args: { node: number }): ReturnType<typeof summarizeNs> & { samples: number } {
    node(args.node).reactor.handler = null;
    return { ...summarizeNs(echoLatencies), samples: echoLatencies.length };
  },

  /** Sends one message at a time to the first peer, the next when the answer arrives. */
  pingPong(args: { node: number; size: number; total: number }): Promise<void> {
    const r = node(args.node).reactor;
    const peer = r.firstPeer();
    const template = encodeTxMessage(args.size);
    const at = txOffset(args.size);
    let sent = 0;
    return new Promise((resolve, reject) => {
      const sendNext = (): void => {
        if (!peer.trySend(BENCH_CHANNEL, stampedCopy(template, at, sent++))) reject(new Error("send queue full in a ping-pong"));
      };
      r.handler = () => {
        if (sent === args.total) {
          r.handler = null;
          resolve();
          return;
        }
        sendNext();
      };
      sendNext();
    });
  },

  /** Every node of this process counts arrivals (answered once counting); {@link fanoutResult} resolves when they add up to `n`. */
  expectFanout(args: { n: number }): void {
    let got = 0;
    fanout = new Promise((resolve) => {
      const h: Handler = () => {
        if (++got === args.n) {
          for (const x of nodes) x.reactor.handler = null;
          resolve({ lastNs: nowNs() });
        }
      };
      for (const x of nodes) x.reactor.handler = h;
    });
  },

  fanoutResult(): Promise<{ lastNs: bigint }> {
    if (fanout === null) throw new Error("expectFanout first");
    return fanout;
  },

  /** Broadcasts `n` messages, each once every peer has queued the previous one (Go: draining Broadcast's channel). */
  async broadcastStream(args: { node: number; size: number; n: number }): Promise<{ startNs: bigint }> {
    const sw = node(args.node).sw;
    const template = encodeTxMessage(args.size);
    const at = txOffset(args.size);
    const start = nowNs();
    for (let i = 0; i < args.n; i++) {
      const results = await sw.broadcast(BENCH_CHANNEL, stampedCopy(template, at, i));
      if (results.some((r) => !r.queued)) throw new Error("broadcast send timed out");
    }
    return { startNs: start };
  },

  /** Process memory after two full collections. */
  memory(): { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number; arrayBuffersBytes: number } {
    const gc = (globalThis as { gc?: () => void }).gc;
    gc?.();
    gc?.();
    const m = process.memoryUsage();
    return { rssBytes: m.rss, heapUsedBytes: m.heapUsed, heapTotalBytes: m.heapTotal, externalBytes: m.external, arrayBuffersBytes: m.arrayBuffers };
  },
});
