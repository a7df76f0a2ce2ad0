/**
 * Switchboard vs CometBFT v0.38 p2p, side by side (issue 8).
 *
 *   npm run bench                 # every scenario, 3 rounds (about 15 minutes, 9 of them consensus)
 *   npm run bench -- --quick      # smaller counts, 1 round (about 90 s; CI)
 *   npm run bench -- --only wire-throughput,connections --rounds 5
 *   npm run bench -- --only gateway-throughput --sizes 65536 --rounds 1   # one size (profiling)
 *   npm run bench -- --only consensus   # 4 validators: 2 plain + 2 hosted vs 4 plain, 3 rounds (9–10 minutes)
 *
 * Each scenario runs both implementations alternately (ours, theirs, ours,
 * theirs…) and reports medians. CometBFT is the Go program in
 * bench/reference (its p2p package as a library, built here with `go build`);
 * Switchboard is the tree's source compiled by tsc (bench/tsconfig.build.json). Prints a table with the Switchboard/CometBFT
 * ratio per row and writes the same to bench/results/latest.json.
 *
 * Exits non-zero only when the harness breaks; missed targets are reported,
 * not failed.
 */
import { fileURLToPath } from "node:url";
import os from "node:os";
import { buildOurs } from "./lib/build.js";
import { type Binaries, installBinaries } from "./lib/cometbft-net.js";
import { buildReference } from "./lib/go.js";
import { type Row, Rows, type Target, gitCommit, machineInfo, renderTable, summarize, writeJson, sizeLabel } from "./lib/report.js";
import { LATENCY_SETTINGS, THROUGHPUT_SETTINGS } from "./lib/settings.js";
import { type ConnectionsParams, type FanoutParams, oursConnections, oursFanout, theirsConnections, theirsFanout } from "./scenarios/connections.js";
import { type ConsensusFigures, type ConsensusParams, type NetworkKind, consensusNetwork } from "./scenarios/consensus.js";
import { gatewayLatency, gatewayThroughput } from "./scenarios/gateway.js";
import { type LatencyParams, type LatencyRow, type ThroughputParams, type ThroughputRow, oursLatency, oursThroughput, theirsLatency, theirsThroughput } from "./scenarios/wire.js";

const ROOT = fileURLToPath(new URL("../", import.meta.url));
const SIZES = [256, 4096, 65_536, 1_048_576];
const MiB = 1024 * 1024;

interface Plan {
  readonly rounds: number;
  readonly throughput: ThroughputParams;
  readonly latency: LatencyParams;
  readonly gatewayThroughput: ThroughputParams;
  readonly gatewayLatency: LatencyParams;
  readonly connections: ConnectionsParams;
  readonly fanout: FanoutParams;
  readonly consensus: ConsensusParams;
}

/**
 * The consensus scenario's network: CometBFT's default config but timeout_commit (500 ms) and the mempool's size
 * (50,000 txs instead of 5,000: at ~2,500 tx/s the default cap is reached with under two seconds of txs waiting, so
 * both networks would stop at the same configured limit); 100-byte txs.
 */
const CONSENSUS_COMMON = { validators: 4, timeoutCommit: "500ms", mempoolSize: 50_000, txBytes: 100 } as const;

