// Checks the harness itself against a real CometBFT v0.38 node (no Switchboard code involved).
// Needs the binary: `bash scripts/install-cometbft.sh` or COMETBFT_BIN.
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import {
  CometBftNode,
  formatGoRfc3339Nano,
  keepHome,
  parseRfc3339Nano,
  setTomlValues,
  txHashHex,
} from "./support/cometbft-node.js";

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe("setTomlValues / time helpers", () => {
  it("replaces keys per table, adds missing ones, leaves others alone", () => {
    const toml = 'moniker = "a"\n\n[rpc]\nladdr = "x"\n\n[p2p]\n# c\nladdr = "y"\npex = true\n';
    const out = setTomlValues(toml, {
      moniker: "b",
      "p2p.laddr": "tcp://127.0.0.1:1",
      "p2p.pex": false,
      "p2p.seeds": "",
      log_level: "debug",
      "new.key": 3,
    });
    expect(out).toBe(
      'log_level = "debug"\nmoniker = "b"\n\n[rpc]\nladdr = "x"\n\n[p2p]\nseeds = ""\n# c\nladdr = "tcp://127.0.0.1:1"\npex = false\n' +
        "\n[new]\nkey = 3\n",
    );
  });

  it("formats and parses Go RFC3339Nano the way the RPC prints it", () => {
    expect(formatGoRfc3339Nano({ seconds: 1_795_223_590n, nanos: 765_973_690 })).toBe("2026-11-21T01:13:10.76597369Z");
    expect(formatGoRfc3339Nano({ seconds: 0, nanos: 0 })).toBe("1970-01-01T00:00:00Z");
    expect(parseRfc3339Nano("2026-11-21T01:13:10.76597369Z")).toEqual({ seconds: 1_795_223_590n, nanos: 765_973_690 });
    expect(parseRfc3339Nano("1970-01-01T01:00:00.5+01:00")).toEqual({ seconds: 0n, nanos: 500_000_000 });
  });
});

describe("CometBFT harness against a real node", () => {
  const chainId = `harness-${randomBytes(3).toString("hex")}`;
  let node: CometBftNode | undefined;

  afterAll(async () => {
    await node?.stop();
  });

  it("starts a node that produces blocks and reports our chain ID and node ID", async () => {
    node = await CometBftNode.start({ chainId, moniker: "harness" });

    const idFromCli = execFileSync(node.binary, ["show-node-id", "--home", node.home], { encoding: "utf8" }).trim();
    expect(node.nodeId).toBe(idFromCli);
    expect(node.p2pAddress).toBe(`${idFromCli}@127.0.0.1:${node.p2pPort}`);
    expect(node.rpcUrl).toBe(`http://127.0.0.1:${node.rpcPort}`);

    const status = await node.status();
    expect(status.node_info.id).toBe(idFromCli);
    expect(status.node_info.network).toBe(chainId);
    expect(status.node_info.moniker).toBe("harness");
    expect(status.node_info.listen_addr).toBe(`tcp://127.0.0.1:${node.p2pPort}`);
    expect(status.sync_info.catching_up).toBe(false);

    const h1 = await node.latestHeight();
    expect(h1).toBeGreaterThanOrEqual(1);
    const h2 = await node.waitForHeight(h1 + 2, 20_000);
    expect(h2).toBeGreaterThanOrEqual(h1 + 2);

    const block = await node.block(h2);
    const header = block.block.header;
    expect(header.chain_id).toBe(chainId);
    expect(header.height).toBe(String(h2));
    expect(header.version.block).toBe("11");
    // The RPC's time format round-trips through protobuf Timestamp parts.
    expect(formatGoRfc3339Nano(parseRfc3339Nano(header.time))).toBe(header.time);
    const prev = await node.block(h2 - 1);
    expect(header.last_block_id.hash).toBe(prev.block_id.hash);

    const net = await node.netInfo();
    expect(net.listening).toBe(true);
    expect(net.n_peers).toBe("0");
    expect(net.peers).toEqual([]);
    expect(await node.peerIds()).toEqual([]);
  });

  it("commits a kvstore tx sent with broadcastTxSync and finds it by hash", async () => {
    expect(node).toBeDefined();
    const n = node!;
    const tx = `harness-${randomBytes(4).toString("hex")}=value`;
    const res = await n.broadcastTxSync(tx);
    expect(res.code).toBe(0);
    expect(res.hash).toBe(txHashHex(tx));

    const found = await n.waitForTx(res.hash, 20_000);
    expect(found.hash).toBe(res.hash);
    expect(found.tx_result.code).toBe(0);
    expect(Buffer.from(found.tx, "base64").toString("utf8")).toBe(tx);

    const block = await n.block(Number(found.height));
    expect(block.block.data.txs ?? []).toContain(Buffer.from(tx).toString("base64"));

    const search = await n.txSearch(`tx.hash='${res.hash}'`);
    expect(search.total_count).toBe("1");
    expect(search.txs[0]?.height).toBe(found.height);

    // kvstore CheckTx: exactly one '=' (or ':'), not first or last byte; otherwise code 2.
    expect((await n.broadcastTxSync("a=b=c")).code).toBe(2);
    expect((await n.broadcastTxSync("=novalue")).code).toBe(2);
    expect(await n.tx("00".repeat(32))).toBeUndefined();
  });

  it("stop() ends the process and removes the home, keeping the log", async () => {
    expect(node).toBeDefined();
    const n = node!;
    const pid = n.pid!;
    expect(isAlive(pid)).toBe(true);
    await n.stop();
    expect(n.running).toBe(false);
    expect(isAlive(pid)).toBe(false);
    if (!keepHome()) expect(existsSync(n.home)).toBe(false);
    expect(existsSync(n.logPath)).toBe(true);
    await n.stop(); // idempotent
  });

  it("fails with a hint when the binary is missing", async () => {
    await expect(CometBftNode.start({ binary: "/nonexistent/cometbft" })).rejects.toThrow(/install-cometbft\.sh/);
  });
});
