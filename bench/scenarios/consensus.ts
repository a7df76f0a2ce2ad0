/**
 * Consensus (issue 14): the same 4-validator kvstore network on loopback,
 * all plain CometBFT v0.38.25 ("plain") vs. 2 plain + 2 hosted validators
 * ("mixed": a Switchboard node is the hosted validator's whole p2p layer and
 * `cometbft-switchboard` runs its reactors over gRPC). A fresh chain per
 * network and round; each runs three phases in order:
 *
 * - block interval: after `warmupBlocks`, the median difference between
 *   consecutive block times (header.time, BFT time) over `intervalBlocks`
 *   empty blocks.
 * - tx commit latency at a fixed offered load: unique `txBytes`-byte kvstore
 *   txs at `latencyRate` tx/s, round-robin over the four validators'
 *   websockets with `broadcast_tx_sync`; latency = the moment the node the tx
 *   was sent to announces the block holding it (its NewBlockHeader event on
 *   our subscription to that node) − the moment we wrote the request. The
 *   same clock (this process's) for both, and the same path for both.
 * - max sustained rate: the offered rate goes up a ladder (× `factor`) until
 *   a step fails, then is bisected (geometric mean) `bisections` times. A
 *   step passes when every tx is accepted (no "mempool is full"), we
 *   actually sent ≥ 97 % of the offered count, and the backlog does not
 *   grow: backlog at a block = txs accepted before validator 0 announced it
 *   − txs committed up to it (exact counts from the blocks), sampled at
 *   every block after the step's first `settleSeconds`; its least-squares
 *   slope must stay under 5 % of the offered rate per second.
 *
 * CPU time of every process (/proc) is read around the block-interval phase
 * (per block), the latency phase (per tx) and each step of the ladder (per
 * committed tx), and summed by role: plain cometbft, Switchboard node,
 * cometbft-switchboard, and this process (the load generator).
 */
import { performance } from "node:perf_hooks";
import { cpuByProcess, cpuSpent } from "../lib/cpu.js";
import { type Binaries, type GatewayTransport, Network, type RpcHeader, type Validator, type ValidatorKind, rpcCall } from "../lib/cometbft-net.js";
import { median } from "../lib/stats.js";
import { WsClient } from "../lib/ws.js";

export interface LadderParams {
  /** First offered rate, tx/s. */
  readonly start: number;
  /** Each next step offers this many times the last. */
  readonly factor: number;
  /** Steps up the ladder at most (the last one then counts as passed). */
  readonly maxSteps: number;
  /** Bisections between the last passing and the first failing rate. */
  readonly bisections: number;
  readonly stepSeconds: number;
  /** The start of each step that is not judged (the backlog moves to its new level). */
  readonly settleSeconds: number;
}

export interface ConsensusParams {
  readonly validators: number;
  /** consensus.timeout_commit; the other consensus timeouts stay at CometBFT's defaults. */
  readonly timeoutCommit: string;
  /** mempool.size (CometBFT's default is 5000 txs), or null for the default. */
  readonly mempoolSize: number | null;
  readonly warmupBlocks: number;
  readonly intervalBlocks: number;
  readonly txBytes: number;
  readonly latencyRate: number;
  readonly latencyWarmupSeconds: number;
  readonly latencySeconds: number;
  readonly ladder: LadderParams;
}

export type NetworkKind = "plain" | "mixed";

export interface RateStep {
  readonly rate: number;
  readonly passed: boolean;
  readonly sentFraction: number;
  readonly rejected: number;
  /** Backlog growth over the judged part of the step, tx/s. */
  readonly backlogGrowthPerSecond: number;
  readonly backlogMean: number;
  /** Txs committed (for the first time) per second over the step's blocks (at validator 0). */
  readonly committedPerSecond: number;
  /** Txs the step's blocks committed a second time (or more). */
  readonly committedAgain: number;
  /** CPU µs per committed tx over the step, by process role. */
  readonly cpuUsPerTxByRole: Record<string, number> | null;
  readonly firstError?: string;
}

