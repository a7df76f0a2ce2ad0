/**
 * Test harness: runs a real CometBFT v0.38 node (single validator, in-process `kvstore` app) on 127.0.0.1.
 *
 *   const node = await CometBftNode.start({ chainId: "interop-1", persistentPeers: [`${ourId}@127.0.0.1:${port}`] });
 *   try { ... node.p2pAddress, await node.netInfo() ... } finally { await node.stop(); }
 *
 * Binary: `options.binary`, else env COMETBFT_BIN, else `<repo>/.cache/bin/cometbft`
 * (install it with `bash scripts/install-cometbft.sh`).
 * Each node gets a fresh temp home (`cometbft init`), removed by stop() unless env KEEP_INTEROP_HOME is set.
 * The node's stdout+stderr go to a log file that is always kept: `<repo>/.cache/interop-logs/` (or env
 * COMETBFT_LOG_DIR / `options.logDir`). Failures to start include its path and tail.
 *
 * No process is left behind: stop() sends SIGTERM, then SIGKILL; a process 'exit' hook SIGKILLs whatever is still
 * running; and a tiny detached `sh` watchdog per node SIGKILLs the node if the test process dies without running
 * its exit hooks (SIGKILL, crash).
 *
 * ---------------------------------------------------------------------------------------------------------------
 * RPC JSON shapes (CometBFT v0.38.25, checked against a live node; encoder: libs/json, types: rpc/core/types):
 *
 * - Envelope: `{"jsonrpc":"2.0","id":-1,"result":{...}}` or `{"jsonrpc":"2.0","id":-1,"error":{"code":-32603,
 *   "message":"Internal error","data":"tx (00) not found"}}`. HTTP status is 200 for `result`, 500 for most errors.
 * - int64/uint64 are JSON **strings** ("height":"8", "n_peers":"0", "voting_power":"10"); plain Go `int`/`int32`/
 *   `uint32` are numbers ("index":0, "round":0, "code":0, parts "total":1). Hashes and addresses are UPPER-case
 *   hex; tx bytes are base64.
 * - `/block?height=H` → `result.block_id` {hash, parts:{total,hash}} and `result.block` {header, data:{txs},
 *   evidence:{evidence:[]}, last_commit}. The header fields to compare with a Header decoded from a blocksync
 *   BlockResponse (`block.header`):
 *     chain_id: `result.block.header.chain_id` (string)
 *     height:   `result.block.header.height`   (decimal **string**, e.g. "8"; compare with String(header.height))
 *     time:     `result.block.header.time`     (RFC 3339, always UTC "Z", e.g. "2026-11-21T07:13:10.273826809Z")
 *   The time is Go's `time.Time.MarshalJSON` of `t.Round(0).UTC()`, i.e. layout RFC3339Nano: the fractional part
 *   has **trailing zeros trimmed** (".76597369Z" has 8 digits, a whole second has no "." at all). So do not
 *   compare with a fixed 9-digit rendering: use formatGoRfc3339Nano({seconds, nanos}) below, or compare
 *   parseRfc3339Nano(json.time) with the decoded protobuf Timestamp {seconds, nanos}.
 *   Also: header.version {block:"11", app:"1"}, last_block_id, *_hash, proposer_address; `/header?height=H`
 *   returns the same header under `result.header`; `/status` has `sync_info.latest_block_height` (string) and
 *   `latest_block_time` (same time format).
 * - `/net_info` → `{listening:true, listeners:["Listener(@)"], n_peers:"1", peers:[{node_info:{id, listen_addr,
 *   network, version, channels:"40202122233038606100", moniker, protocol_version:{p2p,block,app},
 *   other:{tx_index, rpc_address}}, is_outbound, connection_status:{...}, remote_ip}]}`. So peer IDs are
 *   `peers[].node_info.id` (lower-case hex), `is_outbound` says who dialed; `remote_ip` is the socket IP.
 * - `/status` → `node_info` (our `nodeId` is `node_info.id`, the chain ID is `node_info.network`), `sync_info`,
 *   `validator_info`.
 * - `/broadcast_tx_sync?tx=0xHEX` → `{code, data, log, codespace, hash}`: code 0 = CheckTx OK, code 2 = kvstore
 *   "invalid tx format". A duplicate of a tx still in the mempool cache is an RPC **error**
 *   ("tx already exists in cache"), not a code.
 * - `/tx?hash=0xHEX` → `{hash, height:"8", index:0, tx_result:{code,...,events}, tx:"<base64>"}`; an unknown or not
 *   yet indexed hash is the error "tx (HEX) not found". The tx hash is SHA-256(tx bytes).
 * - `/tx_search?query="tx.hash='HEX'"` (query is a JSON-quoted string) → `{txs:[...], total_count:"1"}`.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { access, constants, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/** The repository root (this file is server/test/interop/support/cometbft-node.ts). */
