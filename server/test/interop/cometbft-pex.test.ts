/**
 * PEX with real CometBFT nodes of one release line (issue 19): the line is env COMETBFT_LINE, one of
 * server/test/interop/cometbft-lines.txt; `npm run test:interop:lines` runs every line.
 *
 * Our nodes are whole Switchboard nodes built by the composition root from flags (PEX reactor, address book),
 * with default timings; CometBFT nodes run `cometbft start` with PEX on. Everything is on 127.0.0.1, so every
 * node has `addr_book_strict = false` and `allow_duplicate_ip = true`. Each scenario has its own chain (one
 * validator; the other CometBFT nodes are full nodes of its genesis; `create_empty_blocks = false`, so that idle
 * nodes cost little CPU) and its own nodes, and the scenarios run at the same time: each waits on PEX's 30 s
 * ensure-peers period at most once or twice.
 *
 * Every node is told about one node only (a persistent peer or a seed), so an address it dials or a connection it
 * gets from anyone else came through PEX.
 *
 * Needs the line's binary: `bash scripts/install-cometbft.sh --line LINE`. Takes ~40-70 s.
 * Set TEST_LOG_LEVEL=debug to see our nodes' logs.
 */
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, type ExpectStatic, it } from "vitest";
import type { SwitchboardNode } from "../../src/node.js";
import { composedNodeFixtures } from "../support/composed-node.js";
import { selectedCometBftLine } from "./support/cometbft-lines.js";
import { CometBftNode, freePorts, type TomlValue } from "./support/cometbft-node.js";
import { logTailWithoutNoise } from "./support/go-log.js";

const cometbft = selectedCometBftLine();

/** Long enough for two ensure-peers rounds (30 s apart, CometBFT's and ours) after a node starts. */
const FIND_TIMEOUT_MS = 90_000;
/** PEX's own log lines (module=pex), for the log tail printed when a scenario fails. */
const GO_LOG_LEVEL = "*:info,pex:debug";

/** The nodes of one scenario; stop() stops them all and, if the scenario failed, prints the Go nodes' log tails. */
class Scenario {
  private readonly cometNodes: CometBftNode[] = [];
  private readonly fixtures;
  private readonly chainId: string;
  private genesis: unknown;

  constructor(readonly name: string) {
    this.chainId = `pex-${name}-${randomBytes(3).toString("hex")}`;
    this.fixtures = composedNodeFixtures(this.chainId);
  }

  /**
   * A CometBFT node on the scenario's chain: the first one is the validator, the others full nodes of its genesis.
   * It knows the nodes in `persistentPeers` or `seeds`, nothing else.
   */
  async comet(
    moniker: string,
    opts: { persistentPeers?: string[]; seeds?: string[]; seedMode?: boolean; config?: Record<string, TomlValue> } = {},
  ): Promise<CometBftNode> {
    const node = await CometBftNode.start({
      binary: cometbft.binary,
      chainId: this.chainId,
      moniker: `${this.name}-${moniker}`,
      genesis: this.genesis,
      persistentPeers: opts.persistentPeers ?? [],
      waitForHeight: 0,
      configOverrides: {
        log_level: GO_LOG_LEVEL,
        "p2p.seeds": (opts.seeds ?? []).join(","),
        "p2p.seed_mode": opts.seedMode ?? false,
        "consensus.create_empty_blocks": false,
        ...opts.config,
      },
    });
    this.cometNodes.push(node);
    this.genesis ??= await node.genesis();
    return node;
  }

  /** A Switchboard node (PEX on, loopback addresses allowed), started, on a free port of 127.0.0.1. */
  async switchboard(flags: Record<string, string> = {}): Promise<SwitchboardNode & { readonly address: string }> {
    const [port] = await freePorts(1);
    const node = await this.fixtures.node({
      "p2p.laddr": `tcp://127.0.0.1:${port}`,
      "p2p.pex": "true",
      "p2p.addr_book_strict": "false",
      "p2p.allow_duplicate_ip": "true",
      ...flags,
    });
    await node.start();
    const address = node.p2pAddress();
    if (address === null) throw new Error(`${this.name}: a Switchboard node has no p2p address`);
    return Object.assign(node, { address });
  }