function plan(quick: boolean): Plan {
  const s = THROUGHPUT_SETTINGS;
  const l = LATENCY_SETTINGS;
  if (quick) {
    return {
      rounds: 1,
      throughput: { sizes: SIZES, targetBytes: 4 * MiB, minCount: 20, maxCount: 20_000, warmup: 0.2, settings: s },
      latency: { sizes: SIZES, samples: 200, minSamples: 10, targetBytes: 8 * MiB, settings: l },
      gatewayThroughput: { sizes: SIZES, targetBytes: 2 * MiB, minCount: 10, maxCount: 5_000, warmup: 0.2, settings: s },
      gatewayLatency: { sizes: SIZES, samples: 100, minSamples: 10, targetBytes: 4 * MiB, settings: l },
      connections: { peers: 100, concurrency: 32, settleMs: 300, settings: s },
      fanout: { peers: 20, sizes: [4096], targetBytes: 256 * 1024, minCount: 20, maxCount: 500, settings: s },
      consensus: {
        ...CONSENSUS_COMMON,
        warmupBlocks: 1,
        intervalBlocks: 5,
        latencyRate: 50,
        latencyWarmupSeconds: 2,
        latencySeconds: 5,
        ladder: { start: 100, factor: 2, maxSteps: 2, bisections: 0, stepSeconds: 5, settleSeconds: 1.5 },
      },
    };
  }
  return {
    rounds: 3,
    throughput: { sizes: SIZES, targetBytes: 64 * MiB, minCount: 200, maxCount: 200_000, warmup: 0.2, settings: s },
    latency: { sizes: SIZES, samples: 2000, minSamples: 50, targetBytes: 64 * MiB, settings: l },
    gatewayThroughput: { sizes: SIZES, targetBytes: 32 * MiB, minCount: 100, maxCount: 100_000, warmup: 0.2, settings: s },
    gatewayLatency: { sizes: SIZES, samples: 1000, minSamples: 50, targetBytes: 32 * MiB, settings: l },
    connections: { peers: 500, concurrency: 32, settleMs: 1000, settings: s },
    fanout: { peers: 50, sizes: [256, 4096], targetBytes: 2 * MiB, minCount: 200, maxCount: 2_000, settings: s },
    consensus: {
      ...CONSENSUS_COMMON,
      warmupBlocks: 2,
      intervalBlocks: 12,
      latencyRate: 100,
      latencyWarmupSeconds: 3,
      latencySeconds: 12,
      ladder: { start: 900, factor: 1.5, maxSteps: 7, bisections: 2, stepSeconds: 7, settleSeconds: 2 },
    },
  };
}

/** The plan restricted to `sizes` (every scenario keeps the sizes it has among them). */
function onlySizes(p: Plan, sizes: readonly number[] | null): Plan {
  if (sizes === null) return p;
  const keep = <T extends { readonly sizes: readonly number[] }>(x: T): T => ({ ...x, sizes: x.sizes.filter((n) => sizes.includes(n)) });
  return {
    ...p,
    throughput: keep(p.throughput),
    latency: keep(p.latency),
    gatewayThroughput: keep(p.gatewayThroughput),
    gatewayLatency: keep(p.gatewayLatency),
    fanout: keep(p.fanout),
  };
}

// ---------------------------------------------------------------- targets

const atLeastRatio = (r: number): Target => ({ text: `ratio ≥ ${r.toFixed(1)}`, met: ({ ratio }) => ratio !== null && ratio >= r });
const atLeast = (v: number, unit: string): Target => ({ text: `≥ ${v} ${unit}`, met: ({ ours }) => ours >= v });
const atMost = (v: number, unit: string): Target => ({ text: `≤ ${v} ${unit}`, met: ({ ours }) => ours <= v });
/** Within 5 % of CometBFT: ratio ≤ 1.05 where lower is better, ≥ 0.95 where higher is. */
const ratioAtMost = (r: number): Target => ({ text: `ratio ≤ ${r.toFixed(2)}`, met: ({ ratio }) => ratio !== null && ratio <= r });
const ratioAtLeast = (r: number): Target => ({ text: `ratio ≥ ${r.toFixed(2)}`, met: ({ ratio }) => ratio !== null && ratio >= r });

// ---------------------------------------------------------------- scenarios

interface Scenario {
  readonly name: string;
  /** One round: ours then theirs (or ours only), adding figures to `rows`. */
  round(p: Plan, rows: Rows, state: State): Promise<void>;
}

/** Figures kept between scenarios of one run (ours at wire level, for the gateway's added latency). */
interface State {
  readonly oursWireLatency: Map<number, { p50: number[]; p99: number[] }>;
  /** cometbft and cometbft-switchboard, installed when the consensus scenario first runs. */
  consensusBinaries: Binaries | null;
  /** Every network the consensus scenario ran, in order, for the JSON. */
  readonly consensusRuns: (ConsensusFigures & { round: number; loadAvg1m: [number, number] })[];
}

