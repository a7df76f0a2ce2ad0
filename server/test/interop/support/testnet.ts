/**
 * Test harness: a multi-validator CometBFT v0.38 testnet on 127.0.0.1 (`cometbft testnet`), where each node runs
 * either as a plain `cometbft start` or *hosted*: a Switchboard node (the CLI, `server/bin/switchboard.js`) owns the
 * node's p2p connections and `cometbft-switchboard start` runs the unmodified CometBFT node on the same home, its
 * five reactors attached to the Switchboard node over gRPC.
 *
 *   const net = await Testnet.create({ validators: 4, nonValidators: 1, hosted: [2, 3, 4] });
 *   try { await net.start(0); ...; await net.node(2).rpc.status() } finally { await net.cleanup(); }
 *
 * Binaries: `cometbft` from env COMETBFT_BIN or `<repo>/.cache/bin/cometbft` (scripts/install-cometbft.sh);
 * `cometbft-switchboard` from env COMETBFT_SWITCHBOARD_BIN or `<repo>/.cache/bin/cometbft-switchboard`
 * (scripts/install-cometbft-switchboard.sh); the Switchboard CLI needs `npm run build`.
 *
 * Per node `i` (home `DIR/node<i>` as `cometbft testnet` wrote it, config.toml rewritten for loopback):
 *   - plain:  `cometbft start` listens for p2p on `p2pPort` and serves RPC on `rpcPort`.
 *   - hosted: the Switchboard node (home `DIR/switchboard<i>`, node key copied from the CometBFT home so the node ID
 *     is the same) listens for p2p on `p2pPort` and serves the gateway on `grpcPort`; `cometbft-switchboard` serves
 *     RPC on `rpcPort` and writes its reactor trace (one JSON object per line) to `tracePath`. The CometBFT home's
 *     `p2p.laddr` gets another loopback port (`hostP2pPort`), which nobody dials and which cannot clash with the
 *     Switchboard node's.
 * Every node's `persistent_peers` name the validators' public p2p addresses (`id@127.0.0.1:p2pPort`, all but its
 * own). Those ports are picked by create(); every other port when the node starts (config.toml is written then).
 *
 * Logs (stdout+stderr of every process) go to `<repo>/.cache/interop-logs/` (or env COMETBFT_LOG_DIR), and so do the
 * trace files; both are always kept. The testnet directory is removed by cleanup() unless env KEEP_INTEROP_HOME is
 * set. No process is left behind: cleanup() stops what runs, a process 'exit' hook SIGKILLs whatever is still
 * running, and a detached `sh` watchdog per process SIGKILLs it if the test process dies without exit hooks.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { access, constants, copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  CometBftRpcError,
  freePorts,
  keepHome,
  REPO_ROOT,
  type RpcBlockId,
  type RpcBlockResult,
  type RpcBroadcastTxResult,
  type RpcHeader,
  type RpcNetInfo,
  type RpcStatus,
  type RpcTxResult,
  setTomlValues,
  type TomlValue,
} from "./cometbft-node.js";

const execFileAsync = promisify(execFile);

export const DEFAULT_COMETBFT_BIN = join(REPO_ROOT, ".cache", "bin", "cometbft");
export const DEFAULT_HOST_BIN = join(REPO_ROOT, ".cache", "bin", "cometbft-switchboard");
export const SWITCHBOARD_CLI = join(REPO_ROOT, "server", "bin", "switchboard.js");
const SWITCHBOARD_ENTRY = join(REPO_ROOT, "server", "dist", "src", "main.js");
const DEFAULT_LOG_DIR = join(REPO_ROOT, ".cache", "interop-logs");

/** The reactors a CometBFT v0.38 node registers with its Switch (the names `cometbft-switchboard` attaches as). */
export const HOSTED_REACTORS = ["CONSENSUS", "MEMPOOL", "BLOCKSYNC", "EVIDENCE", "STATESYNC"] as const;

