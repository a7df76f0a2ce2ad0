/**
 * Through the gateway: reactor S → node A → node B → reactor R, four
 * processes. A and B are real daemons (`switchboard start`); S and R are
 * remote reactors on the gRPC gateway (bench/ours/gateway-reactor.ts). The
 * same measurements as the wire scenarios, so that the gateway's cost is
 * gateway figure − wire figure. CometBFT has no gateway: its side of the
 * comparison is its wire figure (reactors in the node's process).
 */
import { type Child, startChild } from "../lib/child.js";
import { cpuByProcess, cpuSpent } from "../lib/cpu.js";
import { type Daemon, initHome, startDaemon } from "../lib/daemon.js";
import type { BenchSettings } from "../lib/settings.js";
import { type Percentiles, countFor } from "../lib/stats.js";
import { type LatencyParams, type LatencyRow, type ThroughputParams, type ThroughputRow, latencyWarmup, throughputRow } from "./wire.js";

interface GatewayPath {
  readonly sender: Child;
  readonly receiver: Child;
  /** The four processes' PIDs by name: reactor S, nodes A and B, reactor R. */
  readonly processes: Readonly<Record<string, number>>;
  close(): Promise<void>;
}

async function startGatewayPath(settings: BenchSettings): Promise<GatewayPath> {
  const [homeA, homeB] = await Promise.all([initHome("gateway-a"), initHome("gateway-b")]);
  const daemons: Daemon[] = [];
  const sender = startChild("reactor S", "ours/gateway-reactor.ts");
  const receiver = startChild("reactor R", "ours/gateway-reactor.ts");
  const close = async (): Promise<void> => {
    await Promise.allSettled([sender.call("close", {}, 5_000), receiver.call("close", {}, 5_000)]);
    await Promise.all([sender.stop(), receiver.stop(), ...daemons.map((d) => d.stop())]);
  };
  try {
    const [a, b] = await Promise.all([startDaemon(homeA, "bench", settings), startDaemon(homeB, "bench", settings)]);
    daemons.push(a, b);
    await Promise.all([
      sender.call("attach", { grpc: a.grpc, name: "bench", settings }),
      receiver.call("attach", { grpc: b.grpc, name: "bench", settings }),
    ]);
    await a.p2pAddress;
    await sender.call("dial", { address: await b.p2pAddress });
    await Promise.all([sender.call("waitPeer", {}), receiver.call("waitPeer", {})]);
  } catch (err) {
    await close();
    throw err;
  }
  const [a, b] = daemons as [Daemon, Daemon];
  return {
    sender,
    receiver,
    processes: { reactorS: sender.pid, nodeA: a.pid, nodeB: b.pid, reactorR: receiver.pid },
    close,
  };
}

export async function gatewayThroughput(p: ThroughputParams): Promise<ThroughputRow[]> {
  const path = await startGatewayPath(p.settings);
  const once = async (size: number, n: number): Promise<ThroughputRow> => {
    await path.receiver.call("expectStream", { n });
    const cpu0 = cpuByProcess(path.processes);
    const { startNs } = await path.sender.call<{ startNs: bigint }>("sendStream", { size, n });
    const { lastNs, loaded } = await path.receiver.call<{ lastNs: bigint; loaded: Percentiles }>("streamResult");
    return throughputRow(size, n, Number(lastNs - startNs) / 1e9, loaded, cpuSpent(cpu0, cpuByProcess(path.processes)));
  };
  try {
    const rows: ThroughputRow[] = [];
    for (const size of p.sizes) {
      const n = countFor(size, p.targetBytes, p.minCount, p.maxCount);
      const w = Math.floor(n * p.warmup);
      if (w > 0) await once(size, w);
      rows.push(await once(size, n));
    }
    return rows;
  } finally {
    await path.close();
  }
}

export async function gatewayLatency(p: LatencyParams): Promise<LatencyRow[]> {
  const path = await startGatewayPath(p.settings);
  try {
    const rows: LatencyRow[] = [];
    for (const size of p.sizes) {
      const samples = countFor(size, p.targetBytes, p.minSamples, p.samples);
      const warmup = latencyWarmup(samples);
      await path.receiver.call("echo", { warmup });
      await path.sender.call("pingPong", { size, total: samples + warmup });
      rows.push({ sizeBytes: size, ...(await path.receiver.call<Percentiles & { samples: number }>("echoLatencies")) });
    }
    return rows;
  } finally {
    await path.close();
  }
}
