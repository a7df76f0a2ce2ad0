/**
 * A CometBFT v0.38 validator network on 127.0.0.1 for the consensus scenario:
 * `cometbft testnet` writes the homes (equal power, kvstore), each
 * config.toml is rewritten for loopback ports, and each validator runs
 * either plain (`cometbft start`) or hosted: a Switchboard node (the tree's
 * server as compiled into bench/dist, with the validator's node key) owns its
 * p2p connections and `cometbft-switchboard start` runs the unmodified
 * CometBFT node on the same home, its five reactors attached over gRPC.
 *
 * Every port is a free one on 127.0.0.1. Each process logs to a file in
 * bench/.tmp/consensus/logs/ (kept after the run). Processes still running
 * when the harness exits are SIGKILLed by an exit hook.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect, createServer } from "node:net";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { COMPILED_MAIN } from "./build.js";
import { SCRATCH_DIR } from "./daemon.js";

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const CONSENSUS_DIR = join(SCRATCH_DIR, "consensus");
export const CONSENSUS_LOG_DIR = join(CONSENSUS_DIR, "logs");

/** The reactors a CometBFT v0.38 node registers (the names cometbft-switchboard attaches as). */
const HOSTED_REACTORS = "CONSENSUS,MEMPOOL,BLOCKSYNC,EVIDENCE,STATESYNC";

export type ValidatorKind = "plain" | "hosted";

export interface Binaries {
  readonly cometbft: string;
  readonly host: string;
}

/**
 * `cometbft` (scripts/install-cometbft.sh, which does nothing when v0.38.25 is
 * there) and `cometbft-switchboard` (scripts/install-cometbft-switchboard.sh,
 * rebuilt from client/go/cometbft; incremental). COMETBFT_BIN and
 * COMETBFT_SWITCHBOARD_BIN name other binaries instead.
 */
export async function installBinaries(): Promise<Binaries> {
  const script = async (name: string): Promise<string> => {
    const { stdout } = await run("bash", [join(ROOT, "scripts", name)], { cwd: ROOT, maxBuffer: 1 << 20 });
    const path = stdout.trim().split("\n").pop() ?? "";
    if (!existsSync(path)) throw new Error(`scripts/${name} printed no binary path (${JSON.stringify(stdout)})`);
    return path;
  };
  const env = (name: string): string | undefined => {
    const v = process.env[name];
    return v === undefined || v === "" ? undefined : v;
  };
  const [cometbft, host] = await Promise.all([
    env("COMETBFT_BIN") ?? script("install-cometbft.sh"),
    env("COMETBFT_SWITCHBOARD_BIN") ?? script("install-cometbft-switchboard.sh"),
  ]);
  return { cometbft, host };
}

// ---------------------------------------------------------------- config.toml

type TomlValue = string | number | boolean;

/** `text` with the given `section.key` (or top-level `key`) values replaced; every key must exist. */
export function setToml(text: string, values: Readonly<Record<string, TomlValue>>): string {
  const pending = new Map(Object.entries(values));
  let section = "";
  const lines = text.split("\n").map((line) => {
    const header = /^\s*\[([^\]]+)\]\s*$/.exec(line);
    if (header !== null) {
      section = header[1]!.trim();
      return line;
    }
    const kv = /^(\s*)([A-Za-z0-9_-]+)\s*=/.exec(line);
    if (kv === null) return line;
    const key = section === "" ? kv[2]! : `${section}.${kv[2]!}`;
    const v = pending.get(key);
    if (v === undefined) return line;
    pending.delete(key);
    return `${kv[1]!}${kv[2]!} = ${typeof v === "string" ? JSON.stringify(v) : String(v)}`;
  });
  if (pending.size > 0) throw new Error(`config.toml has no ${[...pending.keys()].join(", ")}`);
  return lines.join("\n");
}

