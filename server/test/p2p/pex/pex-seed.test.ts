/**
 * PEX seed (crawler) mode over real Switches on 127.0.0.1. The seed's PEX
 * reactor runs on a hand-driven clock (crawl rounds and the disconnect wait
 * period are short and fired by `advance`); connections are real TCP. A
 * recording reactor beside PEX on the seed checks the reactor grammar
 * through every flow.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import type { SwitchboardNode } from "../../../src/node.js";
import { composedNodeFixtures } from "../../support/composed-node.js";
import type { NetAddress } from "../../../src/p2p/net-address.js";
import { generateNodeKey, type NodeKey } from "../../../src/p2p/node-key.js";
import { AddressBook } from "../../../src/p2p/pex/address-book.js";
import { decodePexMessage, encodePexRequest } from "../../../src/p2p/pex/pex-messages.js";
import { PexReactor, type PexReactorOptions } from "../../../src/p2p/pex/pex-reactor.js";
import type { Peer } from "../../../src/p2p/peer.js";
import { BaseReactor, type Envelope } from "../../../src/p2p/reactor.js";
import { Switch } from "../../../src/p2p/switch.js";
import type { ChannelDescriptor } from "../../../src/wire/mconnection/channel-descriptor.js";
import { checkReactorTrace } from "../../support/reactor-trace.js";
import { RecordingReactor } from "../../support/recording-reactor.js";
import { TEST_CHANNELS, silentLogger, testSwitch } from "../../support/nodes.js";
import { FakeClock, publicAddr } from "./helpers.js";

interface PexNode {
  readonly sw: Switch;
  readonly key: NodeKey;
  readonly book: AddressBook;
  readonly pex: PexReactor;
  readonly recorder: RecordingReactor;
  readonly address: string;
  readonly netAddress: NetAddress;
}

const started: Switch[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((sw) => sw.stop()));
});

function baseSwitch(key: NodeKey): Switch {
  const sw = testSwitch(key, { network: "pex-seed-test", moniker: "pex" });
  started.push(sw);
  return sw;
}

async function startPexNode(options: Partial<PexReactorOptions> = {}): Promise<PexNode> {
  const key = generateNodeKey();
  const sw = baseSwitch(key);
  // Loopback addresses are only accepted with addr_book_strict off.
  const book = new AddressBook({ strict: false, logger: silentLogger });
  book.addOurAddress({ id: key.id, host: "127.0.0.1", port: 1 });
  const pex = new PexReactor({ addressBook: book, logger: silentLogger, ...options });
  const recorder = new RecordingReactor(TEST_CHANNELS);
  sw.addReactor("pex", pex);
  sw.addReactor("recorder", recorder);
  await sw.start();
  const port = sw.listenAddress?.port ?? 0;
  return { sw, key, book, pex, recorder, address: `${key.id}@127.0.0.1:${port}`, netAddress: { id: key.id, host: "127.0.0.1", port } };
}

/** A live node that answers PexRequests but never dials anyone itself. */
function startLiveNode(): Promise<PexNode> {
  return startPexNode({ maxNumOutboundPeers: 0 });
}

type ProbeEvent = { kind: "add" } | { kind: "addrs"; ids: string[] } | { kind: "remove" };

/** The PEX channel of a plain node: asks every peer for addresses (twice at once) and records what happens. */
class PexProbe extends BaseReactor {
  readonly events: ProbeEvent[] = [];
  getChannels(): readonly ChannelDescriptor[] {
    return [{ id: 0x00, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64_000 }];
  }
  override addPeer(peer: Peer): void {
    this.events.push({ kind: "add" });
    void peer.send(0x00, encodePexRequest());
    void peer.send(0x00, encodePexRequest()); // a repeat while the seed's flushing stop is under way: ignored
  }
  override removePeer(): void {
    this.events.push({ kind: "remove" });
  }
  override receive(env: Envelope): void {
    const msg = decodePexMessage(env.message);
    if (msg.kind === "addrs") this.events.push({ kind: "addrs", ids: msg.addrs.map((a) => a.id) });
  }
}

function expectCompleteTrace(n: PexNode): void {
  expect(checkReactorTrace(n.recorder.events)).toEqual({ ok: true });
}

