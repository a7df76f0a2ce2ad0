/**
 * `switchboard start` through the real CLI entry, in-process: real listeners
 * on 127.0.0.1, stopped as SIGINT would stop them.
 */
import { createServer, type Server } from "node:net";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Switch } from "../../src/p2p/switch.js";
import type { GatewayContext, NodeGateway } from "../../src/node.js";
import { cli, cliDone, type CliRun } from "./run-cli.js";

let dir: string;
const running: CliRun[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-start-"));
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.abort();
    await r.code;
  }
  await rm(dir, { recursive: true, force: true });
});

async function initHome(name: string, ...flags: string[]): Promise<string> {
  const home = join(dir, name);
  const r = await cliDone(["init", "--home", home, "--network", "start-test", ...flags]);
  expect(r.code, r.stderr).toBe(0);
  return home;
}

function start(argv: string[], env: Record<string, string> = {}, extra: Parameters<typeof cli>[2] = {}): ReturnType<typeof cli> {
  const r = cli(["start", ...argv], env, extra);
  running.push(r);
  return r;
}

async function listeningBlocker(): Promise<{ port: number; close: () => Promise<void> }> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise((resolve) => server.close(() => {
      resolve();
    })),
  };
}

describe("switchboard start", () => {
  it("two nodes, the second given the first in --p2p.persistent_peers, see each other; a signal stops both with exit 0", async () => {
    const homeA = await initHome("a");
    const homeB = await initHome("b");
    const a = start(["--home", homeA, "--p2p.laddr", "tcp://127.0.0.1:0", "--moniker", "alice"]);
    const nodeA = await a.started;
    const addrA = nodeA.p2pAddress()!;
    expect(a.stdout[0]).toBe("Switchboard node started");
    expect(a.stdout).toContain(`  node ID   ${nodeA.nodeKey.id}`);
    expect(a.stdout.find((l) => l.startsWith("  p2p "))).toBe(`  p2p       ${nodeA.p2pListenAddress()!}  (peers dial ${addrA})`);
    expect(a.stdout.find((l) => l.startsWith("  gRPC "))).toContain("grpc.laddr tcp://127.0.0.1:26670");

    const b = start(["--home", homeB, "--p2p.laddr=tcp://127.0.0.1:0", "--p2p.persistent_peers", addrA, "--moniker", "bob"]);
    const nodeB = await b.started;
    await vi.waitFor(() => {
      expect(nodeA.switch.peers().get(nodeB.nodeKey.id)?.nodeInfo.moniker).toBe("bob");
      expect(nodeB.switch.peers().get(nodeA.nodeKey.id)?.isOutbound()).toBe(true);
    }, 15_000);
    expect(nodeB.switch.peers().get(nodeA.nodeKey.id)?.isPersistent()).toBe(true);

    b.abort();
    expect(await b.code).toBe(0);
    expect(nodeB.state).toBe("stopped");
    expect(nodeB.switch.lifecycle).toBe("stopped");
    expect(b.logs.some((l) => l.includes("INFO: node: node stopped"))).toBe(true);
    await vi.waitFor(() => {
      expect(nodeA.switch.peers().size).toBe(0);
    }, 10_000);
    a.abort();
    expect(await a.code).toBe(0);
    // PEX saved the address book on stop.
    await expect(stat(join(homeA, "config", "addrbook.json"))).resolves.toBeDefined();
  });

  it("without --home, initialises $SWITCHBOARD_HOME when it has no config (the newcomer's path)", async () => {
    const home = join(dir, "fresh");
    const r = start(["--p2p.laddr", "tcp://127.0.0.1:0"], { SWITCHBOARD_HOME: home });
    const node = await r.started;
    expect(r.stdout[0]).toBe(`initialising a new home at ${home}`);
    expect(node.home).toBe(home);
    expect(node.config.node.network).toBe("switchboard-local");
    await expect(stat(join(home, "config", "config.toml"))).resolves.toBeDefined();
    expect((await cliDone(["show-node-id", "--home", home])).stdout).toBe(node.nodeKey.id);
  });

  it("environment variables override the file, flags override both", async () => {
    const home = await initHome("env");
    const r = start(["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--p2p.max_num_outbound_peers", "3"], {
      SWITCHBOARD_MONIKER: "from-env",
      SWITCHBOARD_P2P_MAX_NUM_OUTBOUND_PEERS: "5",
      SWITCHBOARD_P2P_LADDR: "tcp://127.0.0.1:1",
    });
    const node = await r.started;
    expect(node.config.moniker).toBe("from-env");
    expect(node.config.p2p.maxNumOutboundPeers).toBe(3);
    expect(node.config.p2p.laddr.port).toBe(0);
    expect(node.switch.nodeInfo().moniker).toBe("from-env");
  });

  it("drives a gateway: started before the Switch, told when it runs, stopped after it", async () => {
    const home = await initHome("gw");
    const events: string[] = [];
    let context: GatewayContext | null = null;
    const gateway = (ctx: GatewayContext): NodeGateway => {
      context = ctx;
      let sw: Switch | null = null;
      return {
        start: (s) => {
          sw = s;
          events.push(`start(switch ${s.lifecycle})`);
          return Promise.resolve();
        },
        onSwitchStarted: () => events.push(`running(switch ${sw?.lifecycle ?? "?"})`),
        stop: () => {
          events.push(`stop(switch ${sw?.lifecycle ?? "?"})`);
          return Promise.resolve();
        },
        address: () => "127.0.0.1:7777",
      };
    };
    const r = start(["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.reactors", "mempool,blocksync", "--grpc.laddr", "unix:///tmp/sb.sock"], {}, { gateway });
    await r.started;
    expect(r.stdout.find((l) => l.startsWith("  gRPC "))).toBe("  gRPC      127.0.0.1:7777");
    expect(context!.config.reactors).toEqual(["mempool", "blocksync"]);
    expect(context!.config.listenAddress).toEqual({ kind: "unix", path: "/tmp/sb.sock" });
    r.abort();
    expect(await r.code).toBe(0);
    expect(events).toEqual(["start(switch created)", "running(switch running)", "stop(switch stopped)"]);
  });
});

