/**
 * Connections and fan-out: one hub node, many peers.
 *
 * - connections: `peers` nodes in one process dial the hub (in another
 *   process), `concurrency` dials at a time, in two halves. Handshakes per
 *   second = peers / time the dials took (each is TCP connect,
 *   SecretConnection handshake, NodeInfo exchange and AddPeer on the dialer).
 *   After each half, with every peer idle for `settleMs`, the hub's memory is
 *   sampled after full collections; memory per idle peer is the growth over
 *   the second half divided by its peers (and, for reference, over all).
 * - fanout: the hub broadcasts `count` messages to `peers` nodes (all in one
 *   process), each broadcast once every peer has queued the previous one;
 *   messages delivered per second in total.
 */
import { startChild } from "../lib/child.js";
import { cpuByProcess, cpuPer, cpuSpent, totalCpuTimeUs } from "../lib/cpu.js";
import { runReference } from "../lib/go.js";
import { type BenchSettings, goFlags } from "../lib/settings.js";
import { countFor } from "../lib/stats.js";

export interface ConnectionsParams {
  readonly peers: number;
  readonly concurrency: number;
  readonly settleMs: number;
  readonly settings: BenchSettings;
}

export interface ConnectionsRow {
  readonly peers: number;
  readonly handshakesPerSecond: number;
  readonly dialSeconds: number;
  readonly dialFailures: number;
  /**
   * Resident set size growth per peer over the second half of the peers:
   * what one more idle peer costs, without the runtime's one-time growth
   * (V8's young generation grows by tens of MiB under the handshakes'
   * allocations whatever the number of peers; Go's heap arenas likewise).
   */
  readonly rssMarginalPerPeerBytes: number;
  /** RSS growth over all peers, divided by their number. */
  readonly rssPerPeerBytes: number;
  /** Ours: V8 heap used + external memory; Go: HeapInuse + StackInuse (runtime.MemStats). Marginal, as above. */
  readonly heapMarginalPerPeerBytes: number;
  /** CPU time of both processes (hub and dialers) per handshake; null where unknown. */
  readonly cpuUsPerHandshake: number | null;
  /** Ours: the same for the accepting hub and the dialing process apart. */
  readonly cpuUsPerHandshakeByProcess?: Readonly<Record<string, number>>;
}

interface OurMemory {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
}

interface DialFigures {
  readonly seconds: number;
  readonly failures: number;
}

export async function oursConnections(p: ConnectionsParams): Promise<ConnectionsRow> {
  const hub = startChild("hub", "ours/wire-node.ts");
  const dialers = startChild("dialers", "ours/wire-node.ts");
  try {
    const { addresses } = await hub.call<{ addresses: string[] }>("createNodes", { settings: p.settings, count: 1, listen: true });
    await dialers.call("createNodes", { settings: p.settings, count: p.peers, listen: false });
    const before = await hub.call<OurMemory>("memory");
    const half = Math.floor(p.peers / 2);
    let failed = 0;
    // CPU time each process spent over the dial phases; null once unknown.
    const processes = { hub: hub.pid, dialers: dialers.pid };
    let cpu: Record<string, number> | null = { hub: 0, dialers: 0 };
    const phase = async (from: number, to: number): Promise<{ dial: DialFigures; memory: OurMemory; peers: number }> => {
      const cpu0 = cpuByProcess(processes);
      const dial = await dialers.call<DialFigures>("dial", { from, to, target: addresses[0], concurrency: p.concurrency });
      failed += dial.failures;
      await hub.call("waitPeers", { node: 0, count: to - failed });
      const spent = cpuSpent(cpu0, cpuByProcess(processes));
      cpu = cpu === null || spent === null ? null : { hub: (cpu["hub"] ?? 0) + (spent["hub"] ?? 0), dialers: (cpu["dialers"] ?? 0) + (spent["dialers"] ?? 0) };
      await new Promise((r) => setTimeout(r, p.settleMs));
      return { dial, memory: await hub.call<OurMemory>("memory"), peers: await hub.call<number>("peerCount", { node: 0 }) };
    };
    const first = await phase(0, half);
    const second = await phase(half, p.peers);
    const heap = (m: OurMemory): number => m.heapUsedBytes + m.externalBytes;
    const marginalPeers = second.peers - first.peers;
    const dialSeconds = first.dial.seconds + second.dial.seconds;
    const failures = first.dial.failures + second.dial.failures;
    const per = cpuPer(cpu, p.peers - failures);
    return {
      peers: second.peers,
      handshakesPerSecond: (p.peers - failures) / dialSeconds,
      dialSeconds,
      dialFailures: failures,
      rssMarginalPerPeerBytes: (second.memory.rssBytes - first.memory.rssBytes) / marginalPeers,
      rssPerPeerBytes: (second.memory.rssBytes - before.rssBytes) / second.peers,
      heapMarginalPerPeerBytes: (heap(second.memory) - heap(first.memory)) / marginalPeers,
      cpuUsPerHandshake: per === null ? null : per.total,
      ...(per === null ? {} : { cpuUsPerHandshakeByProcess: per.byProcess }),
    };
  } finally {
    await Promise.all([hub.stop(), dialers.stop()]);
  }
}