export interface ConsensusFigures {
  readonly kind: NetworkKind;
  readonly blockIntervalMs: number;
  readonly intervals: number;
  readonly latencyP50Ms: number;
  readonly latencyP99Ms: number;
  readonly latencySamples: number;
  /** Measured txs never seen committed (or whose block the sending node never announced to us). */
  readonly latencyLost: number;
  /** p50 of the txs sent to plain and to hosted validators apart (mixed only has both). */
  readonly latencyP50MsByKind: Partial<Record<ValidatorKind, number>>;
  readonly maxRate: number;
  readonly steps: readonly RateStep[];
  /** Of the txs the max-rate phase's blocks committed, the share that had been committed before (%). */
  readonly committedAgainPercent: number;
  /** CPU µs per committed tx in the latency phase, by process role (summed over the role's processes). */
  readonly cpuUsPerTxByRole: Record<string, number> | null;
  /** CPU µs per block in the block-interval phase (empty blocks), by role. */
  readonly cpuUsPerBlockByRole: Record<string, number> | null;
  /** Busy cores (CPU s per wall s) by role in the latency phase. */
  readonly coresByRoleAtFixedLoad: Record<string, number> | null;
  /** Wall-clock time of this network's run (start, three phases, stop). */
  readonly seconds: number;
}

const KINDS: Record<NetworkKind, (n: number) => ValidatorKind[]> = {
  plain: (n) => Array.from({ length: n }, () => "plain"),
  mixed: (n) => Array.from({ length: n }, (_, i) => (i < n / 2 ? "plain" : "hosted")),
};

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- block announcements

/** NewBlockHeader subscriptions on every validator: when each announced each height. */
class BlockWatcher {
  /** Per validator: height → performance.now() when its event arrived. */
  readonly arrivals: Map<number, number>[];
  /** Per validator: the highest height announced. */
  readonly latest: number[];
  private readonly waiters: { v: number; height: number; resolve: () => void }[] = [];
  private closing = false;

  private constructor(private readonly sockets: WsClient[]) {
    this.arrivals = sockets.map(() => new Map<number, number>());
    this.latest = sockets.map(() => 0);
    sockets.forEach((ws, i) => {
      ws.onMessage = (text) => this.onMessage(i, text);
    });
  }

  static async open(net: Network): Promise<BlockWatcher> {
    const sockets = await Promise.all(net.validators.map((v) => WsClient.connect(`ws://127.0.0.1:${v.rpcPort}/websocket`)));
    const w = new BlockWatcher(sockets);
    for (const ws of sockets) ws.send(JSON.stringify({ jsonrpc: "2.0", id: "sub", method: "subscribe", params: { query: "tm.event='NewBlockHeader'" } }));
    return w;
  }

  private onMessage(i: number, text: string): void {
    const now = performance.now();
    const msg = JSON.parse(text) as { result?: { data?: { value?: { header?: { height?: string } } } }; error?: unknown };
    // Only events carry a header; the subscribe call's empty answer does not.
    const height = msg.result?.data?.value?.header?.height;
    if (height === undefined) {
      if (msg.error !== undefined && !this.closing) process.stderr.write(`[consensus] subscription on validator ${i}: ${text.slice(0, 300)}\n`);
      return;
    }
    const h = Number(height);
    this.arrivals[i]!.set(h, now);
    if (h > this.latest[i]!) this.latest[i] = h;
    for (let k = this.waiters.length - 1; k >= 0; k--) {
      const wt = this.waiters[k]!;
      if (wt.v === i && h >= wt.height) {
        this.waiters.splice(k, 1);
        wt.resolve();
      }
    }
  }

