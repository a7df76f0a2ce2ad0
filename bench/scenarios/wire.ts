/**
 * Wire level: two nodes over loopback TCP (SecretConnection, MConnection),
 * in-process reactors. Ours: each node in its own process (bench/ours/wire-node.ts);
 * theirs: two CometBFT Switches in the Go reference.
 *
 * - throughput: node A sends `count` messages to B as fast as its send queue
 *   admits; from A's first send to B's last arrival. Every message is
 *   timestamped, so the same run gives the latency under load.
 * - latency: one message in flight; B answers each with an 8-byte tx and A
 *   sends the next on the answer. One-way latency = B's arrival time minus
 *   the time written in the message.
 */
import { type Child, startChild } from "../lib/child.js";
import { cpuByProcess, cpuPer, cpuSpent } from "../lib/cpu.js";
import { runReference } from "../lib/go.js";
import { type BenchSettings, goFlags } from "../lib/settings.js";
import { type Percentiles, countFor } from "../lib/stats.js";

export interface ThroughputParams {
  readonly sizes: readonly number[];
  /** Bytes sent per size (count = bytes / size, clamped). */
  readonly targetBytes: number;
  readonly minCount: number;
  readonly maxCount: number;
  /** Fraction of the count sent first, unmeasured. */
  readonly warmup: number;
  readonly settings: BenchSettings;
}

export interface ThroughputRow {
  readonly sizeBytes: number;
  readonly messages: number;
  readonly seconds: number;
  readonly msgsPerSecond: number;
  readonly mbPerSecond: number;
  readonly loadedLatency: Percentiles;
  /** CPU time (user + system) of every process on the path, per message; null where unknown. */
  readonly cpuUsPerMessage: number | null;
  /** Ours: the same, process by process (wire: nodes A and B; gateway: reactor S, nodes A and B, reactor R). */
  readonly cpuUsPerMessageByProcess?: Readonly<Record<string, number>>;
}

export interface LatencyParams {
  readonly sizes: readonly number[];
  /** Most samples per size. */
  readonly samples: number;
  readonly minSamples: number;
  /** Caps samples × size. */
  readonly targetBytes: number;
  readonly settings: BenchSettings;
}

export interface LatencyRow extends Percentiles {
  readonly sizeBytes: number;
  readonly samples: number;
}

/** Warm-up round trips before the measured ones (Go: n/10 + 10). */
export function latencyWarmup(samples: number): number {
  return Math.floor(samples / 10) + 10;
}

/** Two connected nodes, each in its own process. */
export interface WirePair {
  readonly a: Child;
  readonly b: Child;
  close(): Promise<void>;
}

export async function startWirePair(settings: BenchSettings): Promise<WirePair> {
  const a = startChild("wire-node A", "ours/wire-node.ts");
  const b = startChild("wire-node B", "ours/wire-node.ts");
  const close = async (): Promise<void> => {
    await Promise.all([a.stop(), b.stop()]);
  };
  try {
    await a.call("createNodes", { settings, count: 1, listen: true });
    const { addresses } = await b.call<{ addresses: string[] }>("createNodes", { settings, count: 1, listen: true });
    await a.call("dial", { from: 0, to: 1, target: addresses[0], concurrency: 1 });
    await Promise.all([a.call("waitPeers", { node: 0, count: 1 }), b.call("waitPeers", { node: 0, count: 1 })]);
  } catch (err) {
    await close();
    throw err;
  }
  return { a, b, close };
}

/** One measured stream from A to B over an established pair. */
export async function streamOnce(pair: WirePair, size: number, n: number): Promise<ThroughputRow> {
  await pair.b.call("expectStream", { node: 0, n });
  const processes = { nodeA: pair.a.pid, nodeB: pair.b.pid };
  const cpu0 = cpuByProcess(processes);
  const { startNs } = await pair.a.call<{ startNs: bigint }>("sendStream", { node: 0, size, n });
  const { lastNs, loaded } = await pair.b.call<{ lastNs: bigint; loaded: Percentiles }>("streamResult");
  return throughputRow(size, n, Number(lastNs - startNs) / 1e9, loaded, cpuSpent(cpu0, cpuByProcess(processes)));
}

/** A throughput row from a measured stream; `cpu` is the CPU time each process spent on it (null where unknown). */
export function throughputRow(size: number, n: number, seconds: number, loaded: Percentiles, cpu: Record<string, number> | null): ThroughputRow {
  const per = cpuPer(cpu, n);
  return {
    sizeBytes: size,
    messages: n,
    seconds,
    msgsPerSecond: n / seconds,
    mbPerSecond: (n * size) / seconds / 1e6,
    loadedLatency: loaded,
    cpuUsPerMessage: per === null ? null : per.total,
    ...(per === null ? {} : { cpuUsPerMessageByProcess: per.byProcess }),
  };
}

export async function oursThroughput(p: ThroughputParams): Promise<ThroughputRow[]> {
  const pair = await startWirePair(p.settings);
  try {
    const rows: ThroughputRow[] = [];
    for (const size of p.sizes) {
      const n = countFor(size, p.targetBytes, p.minCount, p.maxCount);
      const w = Math.floor(n * p.warmup);
      if (w > 0) await streamOnce(pair, size, w);
      rows.push(await streamOnce(pair, size, n));
    }
    return rows;
  } finally {
    await pair.close();
  }
}

export async function theirsThroughput(p: ThroughputParams): Promise<ThroughputRow[]> {
  const out = await runReference<{ results: ThroughputRow[] }>("throughput", [
    ...goFlags(p.settings),
    `-sizes=${p.sizes.join(",")}`,
    `-bytes=${p.targetBytes}`,
    `-min-count=${p.minCount}`,
    `-max-count=${p.maxCount}`,
    `-warmup=${p.warmup}`,
  ]);
  return out.result.results;
}

/** One latency measurement over an established pair (A pings, B echoes). */
export async function pingPongOnce(pair: WirePair, size: number, samples: number): Promise<LatencyRow> {
  const warmup = latencyWarmup(samples);
  await pair.b.call("echo", { node: 0, warmup });
  await pair.a.call("pingPong", { node: 0, size, total: samples + warmup });
  const r = await pair.b.call<Percentiles & { samples: number }>("echoLatencies", { node: 0 });
  return { sizeBytes: size, ...r };
}

export async function oursLatency(p: LatencyParams): Promise<LatencyRow[]> {
  const pair = await startWirePair(p.settings);
  try {
    const rows: LatencyRow[] = [];
    for (const size of p.sizes) rows.push(await pingPongOnce(pair, size, countFor(size, p.targetBytes, p.minSamples, p.samples)));
    return rows;
  } finally {
    await pair.close();
  }
}

export async function theirsLatency(p: LatencyParams): Promise<LatencyRow[]> {
  const out = await runReference<{ results: LatencyRow[] }>("latency", [
    ...goFlags(p.settings),
    `-sizes=${p.sizes.join(",")}`,
    `-samples=${p.samples}`,
    `-min-samples=${p.minSamples}`,
    `-bytes=${p.targetBytes}`,
  ]);
  return out.result.results;
}