interface GoConnections {
  readonly peers: number;
  readonly dialSeconds: number;
  readonly handshakesPerSecond: number;
  readonly dialFailures: number;
  readonly perPeerBytes: { readonly rss: number; readonly rssMarginal: number; readonly heapPlusStackMarginal: number };
  readonly cpuUsPerHandshake: number;
}

export async function theirsConnections(p: ConnectionsParams): Promise<ConnectionsRow> {
  const out = await runReference<GoConnections>("connections", [
    ...goFlags(p.settings),
    `-peers=${p.peers}`,
    `-concurrency=${p.concurrency}`,
    `-settle-ms=${p.settleMs}`,
  ]);
  const r = out.result;
  return {
    peers: r.peers,
    handshakesPerSecond: r.handshakesPerSecond,
    dialSeconds: r.dialSeconds,
    dialFailures: r.dialFailures,
    rssMarginalPerPeerBytes: r.perPeerBytes.rssMarginal,
    rssPerPeerBytes: r.perPeerBytes.rss,
    heapMarginalPerPeerBytes: r.perPeerBytes.heapPlusStackMarginal,
    cpuUsPerHandshake: r.cpuUsPerHandshake,
  };
}

export interface FanoutParams {
  readonly peers: number;
  readonly sizes: readonly number[];
  /** Bytes broadcast per size (count = bytes / size, clamped); each is delivered to every peer. */
  readonly targetBytes: number;
  readonly minCount: number;
  readonly maxCount: number;
  readonly settings: BenchSettings;
}

export interface FanoutRow {
  readonly sizeBytes: number;
  readonly peers: number;
  readonly broadcasts: number;
  readonly seconds: number;
  readonly deliveredPerSecond: number;
  readonly mbPerSecond: number;
  /** CPU time of every process (hub and peers) per delivered message. */
  readonly cpuUsPerDelivered: number | null;
}

export async function oursFanout(p: FanoutParams): Promise<FanoutRow[]> {
  const hub = startChild("fanout hub", "ours/wire-node.ts");
  const leaves = startChild("fanout leaves", "ours/wire-node.ts");
  try {
    const { addresses } = await hub.call<{ addresses: string[] }>("createNodes", { settings: p.settings, count: 1, listen: true });
    await leaves.call("createNodes", { settings: p.settings, count: p.peers, listen: false });
    await leaves.call("dial", { from: 0, to: p.peers, target: addresses[0], concurrency: 16 });
    await hub.call("waitPeers", { node: 0, count: p.peers });
    const once = async (size: number, n: number): Promise<FanoutRow> => {
      await leaves.call("expectFanout", { n: n * p.peers });
      const cpu0 = totalCpuTimeUs([hub.pid, leaves.pid]);
      const { startNs } = await hub.call<{ startNs: bigint }>("broadcastStream", { node: 0, size, n });
      const { lastNs } = await leaves.call<{ lastNs: bigint }>("fanoutResult");
      const cpu1 = totalCpuTimeUs([hub.pid, leaves.pid]);
      const seconds = Number(lastNs - startNs) / 1e9;
      const delivered = n * p.peers;
      return {
        sizeBytes: size,
        peers: p.peers,
        broadcasts: n,
        seconds,
        deliveredPerSecond: delivered / seconds,
        mbPerSecond: (delivered * size) / seconds / 1e6,
        cpuUsPerDelivered: cpu0 === null || cpu1 === null ? null : (cpu1 - cpu0) / delivered,
      };
    };
    const rows: FanoutRow[] = [];
    for (const size of p.sizes) {
      const n = countFor(size, p.targetBytes, p.minCount, p.maxCount);
      await once(size, Math.floor(n / 5) + 1); // warm-up (Go: the same)
      rows.push(await once(size, n));
    }
    return rows;
  } finally {
    await Promise.all([hub.stop(), leaves.stop()]);
  }
}

export async function theirsFanout(p: FanoutParams): Promise<FanoutRow[]> {
  const out = await runReference<{ results: FanoutRow[] }>("fanout", [
    ...goFlags(p.settings),
    `-peers=${p.peers}`,
    `-sizes=${p.sizes.join(",")}`,
    `-bytes=${p.targetBytes}`,
    `-min-count=${p.minCount}`,
    `-max-count=${p.maxCount}`,
  ]);
  return out.result.results;
}