export const REPO_ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
export const DEFAULT_COMETBFT_BIN = join(REPO_ROOT, ".cache", "bin", "cometbft");
const DEFAULT_LOG_DIR = join(REPO_ROOT, ".cache", "interop-logs");

export type TomlValue = string | number | boolean;

export interface CometBftNodeOptions {
  /** Path of the `cometbft` binary. Default: env COMETBFT_BIN, else `<repo>/.cache/bin/cometbft`. */
  binary?: string | undefined;
  /** genesis.json `chain_id` (max 50 chars). Default "switchboard-interop". */
  chainId?: string | undefined;
  /** config.toml `moniker` (printable ASCII). Default "cometbft-interop". */
  moniker?: string | undefined;
  /** P2P listen port on 127.0.0.1. Default: a free port. */
  p2pPort?: number | undefined;
  /** RPC listen port on 127.0.0.1. Default: a free port. */
  rpcPort?: number | undefined;
  /** `id@host:port` entries for `p2p.persistent_peers`. */
  persistentPeers?: readonly string[] | undefined;
  /**
   * Extra config.toml settings, applied after the harness defaults. Keys are `section.key` (`p2p.pex`,
   * `consensus.timeout_commit`, `mempool.type`) or a bare key for the top-level table (`log_level`).
   * Strings are written quoted, numbers and booleans bare (durations are strings: "500ms").
   */
  configOverrides?: Readonly<Record<string, TomlValue>> | undefined;
  /**
   * A genesis document (parsed JSON) to use instead of the generated one, e.g. `await other.genesis()` to run a
   * second node (a non-validator full node) on the same chain. `chainId`, when given, still overrides chain_id.
   */
  genesis?: unknown;
  /** Wait until the node has committed this height before start() resolves. Default 1; 0 waits only for RPC. */
  waitForHeight?: number | undefined;
  /** Timeout for start() once the process runs. Default 60 s. */
  startTimeoutMs?: number | undefined;
  /** Where the log file goes. Default: env COMETBFT_LOG_DIR, else `<repo>/.cache/interop-logs`. */
  logDir?: string | undefined;
  /** Extra environment for the node process. */
  env?: Readonly<Record<string, string>> | undefined;
}

// ---- RPC result types (only what the tests use; int64 fields are strings, see the header comment) ----

export interface RpcBlockId {
  hash: string;
  parts: { total: number; hash: string };
}

export interface RpcNodeInfo {
  protocol_version: { p2p: string; block: string; app: string };
  id: string;
  listen_addr: string;
  network: string;
  version: string;
  /** hex string of channel bytes, e.g. "40202122233038606100" */
  channels: string;
  moniker: string;
  other: { tx_index: string; rpc_address: string };
}

