/**
 * The operator path end to end: nodes started through the CLI with the real
 * gateway, queried and steered with `net-info`, `peers`, `dial` and
 * `stop-peer` over the gRPC NodeService.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { grpcNodeClient } from "../../src/cli/grpc-node-client.js";
import { createNodeGateway } from "../../src/gateway/node-gateway.js";
import { cli, cliDone, type CliRun } from "./run-cli.js";

let dir: string;
const running: CliRun[] = [];
const extra = { gateway: createNodeGateway, nodeClient: grpcNodeClient };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "sb-nodesvc-"));
});
afterEach(async () => {
  for (const r of running.splice(0)) {
    r.abort();
    await r.code;
  }
  await rm(dir, { recursive: true, force: true });
});

async function startNode(name: string) {
  const home = join(dir, name);
  expect((await cliDone(["init", "--home", home, "--network", "svc-test", "--moniker", name])).code).toBe(0);
  const r = cli(["start", "--home", home, "--p2p.laddr", "tcp://127.0.0.1:0", "--grpc.laddr", "tcp://127.0.0.1:0", "--p2p.allow_duplicate_ip", "true", "--p2p.pex", "false"], {}, extra);
  running.push(r);
  const node = await r.started;
  return { node, grpc: node.gatewayAddress()! };
}

describe("CLI over the NodeService", () => {
  it("dial, net-info (CometBFT's /net_info shape), peers and stop-peer", async () => {
    const a = await startNode("alice");
    const b = await startNode("bob");
    const dial = await cliDone(["dial", b.node.p2pAddress()!, "--grpc", a.grpc], {}, extra);
    expect(dial.code, dial.stderr).toBe(0);
    expect(dial.stdout).toContain(`connected to ${b.node.p2pAddress()!}`);

    const info = await cliDone(["net-info", "--json", "--grpc", a.grpc], {}, extra);
    expect(info.code, info.stderr).toBe(0);
    const json = JSON.parse(info.stdout) as {
      listening: boolean;
      n_peers: string;
      peers: { node_info: { id: string; moniker: string; network: string; protocol_version: { block: string } }; is_outbound: boolean; remote_ip: string }[];
    };
    expect(json.listening).toBe(true);
    expect(json.n_peers).toBe("1");
    expect(json.peers[0]?.node_info).toMatchObject({ id: b.node.nodeKey.id, moniker: "bob", network: "svc-test", protocol_version: { block: "11" } });
    expect(json.peers[0]?.is_outbound).toBe(true);
    expect(json.peers[0]?.remote_ip).toBe("127.0.0.1");

    const peers = await cliDone(["peers", "--grpc", b.grpc], {}, extra);
    expect(peers.code, peers.stderr).toBe(0);
    expect(peers.stdout).toContain(a.node.nodeKey.id);

    const stop = await cliDone(["stop-peer", b.node.nodeKey.id, "--grpc", a.grpc], {}, extra);
    expect(stop.code, stop.stderr).toBe(0);
    await vi.waitFor(() => {
      expect(b.node.switch.peers().size).toBe(0);
    }, 5000);
  });

  it("names the problem when the peer is unknown or the node is not there", async () => {
    const a = await startNode("alice");
    const unknown = await cliDone(["stop-peer", "ab".repeat(20), "--grpc", a.grpc], {}, extra);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no connected peer abab/);
    const away = await cliDone(["net-info", "--grpc", "127.0.0.1:1"], {}, extra);
    expect(away.code).toBe(1);
    expect(away.stderr).toMatch(/cannot reach the node at 127.0.0.1:1/);
  });
});
