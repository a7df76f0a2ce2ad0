/**
 * Real Switchboard nodes for the conformance suite, started with the built CLI
 * (`node server/bin/switchboard.js`) as child processes — the SDK talks to
 * them only over gRPC, as any user would (the client never imports the server).
 *
 * Ports: p2p and gRPC listen on 127.0.0.1:0; the gRPC address comes from the
 * "gateway listening" log line (the gateway listens before the node waits for
 * its reactors), the p2p address from the start banner (printed once every
 * reactor in --grpc.reactors registered and the Switch started).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type AddressInfo, type Server, type Socket, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
export const CLI = join(REPO_ROOT, "server", "bin", "switchboard.js");

const live = new Set<SwitchboardNode>();
/** Every home created, removed by {@link destroyAllNodes} even when its node failed to start. */
const homes = new Set<string>();
let hookInstalled = false;

/** Stops every node this module started (SIGTERM, then SIGKILL) and removes every home it created. */
export async function destroyAllNodes(): Promise<void> {
  await Promise.all([...live].map((n) => n.stop()));
  await Promise.all([...homes].map((h) => rm(h, { recursive: true, force: true })));
  homes.clear();
}

export interface StartOptions {
  readonly moniker: string;
  readonly network: string;
  /** --grpc.reactors */
  readonly reactors: readonly string[];
  /** More `--flag value` pairs. */
  readonly flags?: readonly string[];
}

export class SwitchboardNode {
  private stdout = "";
  private stderr = "";
  private exitCode: number | null | undefined;
  private readonly exited: Promise<number | null>;
  private grpcResolve: ((addr: string) => void) | undefined;
  private p2pResolve: ((addr: string) => void) | undefined;
  /** host:port of the gateway, known once it listens. */
  readonly grpc: Promise<string>;
  /** id@127.0.0.1:port, known once the node started (its reactors registered). */
  readonly started: Promise<string>;

  private constructor(
    readonly moniker: string,
    readonly home: string,
    readonly nodeId: string,
    private readonly child: ChildProcess,
  ) {
    this.grpc = new Promise((resolve) => (this.grpcResolve = resolve));
    this.started = new Promise((resolve) => (this.p2pResolve = resolve));
    this.exited = new Promise((resolve) => {
      child.once("exit", (code) => {
        this.exitCode = code;
        live.delete(this);
        resolve(code);
      });
    });
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stdout += chunk;
      const m = /peers dial (\S+@\S+)\)/.exec(this.stdout);
      if (m?.[1] !== undefined) this.p2pResolve?.(m[1]);
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr += chunk;
      if (this.stderr.length > 1_000_000) this.stderr = this.stderr.slice(-500_000);
      for (const line of chunk.split("\n")) {
        if (!line.includes("gateway listening")) continue;
        try {
          const addr = (JSON.parse(line) as { addr?: unknown }).addr;
          if (typeof addr === "string") this.grpcResolve?.(addr);
        } catch {
          // a partial line: the next chunk completes it
        }
      }
    });
  }

  /** `init` a fresh home, then `start` the node. Resolves once the gateway listens. */
  static async start(o: StartOptions): Promise<SwitchboardNode> {
    const home = await mkdtemp(join(tmpdir(), `sb-client-${o.moniker}-`));
    homes.add(home);
    const { stdout } = await execFileAsync(process.execPath, [CLI, "init", "--home", home, "--network", o.network, "--moniker", o.moniker]);
    const nodeId = /node ID: ([0-9a-f]{40})/.exec(stdout)?.[1];
    if (nodeId === undefined) throw new Error(`init printed no node ID: ${stdout}`);
    const args = [
      CLI,
      "start",
      "--home",
      home,
      "--p2p.laddr",
      "tcp://127.0.0.1:0",
      "--grpc.laddr",
      "tcp://127.0.0.1:0",
      "--grpc.reactors",
      o.reactors.join(","),
      "--p2p.allow_duplicate_ip",
      "true",
      "--p2p.pex",
      "false",
      // The "gateway listening" line is read as JSON (the default format is plain text).
      "--log_format",
      "json",
      ...(o.flags ?? []),
    ];
    const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    const node = new SwitchboardNode(o.moniker, home, nodeId, child);
    live.add(node);
    if (!hookInstalled) {
      hookInstalled = true;
      process.on("exit", () => {
        for (const n of live) n.child.kill("SIGKILL");
      });
    }
    const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${o.moniker}: gateway not listening after 15 s\n${node.logTail()}`)), 15_000).unref());
    const exited = node.exited.then((code) => {
      throw new Error(`${o.moniker} exited (${code}) before its gateway listened\n${node.logTail()}`);
    });
    try {
      await Promise.race([node.grpc, timeout, exited]);
    } catch (err) {
      await node.destroy();
      throw err;
    }
    return node;
  }

  get running(): boolean {
    return this.exitCode === undefined;
  }

  /** The last lines of stderr (the JSON log) and stdout, for failure messages. */
  logTail(lines = 30): string {
    return `--- ${this.moniker} stdout ---\n${this.stdout.split("\n").slice(-10).join("\n")}\n--- ${this.moniker} stderr ---\n${this.stderr.split("\n").slice(-lines).join("\n")}`;
  }

  /** SIGTERM (graceful), then SIGKILL after `timeoutMs`; resolves with the exit code. */
  async stop(timeoutMs = 5_000): Promise<number | null> {
    if (this.running) {
      this.child.kill("SIGTERM");
      const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
      await this.exited;
      clearTimeout(timer);
    }
    return this.exitCode ?? null;
  }

  /** Stops the process and removes its home. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.home, { recursive: true, force: true });
    homes.delete(this.home);
  }
}

/**
 * A TCP proxy between the SDK and a node's gRPC port, so that a test can cut
 * the stream without touching the node, or refuse connections for a while.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private blockedUntilMs = 0;
  private readonly server: Server;

  private constructor(
    private readonly host: string,
    private readonly port: number,
  ) {
    this.server = createServer((down) => this.accept(down));
  }

  /** host:port to give the SDK instead of the node's. */
  get address(): string {
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  static async start(target: string): Promise<TcpProxy> {
    const i = target.lastIndexOf(":");
    const proxy = new TcpProxy(target.slice(0, i), Number(target.slice(i + 1)));
    await new Promise<void>((resolve) => proxy.server.listen(0, "127.0.0.1", resolve));
    return proxy;
  }

  private accept(down: Socket): void {
    if (Date.now() < this.blockedUntilMs) {
      down.destroy();
      return;
    }
    const up = connect(this.port, this.host);
    this.sockets.add(down);
    this.sockets.add(up);
    const close = (): void => {
      down.destroy();
      up.destroy();
      this.sockets.delete(down);
      this.sockets.delete(up);
    };
    down.on("error", close).on("close", close);
    up.on("error", close).on("close", close);
    down.pipe(up);
    up.pipe(down);
  }

  /** Cuts every open connection (both sides see the socket close). */
  cut(): void {
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
  }

  /** Cuts every connection and refuses new ones for `ms`. */
  block(ms: number): void {
    this.blockedUntilMs = Date.now() + ms;
    this.cut();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
