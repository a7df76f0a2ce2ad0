/**
 * A generic gRPC tool against a running node, with server reflection only (no
 * .proto files): grpcurl lists the services, describes each, and calls every
 * NodeService method and grpc.health.v1.Health/Check.
 *
 * Needs grpcurl: `bash scripts/install-grpcurl.sh` builds it from the Go
 * module proxy into .cache/bin (or set GRPCURL_BIN).
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { REPO_ROOT } from "./support/cometbft-node.js";

const execFileAsync = promisify(execFile);
const CLI = join(REPO_ROOT, "server", "bin", "switchboard.js");
const GRPCURL = process.env["GRPCURL_BIN"] ?? join(REPO_ROOT, ".cache", "bin", "grpcurl");

interface Node {
  readonly proc: ChildProcess;
  readonly grpc: string;
  readonly p2p: string;
  stderr: string;
}

async function startNode(home: string, moniker: string): Promise<Node> {
  await execFileAsync(process.execPath, [CLI, "init", "--home", home, "--moniker", moniker]);
  const proc = spawn(
    process.execPath,
    [CLI, "start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0", "--log_format", "json", "--p2p.allow_duplicate_ip", "true"],
    { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  proc.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const grpc = /"addr":"([^"]+)","msg":"gateway listening"/.exec(stderr)?.[1];
    const listen = /"listen":\{"host":"([^"]+)","port":(\d+)\}/.exec(stderr);
    if (grpc !== undefined && listen !== null) return { proc, grpc, p2p: `${listen[1]}:${listen[2]}`, stderr };
    if (proc.exitCode !== null || Date.now() > deadline) throw new Error(`node ${moniker} did not start:\n${stderr}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** `grpcurl -plaintext [-d BODY] TARGET ...verb`. */
async function grpcurl(target: string, verb: readonly string[], body?: unknown): Promise<string> {
  const args = ["-plaintext", ...(body === undefined ? [] : ["-d", JSON.stringify(body)]), target, ...verb];
  try {
    const { stdout } = await execFileAsync(GRPCURL, args, { timeout: 20_000 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`grpcurl ${args.join(" ")}: ${e.stderr ?? e.message}`, { cause: err });
  }
}

describe("grpcurl with server reflection only", () => {
  let dir: string;
  let a: Node;
  let b: Node;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sb-grpcurl-"));
    [a, b] = await Promise.all([startNode(join(dir, "a"), "a"), startNode(join(dir, "b"), "b")]);
  }, 60_000);

  afterAll(async () => {
    // Stop the nodes and wait for them: a stopping node still writes its address book into the home.
    await Promise.all(
      ([a, b] as (Node | undefined)[]).map(async (n) => {
        if (n === undefined || n.proc.exitCode !== null || n.proc.signalCode !== null) return;
        const exited = new Promise((resolve) => n.proc.once("exit", resolve));
        n.proc.kill("SIGTERM");
        await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
        n.proc.kill("SIGKILL");
      }),
    );
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }, 30_000);

  it("lists and describes every service", async () => {
    const services = (await grpcurl(a.grpc, ["list"])).trim().split("\n").sort();
    expect(services.filter((s) => !s.startsWith("grpc.reflection."))).toEqual(["grpc.health.v1.Health", "switchboard.gateway.v1.NodeService", "switchboard.gateway.v1.ReactorGatewayService"]);
    for (const service of services) {
      const text = await grpcurl(a.grpc, ["describe", service]);
      expect(text).toContain(`${service} is a service:`);
    }
    // Every message the services use is described too: the one with `reserved 3;` and the health map.
    expect(await grpcurl(a.grpc, ["describe", "switchboard.gateway.v1.CommandResult"])).toContain("reserved 3;");
    expect(await grpcurl(a.grpc, ["describe", "grpc.health.v1.HealthListResponse"])).toContain("map<string, .grpc.health.v1.HealthCheckResponse> statuses = 1;");
  });

  it("calls every NodeService method and Health/Check", async () => {
    const info = JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/GetNodeInfo"])) as { node_info: { node_id: string } };
    expect(info.node_info.node_id).toMatch(/^[0-9a-f]{40}$/);
    const bInfo = JSON.parse(await grpcurl(b.grpc, ["switchboard.gateway.v1.NodeService/GetNodeInfo"])) as { node_info: { node_id: string } };

    const dial = JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/DialPeers"], { addresses: [`${bInfo.node_info.node_id}@${b.p2p}`] })) as {
      outcomes?: { address: string; error?: string }[];
    };
    expect(dial.outcomes?.[0]?.error ?? "").toBe("");

    const peers = JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/ListPeers"])) as { peers?: { peer?: { peer_id?: string } }[] };
    expect(peers.peers?.map((p) => p.peer?.peer_id)).toEqual([bInfo.node_info.node_id]);
    const net = JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/GetNetInfo"])) as { n_peers?: number };
    expect(net.n_peers).toBe(1);

    expect(JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/StopPeer"], { peer_id: bInfo.node_info.node_id }))).toEqual({});
    const after = JSON.parse(await grpcurl(a.grpc, ["switchboard.gateway.v1.NodeService/ListPeers"])) as { peers?: unknown[] };
    expect(after.peers ?? []).toEqual([]);

    expect(JSON.parse(await grpcurl(a.grpc, ["grpc.health.v1.Health/Check"]))).toEqual({ status: "SERVING" });
  });
});
