import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CliUsageError, parseCommandArgs } from "../../src/cli/args.js";
import { DIAL_ARGS, START_ARGS, STOP_PEER_ARGS } from "../../src/cli/commands.js";
import { formatBytes, formatNetInfo, formatPeers, formatUptime, type NodeClient, type NodePeer } from "../../src/cli/node-client.js";
import { cliDone } from "./run-cli.js";

const ID = "0b14a087357f7ba164bed9f4d5a15d249341b273";

describe("config flags", () => {
  it("take CometBFT's spelling, with = or a space", () => {
    const a = parseCommandArgs(["--home", "/h", "--p2p.laddr=tcp://0.0.0.0:1", "--p2p.persistent_peers", `${ID}@1.2.3.4:5`, "--moniker", "m", "--log_level=debug"], START_ARGS);
    expect(a.options).toEqual({ home: "/h" });
    expect(a.config).toEqual({ "p2p.laddr": "tcp://0.0.0.0:1", "p2p.persistent_peers": `${ID}@1.2.3.4:5`, moniker: "m", log_level: "debug" });
  });

  it("accept hyphens for underscores (CometBFT's --p2p.external-address)", () => {
    expect(parseCommandArgs(["--p2p.external-address", "1.2.3.4:5", "--log-level", "warn"], START_ARGS).config).toEqual({
      "p2p.external_address": "1.2.3.4:5",
      log_level: "warn",
    });
  });

  it("booleans: alone means true, =false or a following true/false sets it", () => {
    expect(parseCommandArgs(["--p2p.pex"], START_ARGS).config).toEqual({ "p2p.pex": "true" });
    expect(parseCommandArgs(["--p2p.pex=false"], START_ARGS).config).toEqual({ "p2p.pex": "false" });
    expect(parseCommandArgs(["--instrumentation.prometheus", "false", "--p2p.allow_duplicate_ip"], START_ARGS).config).toEqual({
      "instrumentation.prometheus": "false",
      "p2p.allow_duplicate_ip": "true",
    });
  });

  it("--network stands for --node.network; the last occurrence wins", () => {
    expect(parseCommandArgs(["--network", "a", "--network=b"], START_ARGS).config).toEqual({ "node.network": "b" });
  });

  it("an unknown flag is named, with the closest known one", () => {
    expect(() => parseCommandArgs(["--p2p.ladr", "x"], START_ARGS)).toThrow(new CliUsageError("switchboard start: unknown flag --p2p.ladr (did you mean --p2p.laddr?); see switchboard start --help"));
    expect(() => parseCommandArgs(["--p2p.laddr"], START_ARGS)).toThrow("switchboard start: flag --p2p.laddr needs a value");
    expect(() => parseCommandArgs(["extra"], START_ARGS)).toThrow('switchboard start: unexpected argument "extra"');
  });
});

