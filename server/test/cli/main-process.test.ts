/**
 * The real executable entry (server/src/main.ts) as a child process: exit
 * codes, what reaches the terminal, and signals.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { type AddressInfo, type Server, createServer } from "node:net";
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
    // The default log format: plain text, one line per record, no colours (standard error is a pipe here).
    expect(logs).not.toContain("\u001b[");
    expect(logs).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] INFO: switch: switch stopped$/m);
    expect(logs).toMatch(/^\[\d{4}-\d\d-\d\dT[\d:.]+Z\] INFO: node: node stopped$/m);
    expect(logs.indexOf("switch: switch stopped")).toBeLessThan(logs.indexOf("node: node stopped"));
  });

  it("--log_format json (or SWITCHBOARD_LOG_FORMAT=json) writes one JSON object per log line", async () => {
    const home = join(dir, "node");
    expect((await cliDone(["init", "--home", home])).code).toBe(0);
    for (const [args, env] of [
      [["--log_format", "json"], {}],
      [[], { SWITCHBOARD_LOG_FORMAT: "json" }],
    ] as const) {
      const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0", ...args], env);
      await proc.waitForStdout("Switchboard node started");
      proc.kill("SIGTERM");
      expect(await proc.code).toBe(0);
      const lines = proc
        .stderr()
        .split("\n")
        .filter((l) => l.startsWith("{"));
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(records.map((r) => r["msg"])).toEqual(expect.arrayContaining(["switch started", "gateway listening", "node started", "switch stopped", "node stopped"]));
      expect(records.find((r) => r["msg"] === "gateway listening")).toMatchObject({ level: "info", module: "gateway", addr: expect.stringMatching(/^127\.0\.0\.1:\d+$/) as string });
    }
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

  describe("a gateway address that is taken", () => {
    const listening = async (at: string | number): Promise<Server> => {
      const srv = createServer();
      await new Promise<void>((resolve) => (typeof at === "number" ? srv.listen(at, "127.0.0.1", resolve) : srv.listen(at, resolve)));
      return srv;
    };

    it("a busy TCP port: one line naming grpc.laddr and what to do, no stack", async () => {
      const home = join(dir, "node");
      expect((await cliDone(["init", "--home", home])).code).toBe(0);
      const srv = await listening(0);
      const port = (srv.address() as AddressInfo).port;
      try {
        const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", `tcp://127.0.0.1:${port}`]);
        expect(await proc.code).toBe(1);
        expect(proc.stderr()).toBe(
          `error: switchboard start: cannot listen on grpc.laddr tcp://127.0.0.1:${port}: address already in use (is another node running? choose another port with --grpc.laddr)\n`,
        );
      } finally {
        srv.close();
      }
    });

    it("a Unix socket another process serves: one line naming the socket", async () => {
      const home = join(dir, "node");
      expect((await cliDone(["init", "--home", home])).code).toBe(0);
      const path = join(dir, "gw.sock");
      const srv = await listening(path);
      try {
        const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", `unix://${path}`]);
        expect(await proc.code).toBe(1);
        expect(proc.stderr()).toBe(
          `error: switchboard start: cannot listen on grpc.laddr unix://${path}: another process is listening on this socket (is another node running with this home?)\n`,
        );
      } finally {
        srv.close();
      }
    });

    it("a stale Unix socket left by a killed process is removed and the node starts", async () => {
      const home = join(dir, "node");
      expect((await cliDone(["init", "--home", home])).code).toBe(0);
      const path = join(dir, "gw.sock");
      // A process that listens on the socket, killed with SIGKILL: the socket file stays.
      const holder = spawn(process.execPath, ["-e", `require("node:net").createServer().listen(${JSON.stringify(path)}); setInterval(() => {}, 1000);`], { stdio: "ignore" });
      for (let i = 0; i < 200 && !existsSync(path); i++) await new Promise((r) => setTimeout(r, 25));
      holder.kill("SIGKILL");
      await new Promise((r) => holder.once("exit", r));
      expect(existsSync(path)).toBe(true);
      const proc = child(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", `unix://${path}`]);
      await proc.waitForStdout("Switchboard node started");
      expect(proc.stderr()).toMatch(/WARN: gateway: removing a stale gateway socket left by a stopped node \{"path":/);
      proc.kill("SIGTERM");
      expect(await proc.code).toBe(0);
    });
  });
});