  /** Resolves once validator `v` announced `height` (or a later one). */
  until(v: number, height: number, timeoutMs: number, check: () => void): Promise<void> {
    if (this.latest[v]! >= height) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setInterval(() => {
        try {
          check();
        } catch (err) {
          clearInterval(timer);
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      }, 500);
      const deadline = setTimeout(() => {
        clearInterval(timer);
        reject(new Error(`validator ${v} did not announce height ${height} within ${timeoutMs} ms (at ${this.latest[v]!})`));
      }, timeoutMs);
      this.waiters.push({
        v,
        height,
        resolve: () => {
          clearInterval(timer);
          clearTimeout(deadline);
          resolve();
        },
      });
    });
  }

  close(): void {
    this.closing = true;
    for (const ws of this.sockets) ws.close();
  }
}

// ---------------------------------------------------------------- the load

/** Unique kvstore txs (`KEY=VALUE`, exactly one "=") sent round-robin with broadcast_tx_sync over websockets. */
class TxSender {
  /** performance.now() at each tx's send, by sequence number. */
  sentAt = new Float64Array(1 << 16);
  /** Validator index each tx went to. */
  nodeOf = new Uint8Array(1 << 16);
  sent = 0;
  answered = 0;
  rejected = 0;
  /** Sequence numbers of the rejected txs (never committed), in the order the answers came. */
  readonly rejectedSeqs: number[] = [];
  firstError: string | null = null;
  private next = 0;
  private readonly pad: string;

  private constructor(
    private readonly sockets: WsClient[],
    private readonly tag: string,
    txBytes: number,
  ) {
    // KEY is TAG + sequence number (up to 8 digits); VALUE pads to txBytes.
    this.pad = "x".repeat(Math.max(1, txBytes - tag.length - 8 - 1));
    sockets.forEach((ws) => {
      ws.onMessage = (text) => this.onAnswer(text);
    });
  }

  static async open(net: Network, tag: string, txBytes: number): Promise<TxSender> {
    const sockets = await Promise.all(net.validators.map((v) => WsClient.connect(`ws://127.0.0.1:${v.rpcPort}/websocket`)));
    return new TxSender(sockets, tag, txBytes);
  }

  get outstanding(): number {
    return this.sent - this.answered;
  }

  /** The tx with sequence number `seq`. */
  tx(seq: number): string {
    return `${this.tag}${String(seq).padStart(8, "0")}=${this.pad}`;
  }

  /** The sequence number of a tx of ours (base64, as blocks carry it), or -1. */
  seqOf(base64: string): number {
    const s = Buffer.from(base64, "base64").toString("latin1");
    if (!s.startsWith(this.tag)) return -1;
    return Number(s.slice(this.tag.length, this.tag.length + 8));
  }

  sendOne(): void {
    const seq = this.sent;
    if (seq >= this.sentAt.length) {
      const a = new Float64Array(this.sentAt.length * 2);
      a.set(this.sentAt);
      this.sentAt = a;
      const b = new Uint8Array(this.nodeOf.length * 2);
      b.set(this.nodeOf);
      this.nodeOf = b;
    }
    const v = this.next;
    this.next = (this.next + 1) % this.sockets.length;
    const tx = Buffer.from(this.tx(seq), "latin1").toString("base64");
    this.nodeOf[seq] = v;
    this.sentAt[seq] = performance.now();
    this.sockets[v]!.send(`{"jsonrpc":"2.0","id":${seq},"method":"broadcast_tx_sync","params":{"tx":"${tx}"}}`);
    this.sent++;
  }

  private onAnswer(text: string): void {
    this.answered++;
    if (text.includes('"error"') || !text.includes('"code":0')) {
      this.rejected++;
      const id = /"id":(\d+)/.exec(text);
      if (id !== null) this.rejectedSeqs.push(Number(id[1]));
      this.firstError ??= text.slice(0, 300);
    }
  }