export interface RpcStatus {
  node_info: RpcNodeInfo;
  sync_info: {
    latest_block_hash: string;
    latest_app_hash: string;
    latest_block_height: string;
    latest_block_time: string;
    earliest_block_hash: string;
    earliest_app_hash: string;
    earliest_block_height: string;
    earliest_block_time: string;
    catching_up: boolean;
  };
  validator_info: { address: string; pub_key: { type: string; value: string }; voting_power: string };
}

export interface RpcPeer {
  node_info: RpcNodeInfo;
  is_outbound: boolean;
  connection_status: unknown;
  remote_ip: string;
}

export interface RpcNetInfo {
  listening: boolean;
  listeners: string[];
  n_peers: string;
  peers: RpcPeer[];
}

export interface RpcHeader {
  version: { block: string; app: string };
  chain_id: string;
  /** decimal string */
  height: string;
  /** RFC 3339 UTC, fractional seconds with trailing zeros trimmed (Go RFC3339Nano) */
  time: string;
  last_block_id: RpcBlockId;
  last_commit_hash: string;
  data_hash: string;
  validators_hash: string;
  next_validators_hash: string;
  consensus_hash: string;
  app_hash: string;
  last_results_hash: string;
  evidence_hash: string;
  proposer_address: string;
}

export interface RpcBlockResult {
  block_id: RpcBlockId;
  block: {
    header: RpcHeader;
    /** base64 txs */
    data: { txs: string[] | null };
    evidence: { evidence: unknown[] | null };
    last_commit: {
      height: string;
      round: number;
      block_id: RpcBlockId;
      signatures: { block_id_flag: number; validator_address: string; timestamp: string; signature: string | null }[];
    } | null;
  };
}

export interface RpcExecTxResult {
  code: number;
  data: string | null;
  log: string;
  info: string;
  gas_wanted: string;
  gas_used: string;
  events: { type: string; attributes: { key: string; value: string; index: boolean }[] }[];
  codespace: string;
}

export interface RpcTxResult {
  /** upper-case hex SHA-256 of the tx */
  hash: string;
  height: string;
  index: number;
  tx_result: RpcExecTxResult;
  /** base64 */
  tx: string;
}

export interface RpcTxSearchResult {
  txs: RpcTxResult[];
  total_count: string;
}

export interface RpcBroadcastTxResult {
  /** CheckTx code: 0 = accepted into the mempool */
  code: number;
  data: string;
  log: string;
  codespace: string;
  hash: string;
}

/** The node process exited while something was waiting on it; the message includes the log tail. */
export class CometBftNodeExitedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CometBftNodeExitedError";
  }
}

export class CometBftRpcError extends Error {
  constructor(
    readonly method: string,
    readonly code: number,
    readonly rpcMessage: string,
    readonly data: string,
  ) {
    super(`CometBFT RPC ${method} failed: ${rpcMessage} (${code})${data ? `: ${data}` : ""}`);
    this.name = "CometBftRpcError";
  }
}

// ---- helpers ----

/** Upper-case hex SHA-256 of a tx, as /tx, /broadcast_tx_* and /tx_search print it. */
export function txHashHex(tx: Uint8Array | string): string {
  return createHash("sha256").update(toBytes(tx)).digest("hex").toUpperCase();
}

/**
 * Formats a protobuf Timestamp the way CometBFT's RPC prints a time: Go RFC3339Nano in UTC, fraction with trailing
 * zeros trimmed and omitted when zero. `formatGoRfc3339Nano(decodedHeader.time) === rpcBlock.block.header.time`.
 */
export function formatGoRfc3339Nano(ts: { seconds: bigint | number; nanos: number }): string {
  const base = new Date(Number(ts.seconds) * 1000).toISOString().slice(0, 19);
  const frac = ts.nanos === 0 ? "" : `.${String(ts.nanos).padStart(9, "0").replace(/0+$/, "")}`;
  return `${base}${frac}Z`;
}