/** `count` distinct free TCP ports on 127.0.0.1 (held open together so that they differ). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const s = createServer();
          s.once("error", reject);
          s.listen(0, "127.0.0.1", () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  return ports;
}

// ---------------------------------------------------------------- processes

const live = new Set<ChildProcess>();
let hookInstalled = false;

function track(proc: ChildProcess): void {
  live.add(proc);
  proc.once("exit", () => live.delete(proc));
  if (hookInstalled) return;
  hookInstalled = true;
  process.on("exit", () => {
    for (const p of live) p.kill("SIGKILL");
  });
}

interface Proc {
  readonly name: string;
  readonly proc: ChildProcess;
  readonly logPath: string;
  stopping: boolean;
}

function spawnLogged(name: string, command: string, args: readonly string[], logPath: string): Proc {
  const fd = openSync(logPath, "w");
  let proc: ChildProcess;
  try {
    proc = spawn(command, args, { cwd: ROOT, stdio: ["ignore", fd, fd] });
  } finally {
    closeSync(fd);
  }
  track(proc);
  return { name, proc, logPath, stopping: false };
}

function logTail(path: string, lines = 30): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ---------------------------------------------------------------- RPC

/** CometBFT's JSON-RPC over HTTP GET. */
export async function rpcCall<T>(port: number, method: string, params: Readonly<Record<string, string | number>> = {}): Promise<T> {
  const url = new URL(`http://127.0.0.1:${port}/${method}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, String(v));
  const res = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  const body = (await res.json()) as { result?: T; error?: { message?: string; data?: string } };
  if (body.error !== undefined) throw new Error(`${method}: ${body.error.message ?? ""} ${body.error.data ?? ""}`);
  if (body.result === undefined) throw new Error(`${method}: no result`);
  return body.result;
}

export interface RpcHeader {
  readonly height: string;
  readonly time: string;
}

// ---------------------------------------------------------------- the network

export interface Validator {
  readonly index: number;
  readonly kind: ValidatorKind;
  readonly home: string;
  readonly nodeId: string;
  /** The public p2p port: CometBFT's listener (plain) or the Switchboard node's (hosted). */
  readonly p2pPort: number;
  readonly rpcPort: number;
  /** Hosted: the Switchboard node's gateway port. */
  readonly grpcPort: number | null;
  /** With `profiling`: CometBFT's pprof port (rpc.pprof_laddr), and the Switchboard node's Prometheus port (hosted). */
  readonly pprofPort: number | null;
  readonly metricsPort: number | null;
}

export interface NetworkOptions {
  /** One entry per validator. */
  readonly kinds: readonly ValidatorKind[];
  /** A label for log file names, e.g. "r1-mixed". */
  readonly label: string;
  /** Extra config.toml values for every CometBFT home (`section.key`). */
  readonly config: Readonly<Record<string, TomlValue>>;
  /** Serve Go's pprof from every CometBFT node and Prometheus metrics from every Switchboard node (free ports). */
  readonly profiling?: boolean;
  /**
   * How a hosted validator's reactors reach their Switchboard node: loopback
   * TCP (default) or a Unix domain socket in the Switchboard node's home.
   */
  readonly gateway?: GatewayTransport;
}

export type GatewayTransport = "tcp" | "unix";

export class Network {
  private readonly procs: Proc[] = [];
  /** Process IDs by name once started: "v0 cometbft", "v2 switchboard", "v2 cometbft-switchboard"… */
  readonly pids: Record<string, number> = {};

  private constructor(
    readonly dir: string,
    readonly chainId: string,
    readonly validators: readonly Validator[],
    private readonly bins: Binaries,
    private readonly label: string,
    readonly gateway: GatewayTransport,
  ) {}

  /** Where v's Switchboard node serves its gateway: [its --grpc.laddr, the SDK's target]. */
  private gatewayAddress(v: Validator): [string, string] {
    if (this.gateway === "unix") {
      const path = join(this.dir, `switchboard${v.index}`, "gateway.sock");
      return [`unix://${path}`, `unix://${path}`];
    }
    return [`tcp://127.0.0.1:${v.grpcPort!}`, `127.0.0.1:${v.grpcPort!}`];
  }

  /** Writes the homes (nothing runs yet). */
  static async create(bins: Binaries, o: NetworkOptions): Promise<Network> {
    mkdirSync(CONSENSUS_LOG_DIR, { recursive: true });
    const dir = await mkdtemp(join(CONSENSUS_DIR, `${o.label}-`));
    try {
      await run(bins.cometbft, ["testnet", "--v", String(o.kinds.length), "--o", dir], { cwd: ROOT });
      const genesis = JSON.parse(await readFile(join(dir, "node0", "config", "genesis.json"), "utf8")) as { chain_id: string };
      const per = o.profiling === true ? 5 : 3;
      const ports = await freePorts(o.kinds.length * per);
      const validators: Validator[] = await Promise.all(
        o.kinds.map(async (kind, index) => {
          const home = join(dir, `node${index}`);
          const { stdout } = await run(bins.cometbft, ["show-node-id", "--home", home]);
          return {
            index,
            kind,
            home,
            nodeId: stdout.trim(),
            p2pPort: ports[index * per]!,
            rpcPort: ports[index * per + 1]!,
            grpcPort: kind === "hosted" ? ports[index * per + 2]! : null,
            pprofPort: o.profiling === true ? ports[index * per + 3]! : null,
            metricsPort: o.profiling === true && kind === "hosted" ? ports[index * per + 4]! : null,
          };
        }),
      );
      for (const v of validators) {
        const peers = validators.filter((o2) => o2.index !== v.index).map((o2) => `${o2.nodeId}@127.0.0.1:${o2.p2pPort}`);
        const path = join(v.home, "config", "config.toml");
        const text = setToml(await readFile(path, "utf8"), {
          moniker: `v${v.index}`,
          proxy_app: "kvstore",
          "rpc.laddr": `tcp://127.0.0.1:${v.rpcPort}`,
          // Hosted: cometbft-switchboard replaces it with 127.0.0.1:0 (its Switch dials and accepts nobody).
          "p2p.laddr": `tcp://127.0.0.1:${v.p2pPort}`,
          "p2p.external_address": "",
          "p2p.persistent_peers": peers.join(","),
          "p2p.allow_duplicate_ip": true,
          "p2p.addr_book_strict": false,
          "p2p.pex": false,
          ...(v.pprofPort === null ? {} : { "rpc.pprof_laddr": `127.0.0.1:${v.pprofPort}` }),
          ...o.config,
        });
        await writeFile(path, text);
      }
      return new Network(dir, genesis.chain_id, validators, bins, o.label, o.gateway ?? "tcp");
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  private logPath(v: Validator, what: string): string {
    return join(CONSENSUS_LOG_DIR, `${this.label}-v${v.index}-${what}.log`);
  }

  /**
   * Starts every validator: the plain ones and the Switchboard nodes first,
   * then, once each gateway listens, the hosted CometBFT nodes. Resolves when
   * every validator has its peers and the chain has reached `minHeight`.
   */
  async start(minHeight: number, timeoutMs = 90_000): Promise<void> {
    for (const v of this.validators) {
      if (v.kind === "plain") {
        const p = spawnLogged(`v${v.index} cometbft`, this.bins.cometbft, ["start", "--home", v.home], this.logPath(v, "cometbft"));
        this.procs.push(p);
        this.pids[p.name] = p.proc.pid ?? -1;
        continue;
      }
      const sbHome = join(this.dir, `switchboard${v.index}`);
      await run(process.execPath, [COMPILED_MAIN, "init", "--home", sbHome, "--network", this.chainId, "--moniker", `v${v.index}`]);
      await copyFile(join(v.home, "config", "node_key.json"), join(sbHome, "config", "node_key.json"));
      const peers = this.validators.filter((o) => o.index !== v.index).map((o) => `${o.nodeId}@127.0.0.1:${o.p2pPort}`);
      // BENCH_CHILD_NODE_OPTIONS adds Node flags (e.g. --cpu-prof) here as for every other child of the bench.
      const extra = (process.env["BENCH_CHILD_NODE_OPTIONS"] ?? "").split(" ").filter((s) => s !== "");
      const p = spawnLogged(
        `v${v.index} switchboard`,
        process.execPath,
        [
          ...extra,
          COMPILED_MAIN,
          "start",
          "--home",
          sbHome,
          "--p2p.laddr",
          `tcp://127.0.0.1:${v.p2pPort}`,
          "--grpc.laddr",
          this.gatewayAddress(v)[0],
          "--grpc.reactors",
          HOSTED_REACTORS,
          "--p2p.persistent_peers",
          peers.join(","),
          "--p2p.allow_duplicate_ip=true",
          "--p2p.addr_book_strict=false",
          "--p2p.pex=false",
          ...(v.metricsPort === null ? [] : ["--instrumentation.prometheus=true", "--instrumentation.prometheus_listen_addr", `127.0.0.1:${v.metricsPort}`]),
        ],
        this.logPath(v, "switchboard"),
      );
      this.procs.push(p);
      this.pids[p.name] = p.proc.pid ?? -1;
    }
    const deadline = Date.now() + timeoutMs;
    for (const v of this.validators) {
      if (v.kind !== "hosted") continue;
      const [laddr, target] = this.gatewayAddress(v);
      await this.waitFor(`v${v.index}'s gateway`, deadline, async () => (await listening(laddr)) || undefined);
      const p = spawnLogged(
        `v${v.index} cometbft-switchboard`,
        this.bins.host,
        ["start", "--home", v.home, "--switchboard.grpc", target, "--proxy_app", "kvstore", "--rpc.laddr", `tcp://127.0.0.1:${v.rpcPort}`],
        this.logPath(v, "cometbft-switchboard"),
      );
      this.procs.push(p);
      this.pids[p.name] = p.proc.pid ?? -1;
    }
    const want = this.validators.length - 1;
    for (const v of this.validators) {
      await this.waitFor(`v${v.index} to have ${want} peers`, deadline, async () => {
        const info = await rpcCall<{ n_peers: string }>(v.rpcPort, "net_info");
        return Number(info.n_peers) >= want || undefined;
      });
    }
    for (const v of this.validators) await this.waitForHeight(v, minHeight, deadline);
  }

  async height(v: Validator): Promise<number> {
    const s = await rpcCall<{ sync_info: { latest_block_height: string } }>(v.rpcPort, "status");
    return Number(s.sync_info.latest_block_height);
  }

  async waitForHeight(v: Validator, height: number, deadline: number): Promise<number> {
    return this.waitFor(`v${v.index} to reach height ${height}`, deadline, async () => {
      const h = await this.height(v);
      return h >= height ? h : undefined;
    });
  }

  /** Throws (with the log's tail) when a process we did not stop has exited. */
  assertAlive(): void {
    for (const p of this.procs) {
      if (!p.stopping && (p.proc.exitCode !== null || p.proc.signalCode !== null)) {
        throw new Error(`${this.label}: ${p.name} exited (${p.proc.exitCode ?? p.proc.signalCode ?? "?"})\n--- ${p.logPath} ---\n${logTail(p.logPath)}`);
      }
    }
  }

  /** Polls `probe` every 200 ms until it returns a value; its errors count as "not yet". */
  async waitFor<T>(what: string, deadline: number, probe: () => Promise<T | undefined>): Promise<T> {
    let last: string | undefined;
    for (;;) {
      this.assertAlive();
      try {
        const v = await probe();
        if (v !== undefined) return v;
      } catch (err) {
        last = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() > deadline) {
        throw new Error(`${this.label}: timed out waiting for ${what}${last === undefined ? "" : ` (${last})`}; logs in ${CONSENSUS_LOG_DIR}`);
      }
      await sleep(200);
    }
  }

  /** Stops everything (CometBFT processes first, then the Switchboard nodes) and removes the homes. */
  async close(): Promise<void> {
    const stop = async (p: Proc): Promise<void> => {
      p.stopping = true;
      if (p.proc.exitCode !== null || p.proc.signalCode !== null) return;
      const exited = new Promise<void>((r) => p.proc.once("exit", () => r()));
      p.proc.kill("SIGTERM");
      const timer = setTimeout(() => p.proc.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    };
    await Promise.all(this.procs.filter((p) => !p.name.endsWith(" switchboard")).map(stop));
    await Promise.all(this.procs.map(stop));
    if (process.env["BENCH_KEEP_HOMES"] === undefined) rmSync(this.dir, { recursive: true, force: true });
  }
}

/** True when something accepts connections at a `tcp://127.0.0.1:PORT` or `unix://PATH` address. */
function listening(laddr: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = laddr.startsWith("unix://") ? connect({ path: laddr.slice("unix://".length) }) : connect(Number(laddr.slice(laddr.lastIndexOf(":") + 1)), "127.0.0.1");
    s.setTimeout(1_000, () => {
      s.destroy();
      resolve(false);
    });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}