// ---- small helpers ----

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function envVar(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

async function requireExecutable(path: string, hint: string): Promise<void> {
  try {
    await access(path, constants.X_OK);
  } catch {
    throw new Error(`${path} not found or not executable. ${hint}`);
  }
}

async function runCli(file: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(file, args, { timeout: 60_000, maxBuffer: 8 * 1024 * 1024, cwd: REPO_ROOT });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(`\`${file} ${args.join(" ")}\` failed: ${errorMessage(err)}\n${e.stderr ?? ""}${e.stdout ?? ""}`, {
      cause: err,
    });
  }
}

/** True when a TCP connection to 127.0.0.1:port is accepted. */
export function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on("error", () => undefined);
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

// ---- processes ----

/** Kills the child if the test process dies without running its exit hooks. Args: parent pid, child pid. */
const WATCHDOG_SCRIPT = `
parent="$1"; child="$2"
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
if kill -0 "$child" 2>/dev/null; then kill -9 "$child" 2>/dev/null; fi
`;

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const liveProcesses = new Set<ManagedProcess>();
const liveDirs = new Set<string>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const p of liveProcesses) p.killSync();
    if (!keepHome()) for (const dir of liveDirs) if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
  });
}

/** A child process whose stdout and stderr go to a log file, with a watchdog and an exit hook. */
export class ManagedProcess {
  private exitInfo: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;
  private stopping: Promise<ExitInfo> | undefined;

  private constructor(
    readonly name: string,
    readonly logPath: string,
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess | undefined,
  ) {
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        if (this.exitInfo !== undefined) return;
        this.exitInfo = { code, signal };
        this.killWatchdog();
        liveProcesses.delete(this);
        resolve(this.exitInfo);
      };
      child.once("exit", done);
      child.once("error", (err) => {
        console.error(`[testnet] ${name}: process error: ${err.message}`);
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) {
          done(child.exitCode, child.signalCode);
        }
      });
    });
  }

  static spawn(p: {
    name: string;
    command: string;
    args: readonly string[];
    logPath: string;
    env?: Readonly<Record<string, string>> | undefined;
  }): ManagedProcess {
    const fd = openSync(p.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(p.command, p.args, { cwd: REPO_ROOT, stdio: ["ignore", fd, fd], env: { ...process.env, ...p.env } });
    } finally {
      closeSync(fd);
    }
    let watchdog: ChildProcess | undefined;
    if (child.pid !== undefined) {
      watchdog = spawn("sh", ["-c", WATCHDOG_SCRIPT, "testnet-watchdog", String(process.pid), String(child.pid)], {
        detached: true,
        stdio: "ignore",
      });
      watchdog.once("error", () => undefined);
      watchdog.unref();
    }
    const proc = new ManagedProcess(p.name, p.logPath, child, watchdog);
    liveProcesses.add(proc);
    installExitHook();
    return proc;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** How it exited, once it has. */
  get exit(): ExitInfo | undefined {
    return this.exitInfo;
  }

  /** True once stop() was called (an exit after that is expected). */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /** Sends `signal` (default SIGTERM), then SIGKILL after `timeoutMs`; resolves with how it exited. Idempotent. */
  stop(opts: { signal?: NodeJS.Signals; timeoutMs?: number } = {}): Promise<ExitInfo> {
    this.stopping ??= (async () => {
      if (this.running) {
        this.child.kill(opts.signal ?? "SIGTERM");
        const timeoutMs = opts.timeoutMs ?? 15_000;
        const exited = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
        if (!exited) {
          console.warn(`[testnet] ${this.name} ignored ${opts.signal ?? "SIGTERM"} for ${timeoutMs} ms, sending SIGKILL`);
          this.child.kill("SIGKILL");
        }
      }
      return this.exited;
    })();
    return this.stopping;
  }

  /** Synchronous SIGKILL; used by the process 'exit' hook. */
  killSync(): void {
    if (this.running) this.child.kill("SIGKILL");
    this.killWatchdog();
    liveProcesses.delete(this);
  }

  private killWatchdog(): void {
    const wd = this.watchdog;
    if (wd !== undefined && wd.exitCode === null && wd.signalCode === null) wd.kill("SIGKILL");
  }

  /** The last `lines` lines of the log file. */
  logTail(lines = 30): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch (err) {
      return `(cannot read ${this.logPath}: ${errorMessage(err)})`;
    }
  }

  describeExit(): string {
    const info = this.exitInfo;
    return info === undefined ? "running" : `exited (code ${info.code}, signal ${info.signal})`;
  }
}