function addThroughput(rows: Rows, scenario: string, ours: readonly ThroughputRow[], theirs: readonly ThroughputRow[] | null, target: (size: number) => Target): void {
  for (const o of ours) {
    const t = theirs?.find((x) => x.sizeBytes === o.sizeBytes);
    rows.add({
      scenario,
      sizeBytes: o.sizeBytes,
      metric: "throughput",
      unit: "msg/s",
      better: "higher",
      ours: o.msgsPerSecond,
      theirs: t?.msgsPerSecond ?? null,
      target: target(o.sizeBytes),
      detail: {
        oursLoadedP50Us: o.loadedLatency.p50Us,
        oursLoadedP99Us: o.loadedLatency.p99Us,
        ...(t === undefined ? {} : { theirsLoadedP50Us: t.loadedLatency.p50Us, theirsLoadedP99Us: t.loadedLatency.p99Us }),
      },
    });
    rows.add({ scenario, sizeBytes: o.sizeBytes, metric: "throughput (bytes)", unit: "MB/s", better: "higher", ours: o.mbPerSecond, theirs: t?.mbPerSecond ?? null });
    if (o.cpuUsPerMessage !== null) {
      rows.add({
        scenario,
        sizeBytes: o.sizeBytes,
        metric: "CPU per message",
        unit: "µs",
        better: "lower",
        ours: o.cpuUsPerMessage,
        theirs: t?.cpuUsPerMessage ?? null,
        // Where the CPU goes on our side, process by process, in the JSON.
        ...(o.cpuUsPerMessageByProcess === undefined ? {} : { detail: o.cpuUsPerMessageByProcess }),
      });
    }
  }
}

function addLatency(rows: Rows, scenario: string, ours: readonly LatencyRow[], theirs: readonly LatencyRow[] | null): void {
  for (const o of ours) {
    const t = theirs?.find((x) => x.sizeBytes === o.sizeBytes);
    rows.add({ scenario, sizeBytes: o.sizeBytes, metric: "latency p50", unit: "µs", better: "lower", ours: o.p50Us, theirs: t?.p50Us ?? null, detail: { oursSamples: o.samples } });
    rows.add({ scenario, sizeBytes: o.sizeBytes, metric: "latency p99", unit: "µs", better: "lower", ours: o.p99Us, theirs: t?.p99Us ?? null });
  }
}

const wireTarget = (): Target => atLeastRatio(1.0);
const gatewayTarget = (size: number): Target => atLeastRatio(size >= 4096 ? 1.0 : 0.8);