describe("commands on a running node: arguments", () => {
  it("dial takes exactly one ID@HOST:PORT", () => {
    expect(parseCommandArgs([`${ID}@1.2.3.4:26656`, "--grpc", "127.0.0.1:1"], DIAL_ARGS)).toEqual({
      options: { grpc: "127.0.0.1:1" },
      config: {},
      positionals: [`${ID}@1.2.3.4:26656`],
    });
    expect(() => parseCommandArgs([], DIAL_ARGS)).toThrow("switchboard dial: missing ID@HOST:PORT; usage: switchboard dial ID@HOST:PORT");
    expect(() => parseCommandArgs(["a", "b"], DIAL_ARGS)).toThrow('unexpected argument "b"');
    expect(() => parseCommandArgs(["x", "--p2p.laddr", "y"], DIAL_ARGS)).toThrow(/unknown flag --p2p\.laddr/);
  });

  it("stop-peer takes a peer ID and an optional reason", () => {
    expect(parseCommandArgs([ID, "--reason", "spam"], STOP_PEER_ARGS).options).toEqual({ reason: "spam" });
  });

  it("a bad address or ID is refused before the node is contacted", async () => {
    let contacted = false;
    const nodeClient = (): NodeClient => {
      contacted = true;
      throw new Error("must not be called");
    };
    const dial = await cliDone(["dial", "1.2.3.4:26656", "--grpc", "127.0.0.1:1"], {}, { nodeClient });
    expect(dial.code).toBe(1);
    expect(dial.stderr).toBe('error: switchboard dial: invalid peer address "1.2.3.4:26656": missing node ID (expected ID@HOST:PORT)');
    const stop = await cliDone(["stop-peer", "xyz", "--grpc", "127.0.0.1:1"], {}, { nodeClient });
    expect(stop.code).toBe(1);
    expect(stop.stderr).toBe('error: switchboard stop-peer: "xyz" is not a node ID (40 hex characters)');
    const grpc = await cliDone(["peers", "--grpc", "nowhere"], {}, { nodeClient });
    expect(grpc.code).toBe(1);
    expect(grpc.stderr).toContain('error: switchboard peers: --grpc: expected HOST:PORT or unix:///PATH, got "nowhere"');
    expect(contacted).toBe(false);
  });

  it("without a NodeService client, say so plainly", async () => {
    for (const argv of [["net-info"], ["peers"], ["dial", `${ID}@1.2.3.4:26656`], ["stop-peer", ID]]) {
      const r = await cliDone([...argv, "--grpc", "127.0.0.1:26670"]);
      expect(r.code, argv[0]).toBe(1);
      expect(r.stderr, argv[0]).toBe(
        `error: switchboard ${argv[0]}: cannot query the node at 127.0.0.1:26670: the gRPC NodeService client is not available in this build yet`,
      );
    }
  });
});

const PEER: NodePeer = {
  peerId: ID,
  connectionId: "0b14a087#1",
  outbound: true,
  persistent: true,
  unconditional: false,
  remoteAddress: "10.0.0.2:26656",
  socketAddress: `${ID}@10.0.0.2:26656`,
  moniker: "bob",
  bytesSent: 2048,
  bytesReceived: 10,
  sendRateBytesPerSecond: 0,
  recvRateBytesPerSecond: 0,
  durationSeconds: 125,
};

function fakeClient(calls: string[]): NodeClient {
  return {
    netInfo: () => Promise.resolve({ listening: true, listeners: ["tcp://0.0.0.0:26656"], nPeers: 1, peers: [PEER] }),
    peers: () => Promise.resolve([PEER]),
    dial: (address) => {
      calls.push(`dial ${address}`);
      return Promise.resolve(address.startsWith("ab") ? { address, connected: false, error: "dial tcp: connection refused" } : { address, connected: true, error: "" });
    },
    stopPeer: (id, reason) => {
      calls.push(`stop ${id} ${reason ?? "-"}`);
      return Promise.resolve();
    },
    close: () => {
      calls.push("close");
    },
  };
}