  /** Txs sent before `t` (performance.now()) and not rejected. */
  acceptedBefore(t: number): number {
    const n = sentBefore(this.sentAt, this.sent, t);
    let rejected = 0;
    for (const seq of this.rejectedSeqs) if (seq < n) rejected++;
    return n - rejected;
  }

  /** Sends at `rate` tx/s for `seconds` (open loop, paced every 2 ms; at most `maxOutstanding` unanswered). */
  offer(rate: number, seconds: number, maxOutstanding: number): Promise<{ sent: number; due: number }> {
    const t0 = performance.now();
    const total = Math.round(rate * seconds);
    let sent = 0;
    return new Promise((resolve) => {
      const tick = (): void => {
        const elapsed = (performance.now() - t0) / 1000;
        const due = Math.min(total, Math.floor(elapsed * rate));
        while (sent < due && this.outstanding < maxOutstanding) {
          this.sendOne();
          sent++;
        }
        if (elapsed >= seconds) {
          clearInterval(timer);
          resolve({ sent, due: total });
        }
      };
      const timer = setInterval(tick, 2);
    });
  }

  /** Waits until every request has been answered (or `timeoutMs`). */
  async drainAnswers(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.outstanding > 0 && Date.now() < deadline) await sleep(20);
  }

  close(): void {
    for (const ws of this.sockets) ws.close();
  }
}

// ---------------------------------------------------------------- blocks over RPC

/**
 * Which of our txs each block holds, read from validator 0 (/block), every
 * height once: the height of each tx's first commit, and how many txs a
 * block commits for the first time or again (kvstore has no replay
 * protection: a tx gossiped to a node after it was committed and fell out
 * of the node's mempool cache enters its mempool again).
 */
class CommitLog {
  /** Height of each tx's first commit by sequence number; 0 while not committed. */
  heightOf = new Int32Array(1 << 16);
  /** Height → txs of ours committed for the first time, and again. */
  readonly fresh = new Map<number, number>();
  /** Height → the proposer's address (hex), for the latency breakdown. */
  readonly proposer = new Map<number, string>();
  readonly repeated = new Map<number, number>();
  private scanned: number;

  constructor(
    private readonly v: Validator,
    private readonly sender: TxSender,
    from: number,
  ) {
    this.scanned = from - 1;
  }

  get scannedTo(): number {
    return this.scanned;
  }

  async scanTo(height: number): Promise<void> {
    for (let h = this.scanned + 1; h <= height; h++) {
      const block = await rpcCall<{ block: { header: { proposer_address: string }; data: { txs: string[] | null } } }>(this.v.rpcPort, "block", { height: h });
      this.proposer.set(h, block.block.header.proposer_address);
      let fresh = 0;
      let again = 0;
      for (const tx of block.block.data.txs ?? []) {
        const seq = this.sender.seqOf(tx);
        if (seq < 0) continue;
        while (seq >= this.heightOf.length) {
          const a = new Int32Array(this.heightOf.length * 2);
          a.set(this.heightOf);
          this.heightOf = a;
        }
        if (this.heightOf[seq] === 0) {
          this.heightOf[seq] = h;
          fresh++;
        } else {
          again++;
        }
      }
      this.fresh.set(h, fresh);
      this.repeated.set(h, again);
      this.scanned = h;
    }
  }

  /** Txs of ours first committed at heights [from, to]. */
  freshIn(from: number, to: number): number {
    let n = 0;
    for (const [h, c] of this.fresh) if (h >= from && h <= to) n += c;
    return n;
  }

  repeatedIn(from: number, to: number): number {
    let n = 0;
    for (const [h, c] of this.repeated) if (h >= from && h <= to) n += c;
    return n;
  }
}