  async stop(failed: boolean): Promise<void> {
    if (failed) {
      for (const n of this.cometNodes) {
        console.error(`--- ${this.name}: ${n.moniker} (${n.nodeId}) log tail (${n.logPath}) ---\n${logTailWithoutNoise(n.logPath, 40)}\n--- end ---`);
      }
    }
    await this.fixtures.cleanup();
    await Promise.all(this.cometNodes.map((n) => n.stop()));
  }
}

/** Polls `check` every 250 ms until it returns true; fails with `what` after `timeoutMs`. */
async function eventually(what: string, check: () => boolean | Promise<boolean>, timeoutMs = FIND_TIMEOUT_MS): Promise<number> {
  const start = Date.now();
  for (;;) {
    if (await Promise.resolve().then(check).catch(() => false)) return Date.now() - start;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(250);
  }
}

/** The connection `node` has to `peerId`, as its /net_info shows it; undefined if none. */
async function cometPeer(node: CometBftNode, peerId: string): Promise<{ is_outbound: boolean } | undefined> {
  return (await node.netInfo()).peers.find((p) => p.node_info.id === peerId);
}

async function cometConnected(a: CometBftNode, b: CometBftNode): Promise<boolean> {
  return (await cometPeer(a, b.nodeId)) !== undefined && (await cometPeer(b, a.nodeId)) !== undefined;
}

/** A concurrent test with its own Scenario, stopped at the end (Go log tails printed if it failed). */
function scenario(name: string, title: string, body: (s: Scenario, expect: ExpectStatic) => Promise<void>): void {
  it(title, async (ctx) => {
    const s = new Scenario(name);
    let failed = true;
    try {
      await body(s, ctx.expect);
      failed = false;
    } finally {
      await s.stop(failed);
    }
  });
}

