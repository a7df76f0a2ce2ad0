/**
 * Where a validator's CPU goes at a fixed offered tx rate, in the consensus
 * scenario's network (bench/scenarios/consensus.ts): one network, one step
 * of its max-rate phase at `--rate`, with Go's CPU profile taken from every
 * CometBFT process (rpc.pprof_laddr) and V8's from every Switchboard node
 * (`--cpu-prof`, whole run).
 *
 *   npx tsx bench/tools/consensus-profile.ts [--kind mixed|plain] [--rate 800] [--seconds 20]
 *
 * Writes into bench/.tmp/consensus/profile/: vN-KIND.pprof and vN-KIND.top.txt
 * (`go tool pprof -top`) per CometBFT process, CPU.*.cpuprofile per
 * Switchboard node (read with bench/tools/cpuprofile-top.ts), figures.json
 * (the step's figures, CPU per tx by process role) and metrics.json: the
 * highest value each queue gauge of each Switchboard node reached during
 * the step (sampled every second, the largest over label sets).
 */
import { execFile } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildOurs } from "../lib/build.js";
import { CONSENSUS_DIR, installBinaries } from "../lib/cometbft-net.js";
import { consensusNetwork, type NetworkKind } from "../scenarios/consensus.js";

const run = promisify(execFile);
const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? (args[i + 1] ?? fallback) : fallback;
};
const kind = arg("kind", "mixed") as NetworkKind;
const rate = Number(arg("rate", "800"));
const seconds = Number(arg("seconds", "20"));
const out = join(CONSENSUS_DIR, "profile");
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
process.env["BENCH_PROFILE"] = "1";
process.env["BENCH_CHILD_NODE_OPTIONS"] ??= `--cpu-prof --cpu-prof-dir=${out}`;
const log = (line: string): void => void process.stderr.write(`[profile ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

await buildOurs();
const bins = await installBinaries();
const profiles: Promise<void>[] = [];
/** Queue gauges of the Switchboard nodes (server/docs/METRICS.md), their highest value by node. */
const GAUGES = [
  "cometbft_p2p_peer_pending_send_bytes",
  "cometbft_p2p_peer_receive_queue_messages",
  "cometbft_gateway_queue_messages",
  "cometbft_gateway_commands_in_progress",
  "cometbft_gateway_results_waiting",
];
const highest: Record<string, Record<string, number>> = {};
const sampleMetrics = async (name: string, port: number): Promise<void> => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const mine = (highest[name] ??= {});
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+)(\{[^}]*\})? ([-0-9.e+]+)$/.exec(line);
    if (m === null || !GAUGES.includes(m[1]!)) continue;
    const key = `${m[1]!}${m[1] === "cometbft_gateway_queue_messages" ? (m[2] ?? "") : ""}`;
    mine[key] = Math.max(mine[key] ?? 0, Number(m[3]));
  }
};
const figures = await consensusNetwork(
  bins,
  {
    validators: 4,
    timeoutCommit: "500ms",
    mempoolSize: null,
    txBytes: 100,
    warmupBlocks: 1,
    intervalBlocks: 2,
    latencyRate: 100,
    latencyWarmupSeconds: 1,
    latencySeconds: 2,
    // One step, long enough for the profiles taken from its 3rd second on.
    ladder: { start: rate, factor: 1, maxSteps: 1, bisections: 0, stepSeconds: seconds + 5, settleSeconds: 2 },
  },
  kind,
  `profile-${kind}`,
  log,
  (net) => {
    const until = Date.now() + (seconds + 5) * 1000;
    for (const v of net.validators) {
      if (v.metricsPort === null) continue;
      const port = v.metricsPort;
      profiles.push(
        (async () => {
          while (Date.now() < until) {
            await sampleMetrics(`v${v.index}`, port).catch(() => undefined);
            await new Promise((r) => setTimeout(r, 1_000));
          }
        })(),
      );
    }
    for (const v of net.validators) {
      if (v.pprofPort === null) continue;
      const name = `v${v.index}-${v.kind}`;
      const file = join(out, `${name}.pprof`);
      profiles.push(
        (async () => {
          await new Promise((r) => setTimeout(r, 3_000));
          await run("curl", ["-sS", "-o", file, `http://127.0.0.1:${v.pprofPort}/debug/pprof/profile?seconds=${seconds}`], { timeout: (seconds + 30) * 1000 });
          const { stdout } = await run("go", ["tool", "pprof", "-top", "-nodecount=40", file], { maxBuffer: 1 << 22 });
          writeFileSync(join(out, `${name}.top.txt`), stdout);
          log(`${name}: ${stdout.split("\n").find((l) => l.includes("Total samples")) ?? "profile written"}`);
        })(),
      );
    }
  },
);
await Promise.all(profiles);
writeFileSync(join(out, "figures.json"), `${JSON.stringify(figures, null, 2)}\n`);
writeFileSync(join(out, "metrics.json"), `${JSON.stringify(highest, null, 2)}\n`);
if (Object.keys(highest).length > 0) log(`highest queue gauges: ${JSON.stringify(highest)}`);
log(`wrote ${out}`);
process.exit(0);
