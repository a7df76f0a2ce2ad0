/**
 * Real Switchboard daemons for the gateway scenario: `switchboard init` once
 * per home, then `switchboard start` with the bench settings as flags. They
 * run the tree's server/src as compiled by {@link buildOurs} (bench/dist/),
 * so that what is measured is the code in the tree, whatever server/dist holds.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { connect, createServer } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { COMPILED_MAIN as MAIN } from "./build.js";
import type { BenchSettings } from "./settings.js";

const run = promisify(execFile);
export const SCRATCH_DIR = fileURLToPath(new URL("../.tmp/", import.meta.url));

/** A free TCP port on 127.0.0.1 (the gateway's, which must be known before the node prints anything). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Resolves once something accepts TCP connections on 127.0.0.1:`port`. */
async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** `switchboard init` into bench/.tmp/NAME unless it is initialised already. */
export async function initHome(name: string): Promise<string> {
  const home = join(SCRATCH_DIR, name);
  if (existsSync(join(home, "config", "config.toml"))) return home;
  mkdirSync(home, { recursive: true });
  await run(process.execPath, [MAIN, "init", "--home", home, "--network", "bench", "--moniker", name]);
  return home;
}

export interface Daemon {
  readonly pid: number;
  readonly grpc: string;
  /** `ID@127.0.0.1:PORT`, once the node has started (after its reactors registered). */
  readonly p2pAddress: Promise<string>;
  stop(): Promise<void>;
}

/** Starts a node that waits for the remote reactor `reactor` before it starts its Switch. */
export async function startDaemon(home: string, reactor: string, s: BenchSettings): Promise<Daemon> {
  const grpcPort = await freePort();
  const extra = (process.env["BENCH_CHILD_NODE_OPTIONS"] ?? "").split(" ").filter((x) => x !== "");
  const args = [
    ...extra,
    MAIN,
    "start",
    "--home",
    home,
    "--log_level",
    "error",
    "--p2p.laddr",
    "tcp://127.0.0.1:0",
    "--p2p.pex",
    "false",
    "--p2p.allow_duplicate_ip",
    "true",
    "--p2p.send_rate",
    String(s.rateBytesPerSecond),
    "--p2p.recv_rate",
    String(s.rateBytesPerSecond),
    "--p2p.flush_throttle_timeout",
    `${s.flushThrottleMs}ms`,
    "--p2p.max_packet_msg_payload_size",
    String(s.maxPacketMsgPayloadBytes),
    "--grpc.laddr",
    `tcp://127.0.0.1:${grpcPort}`,
    "--grpc.reactors",
    reactor,
  ];
  const proc: ChildProcess = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  // Kept, and shown only if the node dies on its own (its stop banner is noise otherwise).
  let stderr = "";
  let stopping = false;
  proc.stderr?.setEncoding("utf8");
  proc.stderr?.on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-16_384);
  });
  proc.once("exit", (code, signal) => {
    if (!stopping) process.stderr.write(`switchboard start (${home}) exited on its own (${code ?? signal ?? "?"}):\n${stderr}\n`);
  });
  const p2pAddress = new Promise<string>((resolve, reject) => {
    let out = "";
    proc.stdout?.setEncoding("utf8");
    proc.stdout?.on("data", (chunk: string) => {
      out += chunk;
      const m = /peers dial (\S+@\S+)\)/.exec(out);
      if (m?.[1] !== undefined) resolve(m[1]);
    });
    proc.once("exit", (code) => {
      reject(new Error(`switchboard start exited with ${code ?? "a signal"} before it printed its address`));
    });
  });
  // The address only comes once the reactor attached; callers await it after that.
  p2pAddress.catch(() => undefined);
  const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
  try {
    await waitForPort(grpcPort, 30_000);
  } catch (err) {
    proc.kill("SIGKILL");
    throw err;
  }
  return {
    pid: proc.pid ?? -1,
    grpc: `127.0.0.1:${grpcPort}`,
    p2pAddress,
    async stop() {
      stopping = true;
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill("SIGTERM");
      const timer = setTimeout(() => proc.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