/** Block times (ms since the epoch, with the nanoseconds' sub-ms digits) and tx counts of heights [from, to]. */
async function blockMetas(v: Validator, from: number, to: number): Promise<Map<number, { timeMs: number; numTxs: number }>> {
  const out = new Map<number, { timeMs: number; numTxs: number }>();
  for (let lo = from; lo <= to; lo += 20) {
    const hi = Math.min(to, lo + 19);
    const r = await rpcCall<{ block_metas: { header: RpcHeader; num_txs: string }[] }>(v.rpcPort, "blockchain", { minHeight: lo, maxHeight: hi });
    for (const m of r.block_metas) out.set(Number(m.header.height), { timeMs: timeMs(m.header.time), numTxs: Number(m.num_txs) });
  }
  return out;
}

/** RFC 3339 with up to nanoseconds → ms since the epoch, sub-ms kept. */
function timeMs(t: string): number {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
  if (m === null) return Date.parse(t);
  return Date.parse(`${m[1]!}Z`) + Number(`0.${m[2] ?? "0"}`) * 1000;
}

function percentile(sorted: Float64Array, q: number): number {
  return sorted.length === 0 ? Number.NaN : sorted[Math.floor(q * (sorted.length - 1) + 0.5)]!;
}

// ---------------------------------------------------------------- one network

/** Who each process is, for the CPU split: "cometbft (plain)", "switchboard", "cometbft-switchboard". */
function role(processName: string): string {
  if (processName.endsWith("cometbft-switchboard")) return "cometbft-switchboard (hosted validators)";
  if (processName.endsWith("switchboard")) return "switchboard nodes";
  return "cometbft (plain validators)";
}

function byRole(spent: Record<string, number> | null, per: number): Record<string, number> | null {
  if (spent === null) return null;
  const out: Record<string, number> = {};
  for (const [name, us] of Object.entries(spent)) {
    const r = name === "load generator" ? name : role(name);
    out[r] = (out[r] ?? 0) + us / per;
  }
  return out;
}

/** Each validator's kind by its validator address (hex, as in a block header's proposer_address). */
async function proposerKinds(net: Network): Promise<Map<string, ValidatorKind>> {
  const out = new Map<string, ValidatorKind>();
  for (const v of net.validators) {
    const st = await rpcCall<{ validator_info: { address: string } }>(v.rpcPort, "status");
    out.set(st.validator_info.address, v.kind);
  }
  return out;
}

/** The hosted validators' gateway transport, from BENCH_GATEWAY (tcp, the default, or unix). */
export function gatewayTransport(): GatewayTransport {
  const v = process.env["BENCH_GATEWAY"] ?? "tcp";
  if (v !== "tcp" && v !== "unix") throw new Error(`BENCH_GATEWAY=${v}: use tcp or unix`);
  return v;
}

