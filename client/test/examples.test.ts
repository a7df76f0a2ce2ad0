/**
 * The TypeScript ping-pong example as its README runs it: two nodes, the
 * example attached to each in its own process; both report round trips.
 * (The blocksync follower runs against a real CometBFT node in
 * server/test/interop/gateway-interop.test.ts.)
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { REPO_ROOT, SwitchboardNode, destroyAllNodes } from "./support/switchboard-node.js";

const children: ChildProcess[] = [];
afterAll(async () => {
  for (const c of children) c.kill("SIGKILL");
  await destroyAllNodes();
});

function runExample(grpc: string): { lines: () => Record<string, unknown>[] } {
  const child = spawn(process.execPath, ["--import", "tsx", join(REPO_ROOT, "examples/typescript/ping-pong.ts"), "--grpc", grpc, "--name", "app", "--interval-ms", "200"], {
    cwd: REPO_ROOT,
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let out = "";
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  return {
    lines: () =>
      out
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

it("ping-pong on two nodes: each side measures round trips to the other", async () => {
  const a = await SwitchboardNode.start({ moniker: "a", network: "pp", reactors: ["app"] });
  const b = await SwitchboardNode.start({ moniker: "b", network: "pp", reactors: ["app"] });
  const ea = runExample(await a.grpc);
  const eb = runExample(await b.grpc);
  const addrB = await b.started;
  await a.started;
  const dial = spawn(process.execPath, [join(REPO_ROOT, "server/bin/switchboard.js"), "dial", addrB, "--grpc", await a.grpc], { stdio: "ignore" });
  await new Promise((r) => dial.on("exit", r));
  const deadline = Date.now() + 30_000;
  const rtts = (e: ReturnType<typeof runExample>, peer: string): number =>
    e.lines().filter((l) => l["event"] === "rtt" && l["peer"] === peer).length;
  while (Date.now() < deadline && (rtts(ea, b.nodeId) < 2 || rtts(eb, a.nodeId) < 2)) await new Promise((r) => setTimeout(r, 100));
  expect(rtts(ea, b.nodeId)).toBeGreaterThanOrEqual(2);
  expect(rtts(eb, a.nodeId)).toBeGreaterThanOrEqual(2);
  const sample = ea.lines().find((l) => l["event"] === "rtt");
  expect(typeof sample?.["rtt_ms"]).toBe("number");
}, 60_000);