// ---- RPC ----

export interface RpcCommitSig {
  /** 1 absent, 2 commit, 3 nil */
  block_id_flag: number;
  validator_address: string;
  timestamp: string;
  signature: string | null;
}

export interface RpcCommitResult {
  signed_header: {
    header: RpcHeader;
    commit: { height: string; round: number; block_id: RpcBlockId; signatures: RpcCommitSig[] };
  };
  canonical: boolean;
}

export interface RpcValidatorsResult {
  block_height: string;
  validators: { address: string; pub_key: { type: string; value: string }; voting_power: string; proposer_priority: string }[];
  count: string;
  total: string;
}

export interface RpcBlockchainResult {
  last_height: string;
  block_metas: { block_id: RpcBlockId; block_size: string; header: RpcHeader; num_txs: string }[];
}

/** A CometBFT JSON-RPC client (URI-over-GET; see the shapes documented in cometbft-node.ts). */
export class CometRpc {
  constructor(readonly url: string) {}

  async call<T>(method: string, params: Readonly<Record<string, string | number | undefined>> = {}): Promise<T> {
    const url = new URL(`${this.url}/${method}`);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: { result?: unknown; error?: { code?: number; message?: string; data?: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`RPC ${this.url} ${method}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (body.error !== undefined) {
      throw new CometBftRpcError(method, body.error.code ?? 0, body.error.message ?? "", body.error.data ?? "");
    }
    if (body.result === undefined) throw new Error(`RPC ${this.url} ${method}: no result: ${text.slice(0, 200)}`);
    return body.result as T;
  }

  status(): Promise<RpcStatus> {
    return this.call<RpcStatus>("status");
  }

  async latestHeight(): Promise<number> {
    return Number((await this.status()).sync_info.latest_block_height);
  }

  netInfo(): Promise<RpcNetInfo> {
    return this.call<RpcNetInfo>("net_info");
  }

  block(height?: number): Promise<RpcBlockResult> {
    return this.call<RpcBlockResult>("block", { height });
  }

  commit(height: number): Promise<RpcCommitResult> {
    return this.call<RpcCommitResult>("commit", { height });
  }

  validators(height?: number): Promise<RpcValidatorsResult> {
    return this.call<RpcValidatorsResult>("validators", { height, per_page: 100 });
  }

  /** `/blockchain`: block metas of `[minHeight, maxHeight]`, newest first, at most 20. */
  blockchain(minHeight: number, maxHeight: number): Promise<RpcBlockchainResult> {
    return this.call<RpcBlockchainResult>("blockchain", { minHeight, maxHeight });
  }

  /** Block hashes of heights `[from, to]` (upper-case hex), by height. */
  async blockHashes(from: number, to: number): Promise<Map<number, string>> {
    const out = new Map<number, string>();
    for (let lo = from; lo <= to; lo += 20) {
      const hi = Math.min(to, lo + 19);
      const res = await this.blockchain(lo, hi);
      for (const meta of res.block_metas) out.set(Number(meta.header.height), meta.block_id.hash);
    }
    return out;
  }

  /** `/tx` by hash; undefined while the tx is not committed and indexed. */
  async tx(hashHex: string): Promise<RpcTxResult | undefined> {
    try {
      return await this.call<RpcTxResult>("tx", { hash: `0x${hashHex.replace(/^0x/i, "")}` });
    } catch (err) {
      if (err instanceof CometBftRpcError && /not found/i.test(err.data)) return undefined;
      throw err;
    }
  }

  broadcastTxSync(tx: string): Promise<RpcBroadcastTxResult> {
    return this.call<RpcBroadcastTxResult>("broadcast_tx_sync", { tx: `0x${Buffer.from(tx, "utf8").toString("hex")}` });
  }
}

// ---- the testnet ----

export type NodeKind = "plain" | "hosted";

/**
 * One node of the testnet. Ports nobody else names (RPC, gateway, the hosted home's own p2p listener, and a
 * non-validator's p2p port) are picked on each start, right before the processes bind them, so the window in which
 * another process can take a picked port stays short; validators' p2p ports are in the other nodes'
 * `persistent_peers`, so they are picked once.
 */
export class TestnetNode {
  /** The node's public p2p port: CometBFT's listener (plain) or the Switchboard node's (hosted). */
  p2pPort = 0;
  rpcPort = 0;
  /** Hosted only: the Switchboard node's gateway port and the CometBFT home's own (unused) p2p port. */
  grpcPort: number | undefined;
  hostP2pPort: number | undefined;
  /** `cometbft start` (plain) or `cometbft-switchboard start` (hosted); the latest run. */
  cometbft: ManagedProcess | undefined;
  /** Hosted only: the Switchboard node process; the latest run. */
  switchboard: ManagedProcess | undefined;
  /** Every process this node ran, in start order (for log tails). */
  readonly runs: ManagedProcess[] = [];
  /** `id@host:port` of the peers it keeps connections to: the other validators. */
  persistentPeers: readonly string[] = [];
  private client: CometRpc | undefined;

  constructor(
    readonly index: number,
    /** "node0", "node1", … as `cometbft testnet` named them (also the moniker). */
    readonly name: string,
    readonly kind: NodeKind,
    readonly validator: boolean,
    /** The CometBFT home. */
    readonly home: string,
    readonly nodeId: string,
    /** Upper-case hex address of the node's priv_validator key (the genesis validator address for validators). */
    readonly validatorAddress: string,
    /** Hosted only: the Switchboard node's home and the trace file of `cometbft-switchboard`. */
    readonly sbHome: string | undefined,
    readonly tracePath: string | undefined,
    /** config.toml as `cometbft testnet` wrote it. */
    readonly baseConfig: string,
  ) {}

  /** `id@127.0.0.1:p2pPort` */
  get p2pAddress(): string {
    if (this.p2pPort === 0) throw new Error(`${this.name} has no p2p port yet (not started)`);
    return `${this.nodeId}@127.0.0.1:${this.p2pPort}`;
  }

  /** An RPC client for the current run's RPC port. */
  get rpc(): CometRpc {
    if (this.rpcPort === 0) throw new Error(`${this.name} has no RPC port yet (not started)`);
    const url = `http://127.0.0.1:${this.rpcPort}`;
    if (this.client?.url !== url) this.client = new CometRpc(url);
    return this.client;
  }
}

export interface TestnetOptions {
  validators: number;
  nonValidators?: number;
  /** Indices of the nodes that run hosted (Switchboard + cometbft-switchboard). */
  hosted?: readonly number[];
  /** Extra config.toml settings for every CometBFT home (`section.key`), after the harness defaults. */
  configOverrides?: Readonly<Record<string, TomlValue>>;
  /** Extra flags for every `cometbft-switchboard start`. */
  hostArgs?: readonly string[];
  /** Prefix of the log file names. Default "testnet". */
  logPrefix?: string;
}

export class Testnet {
  private constructor(
    readonly dir: string,
    readonly chainId: string,
    readonly nodes: readonly TestnetNode[],
    readonly logDir: string,
    private readonly logStamp: string,
    private readonly cometbftBin: string,
    private readonly hostBin: string,
    private readonly hostArgs: readonly string[],
    private readonly configOverrides: Readonly<Record<string, TomlValue>>,
  ) {}

  /** Writes the homes (`cometbft testnet`), rewrites every config.toml for loopback, and starts nothing. */
  static async create(options: TestnetOptions): Promise<Testnet> {
    const cometbftBin = envVar("COMETBFT_BIN") ?? DEFAULT_COMETBFT_BIN;
    const hostBin = envVar("COMETBFT_SWITCHBOARD_BIN") ?? DEFAULT_HOST_BIN;
    const hosted = new Set(options.hosted ?? []);
    await requireExecutable(cometbftBin, "Run `bash scripts/install-cometbft.sh` or set COMETBFT_BIN.");
    if (hosted.size > 0) {
      await requireExecutable(
        hostBin,
        "Run `bash scripts/install-cometbft-switchboard.sh` or set COMETBFT_SWITCHBOARD_BIN.",
      );
      if (!existsSync(SWITCHBOARD_ENTRY)) throw new Error(`${SWITCHBOARD_ENTRY} is missing: run \`npm run build\``);
    }
    const nonValidators = options.nonValidators ?? 0;
    const count = options.validators + nonValidators;
    const logDir = envVar("COMETBFT_LOG_DIR") ?? DEFAULT_LOG_DIR;
    mkdirSync(logDir, { recursive: true });
    const logStamp = `${options.logPrefix ?? "testnet"}-${new Date().toISOString().replace(/[:.]/g, "-")}`;

    const dir = await mkdtemp(join(tmpdir(), "switchboard-testnet-"));
    liveDirs.add(dir);
    installExitHook();
    try {
      await runCli(cometbftBin, ["testnet", "--v", String(options.validators), "--n", String(nonValidators), "--o", dir]);
      const genesis = JSON.parse(await readFile(join(dir, "node0", "config", "genesis.json"), "utf8")) as {
        chain_id: string;
      };
      const nodes = await Promise.all(
        Array.from({ length: count }, async (_, index) => {
          const name = `node${index}`;
          const home = join(dir, name);
          const kind: NodeKind = hosted.has(index) ? "hosted" : "plain";
          const nodeId = (await runCli(cometbftBin, ["show-node-id", "--home", home])).trim();
          if (!/^[0-9a-f]{40}$/.test(nodeId)) throw new Error(`unexpected show-node-id output: ${JSON.stringify(nodeId)}`);
          const pv = JSON.parse(await readFile(join(home, "config", "priv_validator_key.json"), "utf8")) as { address: string };
          return new TestnetNode(
            index,
            name,
            kind,
            index < options.validators,
            home,
            nodeId,
            pv.address.toUpperCase(),
            kind === "hosted" ? join(dir, `switchboard${index}`) : undefined,
            kind === "hosted" ? join(logDir, `${logStamp}-${name}-trace.jsonl`) : undefined,
            await readFile(join(home, "config", "config.toml"), "utf8"),
          );
        }),
      );
      const validators = nodes.filter((x) => x.validator);
      const validatorPorts = await freePorts(validators.length);
      validators.forEach((v, k) => (v.p2pPort = validatorPorts[k]!));
      for (const x of nodes) x.persistentPeers = validators.filter((v) => v !== x).map((v) => v.p2pAddress);
      return new Testnet(
        dir,
        genesis.chain_id,
        nodes,
        logDir,
        logStamp,
        cometbftBin,
        hostBin,
        options.hostArgs ?? [],
        options.configOverrides ?? {},
      );
    } catch (err) {
      liveDirs.delete(dir);
      if (!keepHome()) await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  node(index: number): TestnetNode {
    const n = this.nodes[index];
    if (n === undefined) throw new Error(`no node ${index}`);
    return n;
  }

  get validators(): TestnetNode[] {
    return this.nodes.filter((n) => n.validator);
  }

  private logPath(node: TestnetNode, what: string): string {
    const run = node.runs.filter((p) => p.name === `${node.name}/${what}`).length + 1;
    return join(this.logDir, `${this.logStamp}-${node.name}-${what}-run${run}.log`);
  }

  /**
   * Starts node `index`: plain, `cometbft start`; hosted, the Switchboard node first (`init` on the first start,
   * with the CometBFT home's node key), then, once its gateway accepts connections, `cometbft-switchboard start`.
   * Resolves when the processes run (and, hosted, the gateway listens); it does not wait for RPC.
   */
  async start(index: number): Promise<void> {
    const node = this.node(index);
    if (node.cometbft?.running === true || node.switchboard?.running === true) throw new Error(`${node.name} is running`);
    const hosted = node.kind === "hosted";
    const ports = await freePorts(4);
    if (!node.validator) node.p2pPort = ports[0]!;
    node.rpcPort = ports[1]!;
    node.grpcPort = hosted ? ports[2]! : undefined;
    node.hostP2pPort = hosted ? ports[3]! : undefined;
    await writeFile(
      join(node.home, "config", "config.toml"),
      setTomlValues(node.baseConfig, {
        moniker: node.name,
        proxy_app: "kvstore",
        "rpc.laddr": `tcp://127.0.0.1:${node.rpcPort}`,
        "p2p.laddr": `tcp://127.0.0.1:${node.hostP2pPort ?? node.p2pPort}`,
        "p2p.external_address": "",
        "p2p.persistent_peers": node.persistentPeers.join(","),
        "p2p.allow_duplicate_ip": true,
        "p2p.addr_book_strict": false,
        "consensus.timeout_commit": "500ms",
        "instrumentation.prometheus": false,
        ...this.configOverrides,
      }),
    );
    if (node.kind === "plain") {
      const proc = ManagedProcess.spawn({
        name: `${node.name}/cometbft`,
        command: this.cometbftBin,
        args: ["start", "--home", node.home],
        logPath: this.logPath(node, "cometbft"),
      });
      node.cometbft = proc;
      node.runs.push(proc);
      return;
    }
    const sbHome = node.sbHome!;
    const grpcPort = node.grpcPort!;
    if (!existsSync(join(sbHome, "config", "config.toml"))) {
      await runCli(process.execPath, [SWITCHBOARD_CLI, "init", "--home", sbHome, "--network", this.chainId, "--moniker", node.name]);
      await copyFile(join(node.home, "config", "node_key.json"), join(sbHome, "config", "node_key.json"));
      const sbId = (await runCli(process.execPath, [SWITCHBOARD_CLI, "show-node-id", "--home", sbHome])).trim();
      if (sbId !== node.nodeId) {
        throw new Error(`${node.name}: the Switchboard node's ID ${sbId} differs from the CometBFT home's ${node.nodeId}`);
      }
    }
    const sb = ManagedProcess.spawn({
      name: `${node.name}/switchboard`,
      command: process.execPath,
      args: [
        SWITCHBOARD_CLI,
        "start",
        "--home",
        sbHome,
        "--moniker",
        node.name,
        "--p2p.laddr",
        `tcp://127.0.0.1:${node.p2pPort}`,
        "--grpc.laddr",
        `tcp://127.0.0.1:${grpcPort}`,
        "--grpc.reactors",
        HOSTED_REACTORS.join(","),
        "--p2p.persistent_peers",
        node.persistentPeers.join(","),
        "--p2p.allow_duplicate_ip",
        "true",
        "--p2p.addr_book_strict",
        "false",
        "--p2p.pex",
        "false",
      ],
      logPath: this.logPath(node, "switchboard"),
    });
    node.switchboard = sb;
    node.runs.push(sb);
    await waitUntil(`${node.name}: the Switchboard gateway to listen on 127.0.0.1:${grpcPort}`, 30_000, async () => {
      if (!sb.running) throw new Error(`${sb.name} ${sb.describeExit()}\n--- ${sb.logPath} ---\n${sb.logTail(30)}`);
      return tcpAccepts(grpcPort);
    });
    const host = ManagedProcess.spawn({
      name: `${node.name}/cometbft-switchboard`,
      command: this.hostBin,
      args: [
        "start",
        "--home",
        node.home,
        "--switchboard.grpc",
        `127.0.0.1:${grpcPort}`,
        "--proxy_app",
        "kvstore",
        "--rpc.laddr",
        `tcp://127.0.0.1:${node.rpcPort}`,
        "--switchboard.trace",
        node.tracePath!,
        ...this.hostArgs,
      ],
      logPath: this.logPath(node, "cometbft-switchboard"),
    });
    node.cometbft = host;
    node.runs.push(host);
  }

  /** Stops node `index`'s processes (CometBFT or the host first, then the Switchboard node) with SIGTERM. */
  async stop(index: number, timeoutMs = 20_000): Promise<{ cometbft?: ExitInfo; switchboard?: ExitInfo }> {
    const node = this.node(index);
    const out: { cometbft?: ExitInfo; switchboard?: ExitInfo } = {};
    if (node.cometbft !== undefined) out.cometbft = await node.cometbft.stop({ timeoutMs });
    if (node.switchboard !== undefined) out.switchboard = await node.switchboard.stop({ timeoutMs });
    return out;
  }

  /** Throws, with the log tail, if a process that was not asked to stop has exited. */
  assertAlive(): void {
    for (const node of this.nodes) {
      for (const proc of [node.switchboard, node.cometbft]) {
        if (proc !== undefined && !proc.running && !proc.stopRequested) {
          throw new Error(`${proc.name} ${proc.describeExit()} unexpectedly\n--- ${proc.logPath} ---\n${proc.logTail(40)}`);
        }
      }
    }
  }

  /** Polls until `probe` returns a truthy value, failing early when a process died unexpectedly. */
  waitFor<T>(
    description: string,
    timeoutMs: number,
    probe: () => T | false | undefined | null | Promise<T | false | undefined | null>,
    intervalMs = 250,
  ): Promise<T> {
    return waitUntil(description, timeoutMs, probe, intervalMs, () => this.assertAlive());
  }

  /** Waits until node `index` answers /status with latest height ≥ `height`. */
  waitForHeight(index: number, height: number, timeoutMs = 60_000): Promise<number> {
    const node = this.node(index);
    return this.waitFor(`${node.name} to reach height ${height}`, timeoutMs, async () => {
      const h = await node.rpc.latestHeight();
      return h >= height ? h : undefined;
    });
  }

  /** The last lines of every log, for a failure report. */
  logTails(lines = 25): string {
    const parts: string[] = [];
    for (const node of this.nodes) {
      for (const proc of node.runs) {
        parts.push(`===== ${proc.name} (${proc.describeExit()}) ${proc.logPath} =====\n${proc.logTail(lines)}`);
      }
    }
    return parts.join("\n");
  }

  /** Stops every process (SIGTERM, then SIGKILL), then removes the testnet directory unless KEEP_INTEROP_HOME. */
  async cleanup(): Promise<void> {
    const hostsFirst = this.nodes.flatMap((n) => n.runs.filter((p) => p !== n.switchboard && p.running));
    await Promise.all(hostsFirst.map((p) => p.stop({ timeoutMs: 10_000 })));
    await Promise.all(this.nodes.flatMap((n) => n.runs).map((p) => p.stop({ timeoutMs: 10_000 })));
    liveDirs.delete(this.dir);
    if (keepHome()) console.info(`[testnet] KEEP_INTEROP_HOME set, kept ${this.dir}`);
    else await rm(this.dir, { recursive: true, force: true });
  }
}

/** Polls `probe` every `intervalMs` until it returns a truthy value; its errors count as "not yet". */
export async function waitUntil<T>(
  description: string,
  timeoutMs: number,
  probe: () => T | false | undefined | null | Promise<T | false | undefined | null>,
  intervalMs = 250,
  alive?: () => void,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    alive?.();
    try {
      const value = await probe();
      if (value !== false && value !== undefined && value !== null) return value;
    } catch (err) {
      lastError = err;
    }
    alive?.();
    if (Date.now() >= deadline) {
      const why = lastError === undefined ? "" : ` (last error: ${errorMessage(lastError)})`;
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}`);
    }
    await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
  }
}

// ---- traces ----

/** One line of a `--switchboard.trace` file, as written. */
export interface TraceLine {
  reactor: string;
  kind: string;
  channelIds?: number[];
  peerId?: string;
  connection?: string | number;
  channelId?: number;
}

/** Reads a trace file (one JSON object per line), keeping the order. */
export async function readTraceFile(path: string): Promise<TraceLine[]> {
  const text = await readFile(path, "utf8");
  const out: TraceLine[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] ?? "").trim();
    if (line === "") continue;
    try {
      out.push(JSON.parse(line) as TraceLine);
    } catch (err) {
      throw new Error(`${path}:${i + 1}: not JSON: ${line.slice(0, 200)}`, { cause: err });
    }
  }
  return out;
}
