/**
 * Interop through the reactor gateway (issue "Reactor gateway"): a real
 * CometBFT v0.38 node, a Switchboard node started with the CLI that dials it,
 * and the TypeScript example `examples/typescript/blocksync-follower.ts` as a
 * separate process attached to the Switchboard node over gRPC.
 *
 *   CometBFT (kvstore) ◀── p2p ── Switchboard (CLI) ◀── gRPC ── blocksync-follower.ts
 *
 * Checks: the follower's JSON lines for heights 1..N equal CometBFT's `/block`
 * (chain_id, height, time, num_txs); a mempool `Txs` message the follower sends
 * through the gateway (`--submit-tx`) is committed, and the follower keeps up
 * and prints the block that holds it.
 *
 * Needs the binary: `bash scripts/install-cometbft.sh` or COMETBFT_BIN. Takes ~20 s.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CometBftNode, REPO_ROOT, txHashHex } from "./support/cometbft-node.js";

const execFileAsync = promisify(execFile);
const CLI = join(REPO_ROOT, "server", "bin", "switchboard.js");
const FOLLOWER = join(REPO_ROOT, "examples", "typescript", "blocksync-follower.ts");
/** Blocks the follower must print and match against `/block`, from height 1. */
const HEIGHTS = 4;

interface BlockLine {
  height: number;
  chain_id: string;
  time: string;
  num_txs: number;
}

/** A child process whose output we keep (stdout as lines). */
class Proc {
  readonly lines: string[] = [];
  stderr = "";
  private partial = "";
  readonly exited: Promise<number | null>;
  constructor(
    readonly name: string,
    readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => child.once("exit", (code) => resolve(code)));
    child.stdout?.setEncoding("utf8").on("data", (chunk: string) => {
      const parts = (this.partial + chunk).split("\n");
      this.partial = parts.pop() ?? "";
      this.lines.push(...parts);
    });
    child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-200_000);
    });
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  tail(): string {
    return `--- ${this.name} stdout ---\n${this.lines.slice(-10).join("\n")}\n--- ${this.name} stderr ---\n${this.stderr.split("\n").slice(-25).join("\n")}`;
  }

  async stop(): Promise<void> {
    if (!this.running) return;
    this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await this.exited;
    clearTimeout(timer);
  }
}

async function until<T>(what: string, timeoutMs: number, probe: () => T | undefined | Promise<T | undefined>, procs: readonly Proc[]): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    const dead = procs.find((p) => !p.running);
    if (dead !== undefined) throw new Error(`${dead.name} exited while waiting for ${what}\n${procs.map((p) => p.tail()).join("\n")}`);
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${procs.map((p) => p.tail()).join("\n")}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describe("Switchboard reactor gateway ⇄ CometBFT v0.38, with the TypeScript blocksync follower", () => {
  const chainId = `gw-interop-${randomBytes(4).toString("hex")}`;
  const tx = `sb-gateway-${randomBytes(6).toString("hex")}=${randomBytes(4).toString("hex")}`;
  let go: CometBftNode | undefined;
  let home: string | undefined;
  let switchboard: Proc | undefined;
  let follower: Proc | undefined;

  const blocks = (): Map<number, BlockLine> => {
    const out = new Map<number, BlockLine>();
    for (const line of follower?.lines ?? []) {
      if (line.trim() === "") continue;
      const b = JSON.parse(line) as BlockLine;
      out.set(b.height, b);
    }
    return out;
  };

  beforeAll(async () => {
    go = await CometBftNode.start({ chainId, moniker: "cometbft-gateway" });
    home = await mkdtemp(join(tmpdir(), "sb-gateway-interop-"));
    await execFileAsync(process.execPath, [CLI, "init", "--home", home, "--network", chainId, "--moniker", "switchboard-gateway"]);
    switchboard = new Proc(
      "switchboard",
      spawn(
        process.execPath,
        [
          CLI,
          "start",
          "--home",
          home,
          "--node.network",
          chainId,
          "--p2p.laddr",
          "tcp://127.0.0.1:0",
          "--grpc.laddr",
          "tcp://127.0.0.1:0",
          "--grpc.reactors",
          "follower",
          "--p2p.allow_duplicate_ip",
          "true",
          "--p2p.pex",
          "false",
          "--p2p.persistent_peers",
          go.p2pAddress,
          "--log_format",
          "json",
        ],
        { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
      ),
    );
    // The gateway listens (and logs its address) before the node waits for its reactors.
    const grpc = await until(
      "the gateway to listen",
      15_000,
      () => /"addr":"([^"]+)","msg":"gateway listening"/.exec(switchboard?.stderr ?? "")?.[1],
      [switchboard],
    );
    follower = new Proc(
      "follower",
      spawn(process.execPath, ["--import", "tsx", FOLLOWER, "--grpc", grpc, "--name", "follower", "--submit-tx", tx], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] }),
    );
  }, 90_000);

  afterAll(async () => {
    await follower?.stop();
    await switchboard?.stop();
    await go?.stop();
    if (home !== undefined) await rm(home, { recursive: true, force: true });
  }, 30_000);

  it(`prints heights 1..${HEIGHTS} exactly as CometBFT's /block has them (chain_id, height, time, num_txs)`, async () => {
    const node = go!;
    const procs = [switchboard!, follower!];
    await until(`the follower to print heights 1..${HEIGHTS}`, 30_000, () => (blocks().size >= HEIGHTS ? true : undefined), procs);
    const printed = blocks();
    // In order, from 1, with no gap.
    const heights = follower!.lines.filter((l) => l.trim() !== "").map((l) => (JSON.parse(l) as BlockLine).height);
    expect(heights.slice(0, HEIGHTS)).toEqual(Array.from({ length: HEIGHTS }, (_, i) => i + 1));
    for (let h = 1; h <= HEIGHTS; h++) {
      const rpc = await node.block(h);
      expect(printed.get(h), `height ${h}`).toEqual({
        height: Number(rpc.block.header.height),
        chain_id: rpc.block.header.chain_id,
        time: rpc.block.header.time,
        num_txs: (rpc.block.data.txs ?? []).length,
      });
      expect(printed.get(h)?.chain_id).toBe(chainId);
    }
  });

  it("a mempool Txs message sent through the gateway is committed, and the follower prints its block", async () => {
    const node = go!;
    const procs = [switchboard!, follower!];
    await until("the follower to submit the tx", 10_000, () => (/"event":"tx_submitted"[^\n]*"queued":true/.test(follower!.stderr) ? true : undefined), procs);
    const committed = await node.waitForTx(txHashHex(tx), 30_000);
    expect(committed.tx_result.code).toBe(0);
    expect(Buffer.from(committed.tx, "base64").toString("utf8")).toBe(tx);
    const height = Number(committed.height);
    // The follower keeps up with new blocks: it prints the one that holds the tx.
    const line = await until(`the follower to print height ${height}`, 15_000, () => blocks().get(height), procs);
    const rpc = await node.block(height);
    expect(line).toEqual({ height, chain_id: chainId, time: rpc.block.header.time, num_txs: (rpc.block.data.txs ?? []).length });
    expect(line.num_txs).toBeGreaterThanOrEqual(1);
  });
});