describe("commands on a running node: output", () => {
  it("net-info and peers print a table, or JSON", async () => {
    const calls: string[] = [];
    const targets: string[] = [];
    const nodeClient = (t: string): NodeClient => {
      targets.push(t);
      return fakeClient(calls);
    };
    const info = await cliDone(["net-info", "--grpc", "tcp://127.0.0.1:9"], {}, { nodeClient });
    expect(info.code).toBe(0);
    expect(info.stdout).toBe(formatNetInfo({ listening: true, listeners: ["tcp://0.0.0.0:26656"], nPeers: 1, peers: [PEER] }));
    expect(info.stdout).toContain("listeners: tcp://0.0.0.0:26656");
    const peers = await cliDone(["peers", "--grpc", "unix:///run/sb.sock"], {}, { nodeClient });
    expect(peers.stdout.split("\n")[0]).toMatch(/^PEER ID\s+DIR\s+ADDRESS\s+UP\s+SENT\s+RECEIVED\s+FLAGS\s+MONIKER$/);
    expect(peers.stdout.split("\n")[1]).toMatch(new RegExp(`^${ID}\\s+out\\s+10\\.0\\.0\\.2:26656\\s+2m05s\\s+2\\.0 KiB\\s+10 B\\s+persistent\\s+bob$`));
    const json = await cliDone(["peers", "--json", "--grpc", "127.0.0.1:9"], {}, { nodeClient });
    expect(JSON.parse(json.stdout)).toEqual([PEER]);
    expect(targets).toEqual(["127.0.0.1:9", "unix:///run/sb.sock", "127.0.0.1:9"]);
    expect(calls.filter((c) => c === "close")).toHaveLength(3);
  });

  it("dial reports the outcome; a failed dial exits 1", async () => {
    const calls: string[] = [];
    const nodeClient = (): NodeClient => fakeClient(calls);
    const ok = await cliDone(["dial", `${ID.toUpperCase()}@1.2.3.4:26656`, "--grpc", "127.0.0.1:9"], {}, { nodeClient });
    expect(ok).toEqual({ code: 0, stdout: `connected to ${ID}@1.2.3.4:26656`, stderr: "" });
    const bad = await cliDone(["dial", `${"ab".repeat(20)}@1.2.3.4:26656`, "--grpc", "127.0.0.1:9"], {}, { nodeClient });
    expect(bad.code).toBe(1);
    expect(bad.stderr).toBe(`error: switchboard dial: ${"ab".repeat(20)}@1.2.3.4:26656: dial tcp: connection refused`);
    const stop = await cliDone(["stop-peer", ID, "--reason", "spam", "--grpc", "127.0.0.1:9"], {}, { nodeClient });
    expect(stop).toEqual({ code: 0, stdout: `stopped peer ${ID}`, stderr: "" });
    expect(calls).toEqual([`dial ${ID}@1.2.3.4:26656`, "close", `dial ${"ab".repeat(20)}@1.2.3.4:26656`, "close", `stop ${ID} spam`, "close"]);
  });

  it("finds the node through --home's grpc.laddr (every interface → loopback), and refuses a missing home", async () => {
    const home = await mkdtemp(join(tmpdir(), "sb-cli-"));
    try {
      await mkdir(join(home, "config"));
      await writeFile(join(home, "config", "config.toml"), '[grpc]\nladdr = "tcp://0.0.0.0:4567"\n');
      const targets: string[] = [];
      const nodeClient = (t: string): NodeClient => {
        targets.push(t);
        return fakeClient([]);
      };
      expect((await cliDone(["peers", "--home", home], {}, { nodeClient })).code).toBe(0);
      expect((await cliDone(["peers"], { SWITCHBOARD_HOME: home }, { nodeClient })).code).toBe(0);
      expect(targets).toEqual(["127.0.0.1:4567", "127.0.0.1:4567"]);
      const missing = await cliDone(["peers", "--home", join(home, "nope")], {}, { nodeClient });
      expect(missing.code).toBe(1);
      expect(missing.stderr).toBe(`error: switchboard peers: home directory ${join(home, "nope")} does not exist (create it with: switchboard init --home ${join(home, "nope")})`);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it("formats sizes and durations for people", () => {
    expect(formatBytes(0)).toBe("0 B");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(5 * 1024 * 1024)).toBe("5.0 MiB");
    expect(formatUptime(59)).toBe("59s");
    expect(formatUptime(3_725)).toBe("1h02m");
    expect(formatUptime(90_000)).toBe("1d01h");
    expect(formatPeers([])).toBe("no peers");
  });
});

describe("help and unknown commands", () => {
  it("prints the commands, and a command's flags", async () => {
    const help = await cliDone(["help"]);
    expect(help.code).toBe(0);
    for (const c of ["init", "start", "show-node-id", "version", "net-info", "peers", "dial", "stop-peer"]) expect(help.stdout).toContain(`  ${c} `);
    const start = await cliDone(["start", "--help"]);
    expect(start.stdout).toContain("--p2p.persistent_peers");
    expect(start.stdout).toContain("--instrumentation.prometheus_listen_addr");
    // Every flag line is one column of flags, at least two spaces, then its description, aligned for the longest flag.
    const rows = start.stdout.split("\n").filter((l) => l.startsWith("  --"));
    const starts = new Set(rows.map((l) => /^ {2}--\S+(?: [A-Z]+)? {2,}(?=\S)/.exec(l)?.[0].length));
    expect(starts.has(undefined)).toBe(false);
    expect(starts.size).toBe(1);
    const unknown = await cliDone(["strat"]);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.split("\n")[0]).toBe('switchboard: unknown command "strat"');
    expect((await cliDone([])).code).toBe(1);
  });
});