describe.concurrent(`PEX between Switchboard and CometBFT ${cometbft.version} (line ${cometbft.line}) nodes`, () => {
  scenario("relay", "two CometBFT nodes that know only a Switchboard node find each other through it", async (s, expect) => {
    const sb = await s.switchboard();
    const c1 = await s.comet("c1", { persistentPeers: [sb.address] });
    // Our node keeps the address an inbound CometBFT node announces, as CometBFT's PEX does.
    await eventually("the Switchboard node to hold c1's address", () => sb.addressBook?.get(c1.nodeId) !== undefined);
    expect(sb.addressBook?.get(c1.nodeId)?.addr).toEqual({ id: c1.nodeId, host: "127.0.0.1", port: c1.p2pPort });
    const c2 = await s.comet("c2", { persistentPeers: [sb.address] });

    const tookMs = await eventually("c1 and c2 to connect to each other", () => cometConnected(c1, c2));
    console.info(`[pex ${cometbft.line}] relay: c1 and c2 connected ${tookMs} ms after c2 started its search`);
    const [c1Side, c2Side] = [await cometPeer(c1, c2.nodeId), await cometPeer(c2, c1.nodeId)];
    // One of them dialed the other, with an address only our node could have given it.
    expect([c1Side?.is_outbound, c2Side?.is_outbound].sort()).toEqual([false, true]);
    // Both still hold their connection to our node.
    for (const c of [c1, c2]) expect(await cometPeer(c, sb.nodeKey.id), `${c.moniker} ↔ Switchboard`).toBeDefined();
  });

  scenario("learn", "a Switchboard node that knows only a CometBFT node learns a third node's address from it and dials it", async (s, expect) => {
    // The third node dials no one (no outbound slots): it would learn our address from c1 too, and could dial us
    // before we dial it. So a connection between us is ours, made with what c1 told us.
    const third = await s.comet("third", { config: { "p2p.max_num_outbound_peers": 0 } });
    const c1 = await s.comet("c1", { persistentPeers: [third.p2pAddress] });
    await eventually("c1 to connect to the third node", () => cometConnected(c1, third));
    const sb = await s.switchboard({ "p2p.persistent_peers": c1.p2pAddress });

    const tookMs = await eventually("the Switchboard node to connect to the third node", () => sb.switch.peers().has(third.nodeId));
    console.info(`[pex ${cometbft.line}] learn: connected to the third node ${tookMs} ms after start`);
    // We dialed it, with the address c1 gave us.
    expect(sb.switch.peers().get(third.nodeId)?.isOutbound()).toBe(true);
    const entry = sb.addressBook?.get(third.nodeId);
    expect(entry?.addr).toEqual({ id: third.nodeId, host: "127.0.0.1", port: third.p2pPort });
    expect(entry?.src.id).toBe(c1.nodeId);
    // The third node sees us as an inbound peer.
    await eventually("the third node to list us", async () => (await cometPeer(third, sb.nodeKey.id)) !== undefined, 10_000);
    expect((await cometPeer(third, sb.nodeKey.id))?.is_outbound).toBe(false);
  });

  scenario("sb-seed", "a Switchboard seed serves CometBFT nodes: two that know only the seed find each other", async (s, expect) => {
    const seed = await s.switchboard({ "p2p.seed_mode": "true" });
    const c1 = await s.comet("c1", { seeds: [seed.address] });
    await eventually("the seed to hold c1's address", () => seed.addressBook?.get(c1.nodeId) !== undefined);
    const c2 = await s.comet("c2", { seeds: [seed.address] });

    const tookMs = await eventually("c1 and c2 to connect to each other", () => cometConnected(c1, c2));
    console.info(`[pex ${cometbft.line}] sb-seed: c1 and c2 connected ${tookMs} ms after c2 started`);
    // One dialed the other (c2 at once, with c1's address from the seed: CometBFT dials a seed's addresses without
    // waiting; or c1, which asks the seed again on its next round).
    const [c1Side, c2Side] = [await cometPeer(c1, c2.nodeId), await cometPeer(c2, c1.nodeId)];
    expect([c1Side?.is_outbound, c2Side?.is_outbound].sort()).toEqual([false, true]);
    expect(seed.addressBook?.get(c2.nodeId)?.addr).toEqual({ id: c2.nodeId, host: "127.0.0.1", port: c2.p2pPort });
  });

  scenario("comet-seed", "a CometBFT seed serves Switchboard nodes: two that know only the seed find each other", async (s, expect) => {
    const seed = await s.comet("seed", { seedMode: true });
    const sb1 = await s.switchboard({ "p2p.seeds": seed.p2pAddress });
    // sb1 asks the seed at once (the seed, knowing no one else, answers nothing and lets it go); the seed keeps sb1's
    // address and its crawler dials it back within its 30 s round: then the seed's book surely holds it.
    const seedMs = await eventually("the seed to crawl our first node", async () => (await cometPeer(seed, sb1.nodeKey.id))?.is_outbound === true);
    console.info(`[pex ${cometbft.line}] comet-seed: the seed crawled our first node ${seedMs} ms after it started`);
    const sb2 = await s.switchboard({ "p2p.seeds": seed.p2pAddress });

    const tookMs = await eventually(
      "the two Switchboard nodes to connect to each other",
      () => sb1.switch.peers().has(sb2.nodeKey.id) && sb2.switch.peers().has(sb1.nodeKey.id),
    );
    console.info(`[pex ${cometbft.line}] comet-seed: our nodes connected ${tookMs} ms after the second started`);
    // The one that dialed had the other's address from the seed.
    const [dialer, dialed] = sb2.switch.peers().get(sb1.nodeKey.id)?.isOutbound() === true ? [sb2, sb1] : [sb1, sb2];
    expect(dialer.switch.peers().get(dialed.nodeKey.id)?.isOutbound()).toBe(true);
    const entry = dialer.addressBook?.get(dialed.nodeKey.id);
    expect(entry?.addr).toEqual({ id: dialed.nodeKey.id, host: "127.0.0.1", port: Number(dialed.address.split(":").pop()) });
    expect(entry?.src.id).toBe(seed.nodeId);
  });
});