describe("PEX seed mode between real Switches", () => {
  it("answers an inbound peer's request with its known addresses, then disconnects it once the reply is out", async () => {
    const clock = new FakeClock();
    const seed = await startPexNode({ seedMode: true, clock });
    const known = [publicAddr(1), publicAddr(2), publicAddr(3)];
    for (const a of known) seed.book.addAddress(a, { id: a.id, host: a.host, port: a.port });

    const probeKey = generateNodeKey();
    const probeSw = baseSwitch(probeKey);
    const probe = new PexProbe();
    probeSw.addReactor("probe", probe);
    await probeSw.start();
    await probeSw.dialPeerWithAddress(seed.address); // inbound at the seed

    await vi.waitFor(() => {
      expect(probe.events.at(-1)).toEqual({ kind: "remove" });
    }, 5_000);
    // One reply, which arrived before the disconnect (no Receive ever follows RemovePeer), with the seed's addresses.
    expect(probe.events.map((e) => e.kind)).toEqual(["add", "addrs", "remove"]);
    const reply = probe.events[1] as { ids: string[] };
    for (const a of known) expect(reply.ids).toContain(a.id);

    // The seed removed it gracefully and did not punish the repeated request.
    await vi.waitFor(() => {
      expect(seed.recorder.count("RemovePeer", probeKey.id)).toBe(1);
    }, 5_000);
    expect(seed.sw.peers().has(probeKey.id)).toBe(false);
    expect(seed.recorder.removeReasons).toEqual([expect.objectContaining({ peerId: probeKey.id, reason: undefined })]);
    expect(seed.book.isBanned(probeKey.id)).toBe(false);
    expect(seed.pex.trackedPeerCount).toBe(0);

    await seed.sw.stop();
    expectCompleteTrace(seed);
  });

  it("a non-seed node that knows only the seed learns addresses from it and is let go", async () => {
    const clock = new FakeClock();
    const seed = await startPexNode({ seedMode: true, clock });
    const live = await startLiveNode();
    seed.book.addAddress(live.netAddress, live.netAddress);

    const newcomer = await startPexNode({ seeds: [seed.address], ensurePeersPeriodMs: 60_000, maxNumOutboundPeers: 1 });
    await vi.waitFor(() => {
      expect(newcomer.book.hasAddress(live.netAddress)).toBe(true);
      expect(newcomer.sw.peers().has(seed.key.id)).toBe(false);
    }, 10_000);
    expect(newcomer.book.isBanned(seed.key.id)).toBe(false);
    await seed.sw.stop();
    expectCompleteTrace(seed);
  });

  it("crawls: dials the live addresses in its book, lets each go once it has answered, and dials what it learned", async () => {
    const clock = new FakeClock();
    const crawlPeriodMs = 1_000;
    const seed = await startPexNode({ seedMode: true, clock, crawlPeriodMs, maxNumOutboundPeers: 1 });
    const l1 = await startLiveNode();
    const l2 = await startLiveNode();
    const l3 = await startLiveNode();
    // Only l1 knows l3; the seed knows l1 and l2. One outbound slot: the crawl only gets through if answered peers let it go.
    l1.book.addAddress(l3.netAddress, l1.netAddress);
    seed.book.addAddress(l1.netAddress, l1.netAddress);
    seed.book.addAddress(l2.netAddress, l2.netAddress);

    clock.advance(0); // the first crawl (no seeds configured)
    await vi.waitFor(() => {
      expect(seed.recorder.count("InitPeer")).toBe(1);
      expect(seed.sw.peers().size).toBe(0); // it answered and was let go
    }, 10_000);
    await seed.pex.idle();
    // Each round crawls what is due; after three rounds all three were reached, one at a time, and let go.
    for (let round = 1; round <= 3 && seed.recorder.count("InitPeer") < 3; round++) {
      clock.advance(crawlPeriodMs);
      await vi.waitFor(() => {
        expect(seed.sw.peers().size).toBe(0);
      }, 10_000);
      await seed.pex.idle();
    }
    await vi.waitFor(() => {
      expect(seed.recorder.count("InitPeer")).toBe(3);
      expect(seed.sw.peers().size).toBe(0);
    }, 10_000);
    expect(seed.book.hasAddress(l3.netAddress)).toBe(true); // l1's answer
    // Graceful removals only, and nobody was dialed twice (crawled less than 2 min ago).
    expect(seed.recorder.removeReasons.map((r) => r.reason)).toEqual([undefined, undefined, undefined]);

    await seed.sw.stop();
    expectCompleteTrace(seed);
  });

  it("lets an inbound peer that never asks for addresses go at the wait period", async () => {
    const clock = new FakeClock();
    const seed = await startPexNode({ seedMode: true, clock, crawlPeriodMs: 1_000, seedDisconnectWaitPeriodMs: 3_000 });
    // A node without PEX: it never asks, and the seed did not crawl it, so only the wait period lets it go.
    const otherKey = generateNodeKey();
    const other = baseSwitch(otherKey);
    other.addReactor("recorder", new RecordingReactor(TEST_CHANNELS));
    await other.start();
    await other.dialPeerWithAddress(seed.address);
    await vi.waitFor(() => {
      expect(seed.sw.peers().has(otherKey.id)).toBe(true);
    }, 10_000);
    clock.advance(2_000);
    await seed.pex.idle();
    expect(seed.sw.peers().has(otherKey.id)).toBe(true);
    clock.advance(1_000);
    await vi.waitFor(() => {
      expect(seed.sw.peers().has(otherKey.id)).toBe(false);
    }, 5_000);
    expect(seed.recorder.removeReasons.map((r) => r.reason)).toEqual([undefined]);
    await seed.sw.stop();
    expectCompleteTrace(seed);
  });
});

describe("p2p.seed_mode through the composition root", () => {
  const fixtures = composedNodeFixtures("seed-test");
  afterEach(fixtures.cleanup);

  async function node(flags: Record<string, string>): Promise<SwitchboardNode> {
    const n = await fixtures.node({ "p2p.allow_duplicate_ip": "true", "p2p.addr_book_strict": "false", ...flags });
    await n.start();
    return n;
  }

  it("a node started with seed_mode = true answers a node whose p2p.seeds names it, then lets it go", async () => {
    const seed = await node({ "p2p.seed_mode": "true" });
    expect(seed.pex?.isSeed).toBe(true);
    const other = await node({ "p2p.seeds": seed.p2pAddress() ?? "" });
    expect(other.pex?.isSeed).toBe(false);
    // It came in (the seed learned its address at AddPeer), asked, and was let go.
    await vi.waitFor(() => {
      expect(seed.addressBook?.entries().some((e) => e.addr.id === other.nodeKey.id)).toBe(true);
      expect(seed.switch.peers().size).toBe(0);
      expect(other.switch.peers().has(seed.nodeKey.id)).toBe(false);
    }, 10_000);
    expect(seed.addressBook?.isBanned(other.nodeKey.id)).toBe(false);
  });
});