/** Parses an RFC 3339 time (as printed by the RPC) into protobuf Timestamp parts. */
export function parseRfc3339Nano(s: string): { seconds: bigint; nanos: number } {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (!m) throw new Error(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  const ms = Date.parse(`${m[1] ?? ""}${m[3] ?? ""}`);
  if (Number.isNaN(ms)) throw new Error(`not an RFC 3339 time: ${JSON.stringify(s)}`);
  return { seconds: BigInt(ms / 1000), nanos: Number((m[2] ?? "").padEnd(9, "0")) };
}

/**
 * Sets `section.key` (or a bare top-level `key`) values in a TOML text, replacing existing assignments in place and
 * adding missing ones at the top of their table (a missing table is appended).
 */
export function setTomlValues(text: string, values: Readonly<Record<string, TomlValue>>): string {
  const pending = new Map<string, TomlValue>(Object.entries(values));
  const lines = text.split("\n");
  let section = "";
  const sectionStart = new Map<string, number>([["", -1]]);
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const header = /^\s*\[([^\]]+)\]\s*(?:#.*)?$/.exec(line);
    if (header) {
      section = (header[1] ?? "").trim();
      sectionStart.set(section, i);
      continue;
    }
    const assign = /^\s*([A-Za-z0-9_-]+)\s*=/.exec(line);
    if (!assign) continue;
    const key = assign[1] ?? "";
    const full = section === "" ? key : `${section}.${key}`;
    const value = pending.get(full);
    if (value === undefined) continue;
    lines[i] = `${key} = ${formatToml(value)}`;
    pending.delete(full);
  }
  // Insert the rest, last sections first so earlier indices stay valid.
  const inserts: { at: number; line: string }[] = [];
  const appended: string[] = [];
  for (const [full, value] of pending) {
    const dot = full.lastIndexOf(".");
    const sec = dot < 0 ? "" : full.slice(0, dot);
    const key = dot < 0 ? full : full.slice(dot + 1);
    const start = sectionStart.get(sec);
    if (start === undefined) appended.push(`[${sec}]`, `${key} = ${formatToml(value)}`);
    else inserts.push({ at: start + 1, line: `${key} = ${formatToml(value)}` });
  }
  inserts.sort((a, b) => b.at - a.at);
  for (const ins of inserts) lines.splice(ins.at, 0, ins.line);
  if (appended.length > 0) {
    while (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
    lines.push("", ...appended, "");
  }
  return lines.join("\n");
}

function formatToml(value: TomlValue): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" && !Number.isFinite(value)) throw new Error(`bad TOML number ${value}`);
  return String(value);
}

function toBytes(data: Uint8Array | string): Buffer {
  return typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
}

/** Picks `count` distinct free TCP ports on 127.0.0.1 (held open together so they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const srv = createServer();
          srv.once("error", reject);
          srv.listen(0, "127.0.0.1", () => resolve(srv));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An environment variable, with "" treated as unset. */
function envVar(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === "" ? undefined : v;
}

/** True when env KEEP_INTEROP_HOME asks to keep node homes (any value but "", "0", "false"). */
export function keepHome(): boolean {
  const v = envVar("KEEP_INTEROP_HOME");
  return v !== undefined && v !== "0" && v !== "false";
}

/** Kills the node if the test process dies without running its exit hooks. Args: parent pid, node pid, home. */
const WATCHDOG_SCRIPT = `
parent="$1"; child="$2"; home="$3"
while kill -0 "$parent" 2>/dev/null && kill -0 "$child" 2>/dev/null; do sleep 1; done
if kill -0 "$child" 2>/dev/null; then
  kill -9 "$child" 2>/dev/null
  sleep 1
  if [ -n "$home" ]; then rm -rf -- "$home"; fi
fi
`;

// ---- process bookkeeping ----

const liveNodes = new Set<CometBftNode>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const node of liveNodes) node.killSync();
  });
}

type Falsy = false | 0 | "" | null | undefined;

interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export class CometBftNode {
  readonly rpcUrl: string;
  readonly p2pAddress: string;

  private exitInfo: ExitInfo | undefined;
  private readonly exited: Promise<ExitInfo>;
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly binary: string,
    readonly home: string,
    readonly logPath: string,
    readonly chainId: string,
    readonly moniker: string,
    readonly nodeId: string,
    readonly p2pPort: number,
    readonly rpcPort: number,
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess | undefined,
  ) {
    this.rpcUrl = `http://127.0.0.1:${rpcPort}`;
    this.p2pAddress = `${nodeId}@127.0.0.1:${p2pPort}`;
    this.exited = new Promise<ExitInfo>((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null): void => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      };
      if (child.exitCode !== null || child.signalCode !== null) {
        done(child.exitCode, child.signalCode);
        return;
      }
      child.once("exit", done);
      // A spawn failure (ENOENT, EACCES) arrives as 'error'; 'exit' may not follow.
      child.once("error", (err) => {
        console.error(`[cometbft-node] ${moniker}: process error: ${err.message}`);
        if (this.exitInfo === undefined) done(child.exitCode, child.signalCode);
      });
    });
  }

  /** Initialises a fresh home, writes the config, starts `cometbft start` and waits for RPC and height ≥ 1. */
  static async start(options: CometBftNodeOptions = {}): Promise<CometBftNode> {
    const binary = options.binary ?? envVar("COMETBFT_BIN") ?? DEFAULT_COMETBFT_BIN;
    try {
      await access(binary, constants.X_OK);
    } catch {
      throw new Error(
        `CometBFT binary not found or not executable: ${binary}. ` +
          "Run `bash scripts/install-cometbft.sh` (installs v0.38.25 into .cache/bin) or set COMETBFT_BIN.",
      );
    }
    const givenGenesis = options.genesis as { chain_id?: unknown } | undefined;
    const chainId =
      options.chainId ??
      (typeof givenGenesis?.chain_id === "string" ? givenGenesis.chain_id : "switchboard-interop");
    const moniker = options.moniker ?? "cometbft-interop";
    if (chainId.length === 0 || chainId.length > 50) throw new Error(`chainId must be 1..50 chars: ${chainId}`);
    if (!/^[\x20-\x7e]+$/.test(moniker)) throw new Error(`moniker must be non-empty printable ASCII: ${moniker}`);
    const safeName = moniker.replace(/[^A-Za-z0-9_.-]/g, "_");

    const home = await mkdtemp(join(tmpdir(), `switchboard-cmt-${safeName}-`));
    const logDir = options.logDir ?? envVar("COMETBFT_LOG_DIR") ?? DEFAULT_LOG_DIR;
    mkdirSync(logDir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, "-");
    const logPath = join(logDir, `${safeName}-${stamp}-${basename(home).slice(-6)}.log`);
    const cleanupHome = async (): Promise<void> => {
      if (!keepHome()) await rm(home, { recursive: true, force: true });
    };

    let nodeId: string;
    let baseConfig: string;
    try {
      await runCli(binary, ["init", "--home", home]);
      nodeId = (await runCli(binary, ["show-node-id", "--home", home])).trim();
      if (!/^[0-9a-f]{40}$/.test(nodeId)) throw new Error(`unexpected show-node-id output: ${JSON.stringify(nodeId)}`);
      const genesisPath = join(home, "config", "genesis.json");
      const genesis = {
        ...((options.genesis ?? JSON.parse(await readFile(genesisPath, "utf8"))) as Record<string, unknown>),
      };
      genesis["chain_id"] = chainId;
      await writeFile(genesisPath, `${JSON.stringify(genesis, null, 2)}\n`);
      baseConfig = await readFile(join(home, "config", "config.toml"), "utf8");
    } catch (err) {
      await cleanupHome();
      throw err;
    }

    const autoPorts = options.p2pPort === undefined && options.rpcPort === undefined;
    const maxAttempts = autoPorts ? 3 : 1;
    for (let attempt = 1; ; attempt++) {
      const [freeP2p, freeRpc] = await freePorts(2);
      const p2pPort = options.p2pPort ?? freeP2p!;
      const rpcPort = options.rpcPort ?? freeRpc!;
      const config = setTomlValues(baseConfig, {
        moniker,
        proxy_app: "kvstore",
        "rpc.laddr": `tcp://127.0.0.1:${rpcPort}`,
        "p2p.laddr": `tcp://127.0.0.1:${p2pPort}`,
        "p2p.persistent_peers": (options.persistentPeers ?? []).join(","),
        "p2p.allow_duplicate_ip": true,
        "p2p.addr_book_strict": false,
        "p2p.pex": true,
        "consensus.timeout_commit": "500ms",
        ...options.configOverrides,
      });
      await writeFile(join(home, "config", "config.toml"), config);

      const node = CometBftNode.spawnNode({
        binary, home, logPath, chainId, moniker, nodeId, p2pPort, rpcPort, env: options.env,
      });
      try {
        await node.waitUntilReady(options.waitForHeight ?? 1, options.startTimeoutMs ?? 60_000);
        console.info(
          `[cometbft-node] ${moniker} up: id=${nodeId} p2p=127.0.0.1:${p2pPort} rpc=${node.rpcUrl} ` +
            `home=${home} log=${logPath}`,
        );
        return node;
      } catch (err) {
        await node.stop({ removeHome: false });
        const tail = node.logTail(40);
        if (attempt < maxAttempts && /address already in use/i.test(tail)) {
          console.warn(`[cometbft-node] port clash starting ${moniker}, retrying with other ports (log: ${logPath})`);
          continue;
        }
        await cleanupHome();
        const msg =
          err instanceof CometBftNodeExitedError
            ? `failed to start: ${err.message}`
            : `CometBFT node ${moniker} failed to start: ${errorMessage(err)}\n--- last lines ---\n${tail}`;
        console.error(`[cometbft-node] ${msg}`);
        throw new Error(msg, { cause: err });
      }
    }
  }

  private static spawnNode(p: {
    binary: string;
    home: string;
    logPath: string;
    chainId: string;
    moniker: string;
    nodeId: string;
    p2pPort: number;
    rpcPort: number;
    env: Readonly<Record<string, string>> | undefined;
  }): CometBftNode {
    const fd = openSync(p.logPath, "a");
    let child: ChildProcess;
    try {
      child = spawn(p.binary, ["start", "--home", p.home], {
        stdio: ["ignore", fd, fd],
        env: { ...process.env, ...p.env },
      });
    } finally {
      closeSync(fd);
    }
    let watchdog: ChildProcess | undefined;
    if (child.pid !== undefined) {
      watchdog = spawn(
        "sh",
        ["-c", WATCHDOG_SCRIPT, "cometbft-watchdog", String(process.pid), String(child.pid), keepHome() ? "" : p.home],
        { detached: true, stdio: "ignore" },
      );
      watchdog.once("error", () => undefined);
      watchdog.unref();
    }
    const node = new CometBftNode(
      p.binary, p.home, p.logPath, p.chainId, p.moniker, p.nodeId, p.p2pPort, p.rpcPort, child, watchdog,
    );
    liveNodes.add(node);
    installExitHook();
    return node;
  }

  private async waitUntilReady(height: number, timeoutMs: number): Promise<void> {
    const status = await this.waitFor(() => this.status(), timeoutMs, "RPC to answer /status", 100);
    if (status.node_info.id !== this.nodeId) {
      throw new Error(`RPC at ${this.rpcUrl} reports node ${status.node_info.id}, expected ${this.nodeId}`);
    }
    if (height > 0) await this.waitForHeight(height, timeoutMs);
  }

  /** OS pid of the `cometbft start` process (undefined if it failed to spawn). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** True while the node process has not exited. */
  get running(): boolean {
    return this.exitInfo === undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Parsed genesis.json of this node (pass it as `genesis` to start another node on the same chain). */
  async genesis(): Promise<unknown> {
    return JSON.parse(await readFile(join(this.home, "config", "genesis.json"), "utf8")) as unknown;
  }

  // ---- RPC ----

  /**
   * Calls an RPC method with GET and URI parameters. Parameter encoding (rpc/jsonrpc/server/http_uri_handler.go):
   * integers bare (`height=5`), byte slices as `0x<hex>`, strings JSON-quoted (`query="tx.height=5"`).
   */
  async call<T>(method: string, params: Readonly<Record<string, string | number | boolean | undefined>> = {}): Promise<T> {
    const url = new URL(`${this.rpcUrl}/${method}`);
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v));
    const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    const text = await res.text();
    let body: { result?: unknown; error?: { code?: number; message?: string; data?: string } };
    try {
      body = JSON.parse(text) as typeof body;
    } catch {
      throw new Error(`CometBFT RPC ${method}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    if (body.error !== undefined) {
      throw new CometBftRpcError(method, body.error.code ?? 0, body.error.message ?? "", body.error.data ?? "");
    }
    if (body.result === undefined) throw new Error(`CometBFT RPC ${method}: no result: ${text.slice(0, 200)}`);
    return body.result as T;
  }

  status(): Promise<RpcStatus> {
    return this.call<RpcStatus>("status");
  }

  netInfo(): Promise<RpcNetInfo> {
    return this.call<RpcNetInfo>("net_info");
  }

  /** Node IDs of the connected peers (`/net_info` `peers[].node_info.id`). */
  async peerIds(): Promise<string[]> {
    return (await this.netInfo()).peers.map((p) => p.node_info.id);
  }

  /** `/block`; without a height, the latest block. */
  block(height?: number | bigint): Promise<RpcBlockResult> {
    return this.call<RpcBlockResult>("block", { height: height === undefined ? undefined : String(height) });
  }

  async latestHeight(): Promise<number> {
    return Number((await this.status()).sync_info.latest_block_height);
  }

  /** Waits until the latest committed height is ≥ `height`; returns that height. */
  waitForHeight(height: number, timeoutMs = 30_000): Promise<number> {
    return this.waitFor(
      async () => {
        const h = await this.latestHeight();
        return h >= height ? h : undefined;
      },
      timeoutMs,
      `height >= ${height}`,
    );
  }

  /** `/tx` by hash (hex, either case, optional 0x); undefined while the tx is not committed and indexed. */
  async tx(hashHex: string): Promise<RpcTxResult | undefined> {
    const hex = hashHex.replace(/^0x/i, "");
    try {
      return await this.call<RpcTxResult>("tx", { hash: `0x${hex}` });
    } catch (err) {
      if (err instanceof CometBftRpcError && /not found/i.test(err.data)) return undefined;
      throw err;
    }
  }

  /** `/tx_search`, e.g. `txSearch("tx.hash='ABC…'")` or `txSearch("app.key='foo'")`. */
  txSearch(
    query: string,
    opts: { page?: number; perPage?: number; orderBy?: "asc" | "desc" } = {},
  ): Promise<RpcTxSearchResult> {
    return this.call<RpcTxSearchResult>("tx_search", {
      query: JSON.stringify(query),
      page: opts.page,
      per_page: opts.perPage,
      order_by: opts.orderBy === undefined ? undefined : JSON.stringify(opts.orderBy),
    });
  }

  /** Waits until the tx with this hash is committed and indexed. */
  waitForTx(hashHex: string, timeoutMs = 30_000): Promise<RpcTxResult> {
    return this.waitFor(() => this.tx(hashHex), timeoutMs, `tx ${hashHex} committed`);
  }

  /** `/broadcast_tx_sync`: runs CheckTx and returns its code (0 = in the mempool). */
  broadcastTxSync(tx: Uint8Array | string): Promise<RpcBroadcastTxResult> {
    return this.call<RpcBroadcastTxResult>("broadcast_tx_sync", { tx: `0x${toBytes(tx).toString("hex")}` });
  }

  /**
   * Polls `predicate` every `intervalMs` until it returns a truthy value, which is returned. Errors thrown by the
   * predicate count as "not yet" (the last one is reported on timeout). Fails early if the node process exits.
   */
  async waitFor<T>(
    predicate: () => T | Falsy | Promise<T | Falsy>,
    timeoutMs = 30_000,
    description = "condition",
    intervalMs = 200,
  ): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    for (;;) {
      try {
        const value = await predicate();
        if (value) return value;
      } catch (err) {
        lastError = err;
      }
      if (!this.running) {
        const info = this.exitInfo ?? { code: this.child.exitCode, signal: this.child.signalCode };
        throw new CometBftNodeExitedError(
          `CometBFT node ${this.moniker} exited (code ${info.code}, signal ${info.signal}) while waiting for ` +
            `${description}\nlog: ${this.logPath}\n--- last lines ---\n${this.logTail(30)}`,
        );
      }
      if (Date.now() >= deadline) {
        const why = lastError === undefined ? "" : ` (last error: ${errorMessage(lastError)})`;
        throw new Error(`timed out after ${timeoutMs} ms waiting for ${description}${why}; log: ${this.logPath}`);
      }
      await sleep(Math.min(intervalMs, Math.max(0, deadline - Date.now())));
    }
  }

  /** The last `lines` lines of the node's log file. */
  logTail(lines = 50): string {
    try {
      return readFileSync(this.logPath, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
    } catch (err) {
      return `(cannot read ${this.logPath}: ${errorMessage(err)})`;
    }
  }

  // ---- lifecycle ----

  /**
   * SIGTERM, then SIGKILL after `timeoutMs` (default 10 s); waits for the process to exit, then removes the home
   * unless env KEEP_INTEROP_HOME is set (or `removeHome: false`). Idempotent.
   */
  stop(opts: { timeoutMs?: number; removeHome?: boolean } = {}): Promise<void> {
    this.stopping ??= this.doStop(opts.timeoutMs ?? 10_000, opts.removeHome ?? true);
    return this.stopping;
  }

  private async doStop(timeoutMs: number, removeHome: boolean): Promise<void> {
    if (this.running) {
      this.child.kill("SIGTERM");
      const exited = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
      if (!exited) {
        console.warn(`[cometbft-node] ${this.moniker} ignored SIGTERM for ${timeoutMs} ms, sending SIGKILL`);
        this.child.kill("SIGKILL");
        await this.exited;
      }
    }
    this.killWatchdog();
    liveNodes.delete(this);
    if (removeHome && !keepHome()) await rm(this.home, { recursive: true, force: true });
    else if (removeHome) console.info(`[cometbft-node] KEEP_INTEROP_HOME set, kept ${this.home}`);
  }

  /** Synchronous SIGKILL plus home removal; used by the process 'exit' hook. @internal */
  killSync(): void {
    if (this.running) this.child.kill("SIGKILL");
    this.killWatchdog();
    liveNodes.delete(this);
    if (!keepHome() && existsSync(this.home)) rmSync(this.home, { recursive: true, force: true });
  }

  private killWatchdog(): void {
    const wd = this.watchdog;
    if (wd !== undefined && wd.exitCode === null && wd.signalCode === null) wd.kill("SIGKILL");
  }
}

async function runCli(binary: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync(binary, args, { timeout: 30_000, maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; stdout?: string };
    throw new Error(
      `\`${binary} ${args.join(" ")}\` failed: ${errorMessage(err)}\n${e.stderr ?? ""}${e.stdout ?? ""}`,
      { cause: err },
    );
  }
}