const SCENARIOS: readonly Scenario[] = [
  {
    name: "wire-throughput",
    async round(p, rows) {
      const ours = await oursThroughput(p.throughput);
      const theirs = await theirsThroughput(p.throughput);
      addThroughput(rows, "wire", ours, theirs, wireTarget);
    },
  },
  {
    name: "wire-latency",
    async round(p, rows, state) {
      const ours = await oursLatency(p.latency);
      const theirs = await theirsLatency(p.latency);
      addLatency(rows, "wire", ours, theirs);
      for (const o of ours) {
        const e = state.oursWireLatency.get(o.sizeBytes) ?? { p50: [], p99: [] };
        e.p50.push(o.p50Us);
        e.p99.push(o.p99Us);
        state.oursWireLatency.set(o.sizeBytes, e);
      }
    },
  },
  {
    name: "gateway-throughput",
    async round(p, rows) {
      const ours = await gatewayThroughput(p.gatewayThroughput);
      const theirs = await theirsThroughput(p.gatewayThroughput);
      addThroughput(rows, "gateway", ours, theirs, gatewayTarget);
    },
  },
  {
    name: "gateway-latency",
    async round(p, rows, state) {
      const ours = await gatewayLatency(p.gatewayLatency);
      const theirs = await theirsLatency(p.gatewayLatency);
      addLatency(rows, "gateway", ours, theirs);
      for (const o of ours) {
        const wire = state.oursWireLatency.get(o.sizeBytes);
        if (wire === undefined) continue;
        const mid = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1] ?? Number.NaN;
        rows.add({ scenario: "gateway added", sizeBytes: o.sizeBytes, metric: "latency p50", unit: "µs", better: "lower", ours: o.p50Us - mid(wire.p50), theirs: null, target: atMost(200, "µs") });
        rows.add({ scenario: "gateway added", sizeBytes: o.sizeBytes, metric: "latency p99", unit: "µs", better: "lower", ours: o.p99Us - mid(wire.p99), theirs: null, target: atMost(2000, "µs") });
      }
    },
  },
  {
    name: "connections",
    async round(p, rows) {
      const ours = await oursConnections(p.connections);
      const theirs = await theirsConnections(p.connections);
      const common = { scenario: `connections (${ours.peers} peers)`, sizeBytes: null };
      rows.add({ ...common, metric: "handshakes", unit: "/s", better: "higher", ours: ours.handshakesPerSecond, theirs: theirs.handshakesPerSecond, target: atLeast(1000, "/s") });
      if (ours.cpuUsPerHandshake !== null) {
        rows.add({
          ...common,
          metric: "CPU per handshake",
          unit: "µs",
          better: "lower",
          ours: ours.cpuUsPerHandshake,
          theirs: theirs.cpuUsPerHandshake,
          // The accepting hub's share and the dialers', in the JSON.
          ...(ours.cpuUsPerHandshakeByProcess === undefined ? {} : { detail: ours.cpuUsPerHandshakeByProcess }),
        });
      }
      const kib = (b: number): number => b / 1024;
      rows.add({ ...common, metric: "memory/idle peer (RSS, marginal)", unit: "KiB", better: "lower", ours: kib(ours.rssMarginalPerPeerBytes), theirs: kib(theirs.rssMarginalPerPeerBytes), target: atMost(64, "KiB") });
      rows.add({ ...common, metric: "memory/idle peer (RSS, average)", unit: "KiB", better: "lower", ours: kib(ours.rssPerPeerBytes), theirs: kib(theirs.rssPerPeerBytes) });
      rows.add({ ...common, metric: "memory/idle peer (heap, marginal)", unit: "KiB", better: "lower", ours: kib(ours.heapMarginalPerPeerBytes), theirs: kib(theirs.heapMarginalPerPeerBytes) });
    },
  },
  {
    name: "fanout",
    async round(p, rows) {
      const ours = await oursFanout(p.fanout);
      const theirs = await theirsFanout(p.fanout);
      for (const o of ours) {
        const t = theirs.find((x) => x.sizeBytes === o.sizeBytes);
        rows.add({
          scenario: `fan-out (1 → ${o.peers})`,
          sizeBytes: o.sizeBytes,
          metric: "delivered",
          unit: "msg/s",
          better: "higher",
          ours: o.deliveredPerSecond,
          theirs: t?.deliveredPerSecond ?? null,
          detail: { oursMBps: o.mbPerSecond, ...(t === undefined ? {} : { theirsMBps: t.mbPerSecond }) },
        });
        if (o.cpuUsPerDelivered !== null) {
          rows.add({
            scenario: `fan-out (1 → ${o.peers})`,
            sizeBytes: o.sizeBytes,
            metric: "CPU per delivery",
            unit: "µs",
            better: "lower",
            ours: o.cpuUsPerDelivered,
            theirs: t?.cpuUsPerDelivered ?? null,
          });
        }
      }
    },
  },
  {
    name: "consensus",
    async round(p, rows, state) {
      const c = p.consensus;
      state.consensusBinaries ??= await installBinaries();
      const bins = state.consensusBinaries;
      // Which network goes first alternates from round to round (mixed first in round 1, as ours goes first elsewhere).
      const round = new Set(state.consensusRuns.map((r) => r.round)).size + 1;
      const order: NetworkKind[] = round % 2 === 1 ? ["mixed", "plain"] : ["plain", "mixed"];
      const got: Partial<Record<NetworkKind, ConsensusFigures>> = {};
      for (const kind of order) {
        const load0 = os.loadavg()[0] ?? 0;
        const f = await consensusNetwork(bins, c, kind, `r${round}-${kind}`, log);
        got[kind] = f;
        state.consensusRuns.push({ ...f, round, loadAvg1m: [load0, os.loadavg()[0] ?? 0] });
      }
      const mixed = got.mixed!;
      const plain = got.plain!;
      const scenario = "consensus (2 plain + 2 hosted vs 4 plain)";
      const tx = c.txBytes;
      const prefixed = (f: ConsensusFigures, x: Record<string, number> | null): Record<string, number> =>
        Object.fromEntries(Object.entries(x ?? {}).map(([k, v]) => [`${f.kind}: ${k}`, v]));
      rows.add({
        scenario,
        sizeBytes: null,
        metric: `block interval (timeout_commit ${c.timeoutCommit})`,
        unit: "ms",
        better: "lower",
        ours: mixed.blockIntervalMs,
        theirs: plain.blockIntervalMs,
        target: ratioAtMost(1.05),
        detail: { oursIntervals: mixed.intervals, theirsIntervals: plain.intervals },
      });
      rows.add({
        scenario,
        sizeBytes: tx,
        metric: `commit latency p50 @ ${c.latencyRate} tx/s`,
        unit: "ms",
        better: "lower",
        ours: mixed.latencyP50Ms,
        theirs: plain.latencyP50Ms,
        target: ratioAtMost(1.05),
        detail: {
          oursSamples: mixed.latencySamples,
          oursLost: mixed.latencyLost,
          theirsSamples: plain.latencySamples,
          theirsLost: plain.latencyLost,
          ...(mixed.latencyP50MsByKind.plain === undefined ? {} : { oursP50MsSentToPlain: mixed.latencyP50MsByKind.plain }),
          ...(mixed.latencyP50MsByKind.hosted === undefined ? {} : { oursP50MsSentToHosted: mixed.latencyP50MsByKind.hosted }),
        },
      });
      rows.add({
        scenario,
        sizeBytes: tx,
        metric: `commit latency p99 @ ${c.latencyRate} tx/s`,
        unit: "ms",
        better: "lower",
        ours: mixed.latencyP99Ms,
        theirs: plain.latencyP99Ms,
        target: ratioAtMost(1.05),
      });
      // What each network committed per second at the first rate it could not sustain.
      const saturated = (f: ConsensusFigures): number => f.steps.find((s) => !s.passed)?.committedPerSecond ?? Number.NaN;
      rows.add({
        scenario,
        sizeBytes: tx,
        metric: "max sustained tx rate",
        unit: "tx/s",
        better: "higher",
        ours: mixed.maxRate,
        theirs: plain.maxRate,
        target: ratioAtLeast(0.95),
        detail: { oursCommittedWhenSaturated: saturated(mixed), theirsCommittedWhenSaturated: saturated(plain) },
      });
      rows.add({
        scenario,
        sizeBytes: tx,
        metric: "txs committed twice (max-rate phase)",
        unit: "%",
        better: "lower",
        ours: mixed.committedAgainPercent,
        theirs: plain.committedAgainPercent,
      });
      // The validators' processes only; the load generator (this process) is in the JSON's detail.
      const total = (x: Record<string, number> | null): number =>
        x === null ? Number.NaN : Object.entries(x).reduce((a, [k, v]) => (k === "load generator" ? a : a + v), 0);
      rows.add({
        scenario,
        sizeBytes: tx,
        metric: `CPU per tx @ ${c.latencyRate} tx/s (4 validators)`,
        unit: "µs",
        better: "lower",
        ours: total(mixed.cpuUsPerTxByRole),
        theirs: total(plain.cpuUsPerTxByRole),
        detail: { ...prefixed(mixed, mixed.cpuUsPerTxByRole), ...prefixed(plain, plain.cpuUsPerTxByRole) },
      });
      // CPU per tx at the highest rate of the ladder both networks sustained (the same offered load).
      const common = mixed.steps
        .filter((m) => m.passed && plain.steps.some((t) => t.passed && t.rate === m.rate))
        .sort((a, b) => b.rate - a.rate)[0];
      const theirsCommon = plain.steps.find((t) => t.passed && t.rate === common?.rate);
      if (common !== undefined && theirsCommon !== undefined) {
        rows.add({
          scenario,
          sizeBytes: tx,
          metric: "CPU per tx @ highest rate both sustained (4 validators)",
          unit: "µs",
          better: "lower",
          ours: total(common.cpuUsPerTxByRole),
          theirs: total(theirsCommon.cpuUsPerTxByRole),
          detail: { rate: common.rate, ...prefixed(mixed, common.cpuUsPerTxByRole), ...prefixed(plain, theirsCommon.cpuUsPerTxByRole) },
        });
      }
      rows.add({
        scenario,
        sizeBytes: null,
        metric: "CPU per empty block (4 validators)",
        unit: "µs",
        better: "lower",
        ours: total(mixed.cpuUsPerBlockByRole),
        theirs: total(plain.cpuUsPerBlockByRole),
        detail: { ...prefixed(mixed, mixed.cpuUsPerBlockByRole), ...prefixed(plain, plain.cpuUsPerBlockByRole) },
      });
    },
  },
];

