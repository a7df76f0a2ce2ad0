/**
 * The real executable entry (server/src/main.ts) as a child process: exit
 * codes, what reaches the terminal, and signals.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { child, cliDone } from "./run-cli.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-main-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("switchboard (child process)", () => {
  it("SIGTERM stops a running node gracefully and exits 0", async () => {
    const home = join(dir, "node");
    expect((await cliDone(["init", "--home", home])).code).toBe(0);
    const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0"]);
    await proc.waitForStdout("Switchboard node started");
    proc.kill("SIGTERM");
    expect(await proc.code).toBe(0);
    const logs = proc.stderr();
    expect(logs).toContain("received SIGTERM: stopping");
    expect(logs).toContain('"msg":"switch stopped"');
    expect(logs).toContain('"msg":"node stopped"');
    expect(logs.indexOf('"msg":"switch stopped"')).toBeLessThan(logs.indexOf('"msg":"node stopped"'));
  });

  it("an error exits 1 with one readable line and no stack", async () => {
    const home = join(dir, "node");
    expect((await cliDone(["init", "--home", home])).code).toBe(0);
    await writeFile(join(home, "config", "node_key.json"), "garbage");
    const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0"]);
    expect(await proc.code).toBe(1);
    expect(proc.stderr()).toBe(`error: switchboard start: node key file ${join(home, "config", "node_key.json")}: not valid JSON\n`);
    expect(proc.stdout()).toBe("");
  });

  it("a bad peer address exits 1", async () => {
    const proc = child(["dial", "not-an-address"]);
    expect(await proc.code).toBe(1);
    expect(proc.stderr()).toBe('error: switchboard dial: invalid peer address "not-an-address": missing node ID (expected ID@HOST:PORT)\n');
  });
});