describe("switchboard start: errors a person understands (exit 1, no stack)", () => {
  async function expectFailure(argv: string[], message: string | RegExp, env: Record<string, string> = {}): Promise<void> {
    const r = await cliDone(["start", ...argv], env);
    expect(r.code).toBe(1);
    if (typeof message === "string") expect(r.stderr).toBe(message);
    else expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).not.toContain("node started");
  }

  it("a bad listen address or peer address", async () => {
    const home = await initHome("bad");
    await expectFailure(
      ["--home", home, "--p2p.laddr", "nowhere"],
      'error: switchboard start: invalid configuration:\n  flag --p2p.laddr: expected an address tcp://HOST:PORT, got "nowhere" (not HOST:PORT)',
    );
    await expectFailure(["--home", home, "--p2p.persistent_peers", "1.2.3.4:26656"], /flag --p2p\.persistent_peers: expected a comma-separated list of ID@HOST:PORT, got "1\.2\.3\.4:26656" \(invalid peer address "1\.2\.3\.4:26656": missing node ID\)/);
  });

  it("a missing home, or a home without a config", async () => {
    const nope = join(dir, "nope");
    await expectFailure(["--home", nope], `error: switchboard start: home directory ${nope} does not exist (create it with: switchboard init --home ${nope})`);
    const empty = join(dir, "empty");
    await mkdir(empty);
    await expectFailure(
      ["--home", empty],
      `error: switchboard start: no config file at ${join(empty, "config", "config.toml")}: ${empty} is not an initialised home (run: switchboard init --home ${empty})`,
    );
  });

  it("the p2p port in use", async () => {
    const home = await initHome("busy");
    const blocker = await listeningBlocker();
    try {
      await expectFailure(
        ["--home", home, "--p2p.laddr", `tcp://127.0.0.1:${blocker.port}`],
        `error: switchboard start: cannot listen on p2p.laddr tcp://127.0.0.1:${blocker.port}: address already in use (is another node running?)`,
      );
    } finally {
      await blocker.close();
    }
  });

  it("the metrics port in use", async () => {
    const home = await initHome("busy-metrics");
    const blocker = await listeningBlocker();
    try {
      await expectFailure(
        ["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--instrumentation.prometheus", "--instrumentation.prometheus_listen_addr", `127.0.0.1:${blocker.port}`],
        `error: switchboard start: cannot serve metrics on instrumentation.prometheus_listen_addr 127.0.0.1:${blocker.port}: address already in use (is another node or exporter running?)`,
      );
    } finally {
      await blocker.close();
    }
  });

  it("an invalid key in the config file, or an unknown variable", async () => {
    const home = await initHome("badkey");
    const path = join(home, "config", "config.toml");
    await writeFile(path, '[p2p]\nladr = "tcp://127.0.0.1:0"\nmax_num_inbound_peers = "x"\n');
    await expectFailure(
      ["--home", home],
      `error: switchboard start: invalid configuration:\n  ${path}: p2p.ladr: unknown key (did you mean "p2p.laddr"?)\n  ${path}: p2p.max_num_inbound_peers: expected a non-negative integer, got "x"`,
    );
    await writeFile(path, "");
    await expectFailure(["--home", home], /environment variable SWITCHBOARD_P2P_PEXX: not a config key \(did you mean SWITCHBOARD_P2P_PEX\?\)/, { SWITCHBOARD_P2P_PEXX: "1" });
  });

  it("a corrupt node key file", async () => {
    const home = await initHome("corrupt");
    const keyPath = join(home, "config", "node_key.json");
    await writeFile(keyPath, '{"priv_key":{"type":"tendermint/PrivKeySecp256k1","value":"AA=="}}');
    await expectFailure(
      ["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0"],
      `error: switchboard start: node key file ${keyPath}: priv_key.type is "tendermint/PrivKeySecp256k1", only "tendermint/PrivKeyEd25519" is supported`,
    );
  });

  it("a corrupt address book", async () => {
    const home = await initHome("corrupt-book");
    const bookPath = join(home, "config", "addrbook.json");
    await writeFile(bookPath, "garbage");
    await expectFailure(["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0"], new RegExp(`^error: switchboard start: address book file ${bookPath.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")} is corrupt: not JSON`));
  });

  it("reactors to wait for, but no gateway to register them", async () => {
    const home = await initHome("nogw");
    await expectFailure(
      ["--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.reactors", "mempool"],
      "error: switchboard start: grpc.reactors lists mempool, but this build has no reactor gateway to register them; empty the list",
    );
  });
});