// ---------------------------------------------------------------- main

interface Args {
  readonly quick: boolean;
  readonly rounds: number | null;
  readonly only: readonly string[] | null;
  readonly out: string;
  /** Message sizes to run (bytes), or null for every size of the plan. */
  readonly sizes: readonly number[] | null;
}

function parseArgs(argv: readonly string[]): Args {
  let quick = false;
  let rounds: number | null = null;
  let only: string[] | null = null;
  let out = fileURLToPath(new URL("results/latest.json", import.meta.url));
  let sizes: number[] | null = null;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a ?? ""} needs a value`);
      return v;
    };
    if (a === "--quick") quick = true;
    else if (a === "--rounds") rounds = Number(value());
    else if (a === "--only") only = value().split(",");
    else if (a === "--out") out = value();
    else if (a === "--sizes") sizes = value().split(",").map(Number);
    else throw new Error(`unknown argument ${a ?? ""} (known: --quick, --rounds N, --only a,b, --sizes n,m, --out FILE)`);
  }
  if (only !== null) {
    const unknown = only.filter((n) => !SCENARIOS.some((s) => s.name === n));
    if (unknown.length > 0) throw new Error(`unknown scenario ${unknown.join(", ")} (known: ${SCENARIOS.map((s) => s.name).join(", ")})`);
  }
  if (sizes !== null) {
    const unknown = sizes.filter((n) => !SIZES.includes(n));
    if (unknown.length > 0) throw new Error(`unknown size ${unknown.join(", ")} (known: ${SIZES.join(", ")})`);
  }
  return { quick, rounds, only, out, sizes };
}

function log(line: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)} load ${os.loadavg()[0]?.toFixed(1) ?? "?"}] ${line}\n`);
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const started = Date.now();
  const p = onlySizes(plan(args.quick), args.sizes);
  const rounds = args.rounds ?? p.rounds;
  const machine = machineInfo();
  log("compiling Switchboard (bench/tsconfig.build.json) and building the Go reference (bench/reference)");
  const [, goVersion] = await Promise.all([buildOurs(), buildReference()]);
  const rows = new Rows();
  const state: State = { oursWireLatency: new Map(), consensusBinaries: null, consensusRuns: [] };
  const scenarios = SCENARIOS.filter((s) => args.only === null || args.only.includes(s.name));
  const loadSamples: number[] = [];
  for (const s of scenarios) {
    for (let r = 1; r <= rounds; r++) {
      log(`${s.name}: round ${r}/${rounds} (Switchboard, then CometBFT)`);
      loadSamples.push(os.loadavg()[0] ?? 0);
      await s.round(p, rows, state);
    }
  }
  machine.loadAvgAtEnd = os.loadavg();
  const list: Row[] = rows.list();
  const summaries = summarize(list);
  const table = renderTable(summaries);
  const seconds = (Date.now() - started) / 1000;
  console.log(table);
  console.log(
    `\n${args.quick ? "quick mode, " : ""}${rounds} round(s), ${seconds.toFixed(0)} s; ${machine.cpus} × ${machine.cpuModel}, ` +
      `${(machine.totalMemBytes / 2 ** 30).toFixed(0)} GiB; load average (1 min) ${machine.loadAvgAtStart[0]?.toFixed(1) ?? "?"} at start, ` +
      `${machine.loadAvgAtEnd[0]?.toFixed(1) ?? "?"} at end; node ${process.version}, ${goVersion}`,
  );
  writeJson(args.out, {
    generatedAt: new Date().toISOString(),
    mode: args.quick ? "quick" : "full",
    rounds,
    durationSeconds: seconds,
    gitCommit: gitCommit(ROOT),
    machine: { ...machine, loadAvg1mDuringRun: loadSamples },
    versions: { node: process.version, go: goVersion, cometbft: "v0.38.25" },
    settings: { throughput: THROUGHPUT_SETTINGS, latency: LATENCY_SETTINGS },
    plan: p,
    rows: summaries.map((s) => ({ ...s, size: sizeLabel(s.sizeBytes) })),
    ...(state.consensusRuns.length === 0 ? {} : { consensusRuns: state.consensusRuns }),
  });
  log(`wrote ${args.out}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
