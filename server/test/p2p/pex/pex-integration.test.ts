/**
 * PEX over real Switches on 127.0.0.1: SecretConnection, MConnection and the
 * Switch underneath, the PEX reactor on channel 0x00 on top.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { generateNodeKey, type NodeKey } from "../../../src/p2p/node-key.js";
import { AddressBook } from "../../../src/p2p/pex/address-book.js";
import { encodePexAddrs } from "../../../src/p2p/pex/pex-messages.js";
import { PexReactor } from "../../../src/p2p/pex/pex-reactor.js";
import type { Peer } from "../../../src/p2p/peer.js";
import { BaseReactor } from "../../../src/p2p/reactor.js";
import { Switch } from "../../../src/p2p/switch.js";
import type { ChannelDescriptor } from "../../../src/wire/mconnection/channel-descriptor.js";
import { silentLogger, testSwitch } from "../../support/nodes.js";

interface PexNode {
  readonly sw: Switch;
  readonly key: NodeKey;
  readonly book: AddressBook;
  readonly reactor: PexReactor;
  readonly address: string;
}

const started: Switch[] = [];

afterEach(async () => {
  await Promise.all(started.splice(0).map((sw) => sw.stop()));
});

function baseSwitch(key: NodeKey, maxNumOutboundPeers = 10): Switch {
  const sw = testSwitch(key, { network: "pex-test", moniker: "pex", maxNumOutboundPeers });
  started.push(sw);
  return sw;
}

async function startPexNode(seeds: readonly string[] = [], maxNumOutboundPeers = 10): Promise<PexNode> {
  const key = generateNodeKey();
  const sw = baseSwitch(key, maxNumOutboundPeers);
  // Loopback addresses are only accepted with addr_book_strict off.
  const book = new AddressBook({ strict: false, logger: silentLogger });
  book.addOurAddress({ id: key.id, host: "127.0.0.1", port: 1 });
  const reactor = new PexReactor({ addressBook: book, seeds, ensurePeersPeriodMs: 300, maxNumOutboundPeers, logger: silentLogger });
  sw.addReactor("pex", reactor);
  await sw.start();
  return { sw, key, book, reactor, address: `${key.id}@127.0.0.1:${sw.listenAddress?.port ?? 0}` };
}

/** Sends a PexAddrs to every peer as soon as it is added: what a misbehaving node would do. */
class UnsolicitedAddrsReactor extends BaseReactor {
  getChannels(): readonly ChannelDescriptor[] {
    return [{ id: 0x00, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64_000 }];
  }
  override addPeer(peer: Peer): void {
    void peer.send(0x00, encodePexAddrs([{ id: "ab".repeat(20), host: "8.8.8.8", port: 26656 }]));
  }
}

describe("PEX between real Switches", () => {
  it("a node that knows only a seed learns a third node through PEX and dials it", async () => {
    const hub = await startPexNode();
    // One outbound slot, filled by the hub: it never dials anyone itself.
    const other = await startPexNode([], 1);
    await other.sw.dialPeerWithAddress(hub.address);
    // The hub learns the inbound node's advertised listen address.
    await vi.waitFor(() => {
      expect(hub.book.hasAddress({ id: other.key.id, host: "127.0.0.1", port: 0 })).toBe(true);
    }, 5_000);

    const newcomer = await startPexNode([hub.address]);
    await vi.waitFor(() => {
      expect(newcomer.sw.peers().has(hub.key.id)).toBe(true);
      expect(newcomer.book.hasAddress({ id: other.key.id, host: "127.0.0.1", port: 0 })).toBe(true);
      expect(newcomer.sw.peers().get(other.key.id)?.isOutbound()).toBe(true);
    }, 10_000);
    // Nobody misbehaved: every node still has its peers and nobody is banned.
    expect(hub.sw.peers().size).toBe(2);
    for (const n of [hub, other, newcomer]) {
      for (const m of [hub, other, newcomer]) expect(n.book.isBanned(m.key.id)).toBe(false);
    }
  });

  it("disconnects and bans a peer that sends PexAddrs without being asked", async () => {
    const victim = await startPexNode();
    const rogueKey = generateNodeKey();
    const rogue = baseSwitch(rogueKey);
    rogue.addReactor("rogue", new UnsolicitedAddrsReactor());
    await rogue.start();
    await rogue.dialPeerWithAddress(victim.address); // inbound at the victim, which never asks it
    await vi.waitFor(() => {
      expect(victim.book.isBanned(rogueKey.id)).toBe(true);
      expect(victim.sw.peers().has(rogueKey.id)).toBe(false);
    }, 5_000);
    expect(victim.book.hasAddress({ id: "ab".repeat(20), host: "8.8.8.8", port: 26656 })).toBe(false);
  });
});