/** Runs the three phases on a fresh network of `kind`. `log` gets progress lines; `onLadder` is called as the max-rate phase starts (bench/tools/consensus-profile.ts). */
export async function consensusNetwork(
  bins: Binaries,
  p: ConsensusParams,
  kind: NetworkKind,
  label: string,
  log: (line: string) => void,
  onLadder?: (net: Network) => void,
): Promise<ConsensusFigures> {
  const started = performance.now();
  const net = await Network.create(bins, {
    kinds: KINDS[kind](p.validators),
    label,
    config: { "consensus.timeout_commit": p.timeoutCommit, ...(p.mempoolSize === null ? {} : { "mempool.size": p.mempoolSize }) },
    // BENCH_PROFILE=1: pprof on every CometBFT node, Prometheus on every Switchboard node (ports in the log).
    profiling: process.env["BENCH_PROFILE"] !== undefined,
    // BENCH_GATEWAY=unix: the hosted validators' reactors reach their node over a Unix domain socket.
    gateway: gatewayTransport(),
  });
  for (const v of net.validators) {
    if (v.pprofPort !== null) log(`${label}: v${v.index} (${v.kind}) pprof http://127.0.0.1:${v.pprofPort}/debug/pprof/${v.metricsPort === null ? "" : `, metrics http://127.0.0.1:${v.metricsPort}/metrics`}`);
  }
  let watcher: BlockWatcher | null = null;
  let sender: TxSender | null = null;
  try {
    await net.start(2);
    watcher = await BlockWatcher.open(net);
    const tag = `sb${label.replace(/[^a-z0-9]/gi, "")}k`;
    sender = await TxSender.open(net, tag, p.txBytes);
    const w = watcher;
    const s = sender;
    const v0 = net.validators[0]!;
    const alive = (): void => net.assertAlive();
    const processes = { ...net.pids, "load generator": process.pid };

    // (a) block interval, empty blocks.
    const h0 = await net.height(v0);
    await w.until(0, h0 + p.warmupBlocks, 120_000, alive);
    const hA = w.latest[0]!;
    const cpuA0 = cpuByProcess(processes);
    await w.until(0, hA + p.intervalBlocks, 60_000 + p.intervalBlocks * 10_000, alive);
    const cpuA = cpuSpent(cpuA0, cpuByProcess(processes));
    const metasA = await blockMetas(v0, hA, hA + p.intervalBlocks);
    const intervals: number[] = [];
    for (let h = hA + 1; h <= hA + p.intervalBlocks; h++) {
      const a = metasA.get(h - 1);
      const b = metasA.get(h);
      if (a !== undefined && b !== undefined) intervals.push(b.timeMs - a.timeMs);
    }
    const blockIntervalMs = median(intervals);
    log(`${label}: block interval ${blockIntervalMs.toFixed(1)} ms (median of ${intervals.length})`);

    // (b) commit latency at a fixed offered load.
    const hB = w.latest[0]!;
    await s.offer(p.latencyRate, p.latencyWarmupSeconds, 10_000);
    const firstMeasured = s.sent;
    const cpuB0 = cpuByProcess(processes);
    const tB0 = performance.now();
    await s.offer(p.latencyRate, p.latencySeconds, 10_000);
    const cpuB = cpuSpent(cpuB0, cpuByProcess(processes));
    const wallUsB = (performance.now() - tB0) * 1000;
    const endMeasured = s.sent;
    await s.drainAnswers(10_000);
    const measured = endMeasured - firstMeasured;
    const commits = new CommitLog(v0, s, hB + 1);
    const allCommitted = (): boolean => {
      for (let seq = firstMeasured; seq < endMeasured; seq++) if (commits.heightOf[seq] === 0) return false;
      return true;
    };
    const deadline = Date.now() + 30_000;
    while (!allCommitted() && Date.now() < deadline) {
      const h = commits.scannedTo + 1;
      await w.until(0, h, 30_000, alive);
      await commits.scanTo(h);
    }
    // Every node must have announced the last height before the latencies are read.
    const lastHeight = commits.scannedTo;
    for (let i = 0; i < net.validators.length; i++) await w.until(i, lastHeight, 30_000, alive).catch(() => undefined);
    const lat: number[] = [];
    const latByKind: Partial<Record<ValidatorKind, number[]>> = {};
    // The breakdown: latency by the kind of the including block's proposer, and how many blocks the entry
    // validator announced between a tx's sending and its block (0: the tx made the next block).
    const proposerKind = await proposerKinds(net);
    const latByProposer: Partial<Record<ValidatorKind, number[]>> = {};
    const blocksMissed: number[] = [0, 0, 0];
    let lost = 0;
    for (let k = 0; k < measured; k++) {
      const seq = firstMeasured + k;
      const height = commits.heightOf[seq] ?? 0;
      const node = s.nodeOf[seq]!;
      const at = height === 0 ? undefined : w.arrivals[node]!.get(height);
      if (at === undefined) {
        lost++;
        continue;
      }
      const ms = at - s.sentAt[seq]!;
      lat.push(ms);
      (latByKind[net.validators[node]!.kind] ??= []).push(ms);
      const pk = proposerKind.get(commits.proposer.get(height) ?? "");
      if (pk !== undefined) (latByProposer[pk] ??= []).push(ms);
      let missed = 0;
      for (let h = height - 1; h > 0; h--) {
        const t = w.arrivals[node]!.get(h);
        if (t === undefined || t <= s.sentAt[seq]!) break;
        missed++;
      }
      blocksMissed[Math.min(missed, 2)]!++;
    }
    const sorted = Float64Array.from(lat).sort();
    const latencyP50Ms = percentile(sorted, 0.5);
    const latencyP99Ms = percentile(sorted, 0.99);
    const latencyP50MsByKind: Partial<Record<ValidatorKind, number>> = {};
    for (const [k, xs] of Object.entries(latByKind)) latencyP50MsByKind[k as ValidatorKind] = percentile(Float64Array.from(xs).sort(), 0.5);
    log(
      `${label}: commit latency at ${p.latencyRate} tx/s p50 ${latencyP50Ms.toFixed(1)} ms, p99 ${latencyP99Ms.toFixed(1)} ms ` +
        `(${lat.length} txs, ${lost} lost, ${s.rejected} rejected${s.firstError === null ? "" : `: ${s.firstError}`})`,
    );
    const p50Of = (xs: number[] | undefined): string => (xs === undefined ? "-" : percentile(Float64Array.from(xs).sort(), 0.5).toFixed(0));
    log(
      `${label}: latency p50 by entry validator plain/hosted ${p50Of(latByKind.plain)}/${p50Of(latByKind.hosted)} ms, ` +
        `by the block's proposer plain/hosted ${p50Of(latByProposer.plain)}/${p50Of(latByProposer.hosted)} ms; ` +
        `txs in the next block, the one after, later: ${blocksMissed.map((n) => `${((100 * n) / Math.max(1, lat.length)).toFixed(0)} %`).join(", ")}`,
    );

    // (c) the highest rate without a growing backlog.
    const steps: RateStep[] = [];
    const step = async (rate: number): Promise<RateStep> => {
      const rejected0 = s.rejected;
      const hStart = w.latest[0]!;
      const t0 = performance.now();
      const cpu0 = cpuByProcess(processes);
      const { sent, due } = await s.offer(rate, p.ladder.stepSeconds, Math.max(2_000, rate * 2));
      const cpu = cpuSpent(cpu0, cpuByProcess(processes));
      const t1 = performance.now();
      const hEnd = w.latest[0]!;
      await s.drainAnswers(10_000);
      const rejected = s.rejected - rejected0;
      // Backlog at each block validator 0 announced during the judged part of the step.
      await commits.scanTo(hEnd);
      let committed = commits.freshIn(0, hStart);
      const samples: { t: number; backlog: number }[] = [];
      const committedInStep = commits.freshIn(hStart + 1, hEnd);
      const repeatedInStep = commits.repeatedIn(hStart + 1, hEnd);
      for (let hh = hStart + 1; hh <= hEnd; hh++) {
        committed += commits.fresh.get(hh) ?? 0;
        const at = w.arrivals[0]!.get(hh);
        if (at === undefined || at < t0 + p.ladder.settleSeconds * 1000) continue;
        samples.push({ t: at, backlog: s.acceptedBefore(at) - committed });
      }
      const growth = slopePerSecond(samples);
      const aStart = w.arrivals[0]!.get(hStart) ?? t0;
      const aEnd = w.arrivals[0]!.get(hEnd) ?? t1;
      const r: RateStep = {
        rate,
        sentFraction: sent / due,
        rejected,
        backlogGrowthPerSecond: growth,
        backlogMean: samples.length === 0 ? Number.NaN : samples.reduce((a, x) => a + x.backlog, 0) / samples.length,
        committedPerSecond: committedInStep / Math.max(1e-3, (aEnd - aStart) / 1000),
        committedAgain: repeatedInStep,
        cpuUsPerTxByRole: byRole(cpu, Math.max(1, committedInStep)),
        passed: rejected === 0 && sent >= 0.97 * due && Number.isFinite(growth) && growth < 0.05 * rate,
        ...(rejected > 0 && s.firstError !== null ? { firstError: s.firstError } : {}),
      };
      steps.push(r);
      log(
        `${label}: ${Math.round(rate)} tx/s ${r.passed ? "sustained" : "NOT sustained"} (sent ${(r.sentFraction * 100).toFixed(0)} %, ` +
          `${rejected} rejected, backlog ${r.backlogMean.toFixed(0)} growing ${growth.toFixed(0)}/s, committed ${r.committedPerSecond.toFixed(0)}/s` +
          `${repeatedInStep > 0 ? `, ${repeatedInStep} txs committed again` : ""})`,
      );
      return r;
    };
    // After a step that failed: until no validator has a tx in its mempool (at most 30 s).
    const drain = async (): Promise<void> => {
      await s.drainAnswers(10_000);
      const until = Date.now() + 30_000;
      while (Date.now() < until) {
        const left = await Promise.all(net.validators.map((v) => rpcCall<{ n_txs: string }>(v.rpcPort, "num_unconfirmed_txs", { limit: 1 })));
        if (left.every((r) => Number(r.n_txs) === 0)) return;
        await sleep(250);
      }
      log(`${label}: mempools not empty after 30 s; going on`);
    };
    onLadder?.(net);
    const ladderFrom = w.latest[0]! + 1;
    let lo = 0;
    let hi = Number.POSITIVE_INFINITY;
    let rate = p.ladder.start;
    for (let i = 0; i < p.ladder.maxSteps; i++) {
      const r = await step(rate);
      if (!r.passed) {
        hi = rate;
        break;
      }
      lo = rate;
      rate *= p.ladder.factor;
    }
    if (Number.isFinite(hi)) {
      for (let i = 0; i < p.ladder.bisections; i++) {
        await drain();
        const mid = lo === 0 ? hi / p.ladder.factor : Math.sqrt(lo * hi);
        const r = await step(mid);
        if (r.passed) lo = mid;
        else hi = mid;
      }
    }
    log(`${label}: max sustained rate ${Math.round(lo)} tx/s`);

    return {
      kind,
      blockIntervalMs,
      intervals: intervals.length,
      latencyP50Ms,
      latencyP99Ms,
      latencySamples: lat.length,
      latencyLost: lost,
      latencyP50MsByKind,
      maxRate: lo,
      steps,
      committedAgainPercent: (() => {
        const again = commits.repeatedIn(ladderFrom, commits.scannedTo);
        const all = commits.freshIn(ladderFrom, commits.scannedTo) + again;
        return all === 0 ? 0 : (100 * again) / all;
      })(),
      cpuUsPerTxByRole: byRole(cpuB, Math.max(1, measured)),
      coresByRoleAtFixedLoad: byRole(cpuB, wallUsB),
      cpuUsPerBlockByRole: byRole(cpuA, p.intervalBlocks),
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    sender?.close();
    watcher?.close();
    await net.close();
  }
}

/** Least-squares slope of the backlog over time (`t` in ms), per second; NaN under three samples. */
function slopePerSecond(samples: readonly { t: number; backlog: number }[]): number {
  const n = samples.length;
  if (n < 3) return Number.NaN;
  const mt = samples.reduce((a, x) => a + x.t, 0) / n;
  const mb = samples.reduce((a, x) => a + x.backlog, 0) / n;
  let num = 0;
  let den = 0;
  for (const x of samples) {
    num += (x.t - mt) * (x.backlog - mb);
    den += (x.t - mt) ** 2;
  }
  return den === 0 ? Number.NaN : (num / den) * 1000;
}

/** How many of the first `count` txs were sent before `t` (sentAt is ascending). */
function sentBefore(sentAt: Float64Array, count: number, t: number): number {
  let lo = 0;
  let hi = count;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sentAt[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
