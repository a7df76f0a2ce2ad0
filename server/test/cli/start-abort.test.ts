/** A signal while the node waits for its reactors ends `start` cleanly, with exit code 0. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { createNodeGateway } from "../../src/gateway/node-gateway.js";
import { cli, cliDone } from "./run-cli.js";

it("the first signal stops a node that is still waiting for its reactors", async () => {
  const dir = await mkdtemp(join(tmpdir(), "sb-abort-"));
  try {
    const home = join(dir, "n");
    expect((await cliDone(["init", "--home", home])).code).toBe(0);
    const run = cli(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0", "--grpc.reactors", "never"], {}, { gateway: createNodeGateway });
    await new Promise((r) => setTimeout(r, 300));
    run.abort();
    expect(await run.code).toBe(0);
    expect(run.stdout.join("\n")).toMatch(/stopped before the node started \(stopped while waiting for reactors: never\)/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
