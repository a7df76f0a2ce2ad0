import { describe, expect, it } from "vitest";
import { ConnectionRejectedError } from "../../../src/p2p/errors.js";
import { NetAddressError, formatNetAddress } from "../../../src/p2p/net-address.js";
import type { AddressBook } from "../../../src/p2p/pex/address-book.js";
import { DEFAULT_BAN_MS, MAX_ATTEMPTS_TO_DIAL, MAX_SEED_DIAL_SKIPPED_PERIODS, PEX_RECV_MESSAGE_CAPACITY_BYTES } from "../../../src/p2p/pex/defaults.js";
import { PexConfigError, PexDecodeError, PexInvalidAddressError, PexRequestTooSoonError, PexUnsolicitedAddrsError } from "../../../src/p2p/pex/errors.js";
import { decodePexMessage, encodePexAddrs, encodePexRequest } from "../../../src/p2p/pex/pex-messages.js";
import { PexReactor, type PexReactorOptions } from "../../../src/p2p/pex/pex-reactor.js";
import { OutboundLimitError } from "../../../src/p2p/errors.js";
import type { Peer } from "../../../src/p2p/peer.js";
import { hex, unhex } from "../../support/vectors.js";
import { FakeClock, FakePeer, FakeSwitch, flush, makeBook, nodeId, publicAddr, seededRandom, silentLogger } from "./helpers.js";

interface Setup {
  readonly clock: FakeClock;
  readonly book: AddressBook;
  readonly reactor: PexReactor;
  readonly sw: FakeSwitch;
}

async function setup(options: { bookSize?: number; needAddressThreshold?: number; reactor?: Partial<PexReactorOptions>; privateIds?: string[] } = {}): Promise<Setup> {
  const clock = new FakeClock();
  const book = makeBook({ clock, needAddressThreshold: options.needAddressThreshold ?? 1000, privateIds: options.privateIds ?? [] });
  for (let i = 0; i < (options.bookSize ?? 0); i++) book.addAddress(publicAddr(i), { id: nodeId("seedsrc"), host: publicAddr(i).host, port: 1 });
  const reactor = new PexReactor({ addressBook: book, logger: silentLogger, clock, random: seededRandom(7), ...options.reactor });
  const sw = new FakeSwitch(reactor);
  reactor.setSwitch(sw);
  await reactor.onStart();
  return { clock, book, reactor, sw };
}

async function deliver(reactor: PexReactor, peer: Peer, message: Uint8Array): Promise<void> {
  await reactor.receive({ src: peer, channelId: 0x00, message });
}

function kinds(peer: FakePeer): string[] {
  return peer.sent.map((s) => decodePexMessage(s.message).kind);
}

function replies(peer: FakePeer): string[][] {
  return peer.sent.flatMap((s) => {
    const m = decodePexMessage(s.message);
    return m.kind === "addrs" ? [m.addrs.map((a) => a.id)] : [];
  });
}

describe("PexReactor channel and options", () => {
  it("registers channel 0x00 with CometBFT's parameters", async () => {
    const { reactor } = await setup();
    expect(reactor.getChannels()).toEqual([{ id: 0x00, priority: 1, sendQueueCapacity: 10, recvMessageCapacity: 64_000 }]);
    expect(PEX_RECV_MESSAGE_CAPACITY_BYTES).toBe(64_000);
  });

  it("refuses malformed seeds, zero periods and negative limits, naming the option", () => {
    const base = { addressBook: makeBook(), logger: silentLogger };
    expect(new PexReactor({ ...base, seedMode: true }).isSeed).toBe(true);
    expect(() => new PexReactor({ ...base, seedMode: true, crawlPeriodMs: 0 })).toThrow(PexConfigError);
    expect(() => new PexReactor({ ...base, seedDisconnectWaitPeriodMs: -1 })).toThrow(/seedDisconnectWaitPeriodMs/);
    expect(() => new PexReactor({ ...base, seeds: ["not-an-address"] })).toThrow(NetAddressError);
    expect(() => new PexReactor({ ...base, ensurePeersPeriodMs: 0 })).toThrow(/ensurePeersPeriodMs/);
    expect(() => new PexReactor({ ...base, maxNumOutboundPeers: -1 })).toThrow(/maxNumOutboundPeers/);
  });
});

describe("PexReactor answering requests", () => {
  it("answers a PexRequest with a selection of the book", async () => {
    const { reactor, sw, book } = await setup({ bookSize: 5 });
    const peer = new FakePeer({ outbound: false });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexRequest());
    const [reply] = replies(peer);
    expect(reply).toHaveLength(6); // the 5 addresses plus the inbound peer's own, learned at AddPeer
    expect(new Set(reply)).toEqual(new Set(book.entries().map((e) => e.addr.id)));
    expect(sw.stops).toEqual([]);
  });

  it("answers with an empty list (12 00) when the book is empty", async () => {
    const { reactor, sw } = await setup();
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer);
    peer.sent.length = 0;
    await deliver(reactor, p, encodePexRequest());
    expect(peer.sent.map((s) => hex(s.message))).toEqual(["1200"]);
  });

  it("lets two requests pass, then stops and bans a peer whose third comes sooner than 10 s", async () => {
    const { reactor, sw, book } = await setup({ bookSize: 3 });
    const peer = new FakePeer({ outbound: false });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexRequest());
    await deliver(reactor, p, encodePexRequest());
    expect(replies(peer)).toHaveLength(2);
    await deliver(reactor, p, encodePexRequest());
    expect(replies(peer)).toHaveLength(2);
    expect(sw.stops).toHaveLength(1);
    expect(sw.stops[0]!.reason).toBeInstanceOf(PexRequestTooSoonError);
    expect(sw.stops[0]!.reason.message).toMatch(/0 ms after the previous one; the minimum is 10000 ms/);
    expect(book.isBanned(peer.id)).toBe(true);
    expect(reactor.trackedPeerCount).toBe(0);
  });

  it("accepts requests 10 s apart from the second one on", async () => {
    const { reactor, sw, clock } = await setup({ bookSize: 3 });
    const peer = new FakePeer({ outbound: false });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexRequest());
    clock.advance(1); // the first request is not timed
    await deliver(reactor, p, encodePexRequest());
    clock.advance(10_000);
    await deliver(reactor, p, encodePexRequest());
    clock.advance(10_000);
    await deliver(reactor, p, encodePexRequest());
    expect(replies(peer)).toHaveLength(4);
    expect(sw.stops).toEqual([]);
    clock.advance(9_999);
    await deliver(reactor, p, encodePexRequest());
    expect(sw.stops.map((s) => s.reason.constructor)).toEqual([PexRequestTooSoonError]);
  });
});

describe("PexReactor requesting and receiving addresses", () => {
  it("asks a new outbound peer once, accepts exactly one reply, and adds its addresses with the peer as source", async () => {
    const { reactor, sw, book } = await setup();
    const peer = new FakePeer({ outbound: true, listenAddr: "tcp://93.184.216.34:26656" });
    const p = sw.connect(peer);
    expect(peer.sent.map((s) => hex(s.message))).toEqual(["0a00"]);
    expect(reactor.hasOutstandingRequest(peer.id)).toBe(true);
    reactor.requestAddrs(p); // still outstanding: nothing sent
    expect(peer.sent).toHaveLength(1);

    await deliver(reactor, p, encodePexAddrs([publicAddr(1), publicAddr(2)]));
    expect(sw.stops).toEqual([]);
    expect(book.size).toBe(2);
    expect(book.get(publicAddr(1).id)?.src).toEqual({ id: peer.id, host: "93.184.216.34", port: 26656 });
    expect(reactor.hasOutstandingRequest(peer.id)).toBe(false);

    await deliver(reactor, p, encodePexAddrs([publicAddr(3)]));
    expect(sw.stops.map((s) => s.reason.constructor)).toEqual([PexUnsolicitedAddrsError]);
    expect(book.hasAddress(publicAddr(3))).toBe(false);
    expect(book.isBanned(peer.id)).toBe(true);
  });

  it("does not ask an outbound peer when the book has enough addresses", async () => {
    const { sw } = await setup({ bookSize: 3, needAddressThreshold: 3 });
    const peer = new FakePeer({ outbound: true });
    sw.connect(peer);
    expect(peer.sent).toEqual([]);
  });

  it("stops and bans a peer that sends addresses unasked", async () => {
    const { reactor, sw, book } = await setup();
    const peer = new FakePeer({ outbound: false });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexAddrs([publicAddr(1)]));
    expect(sw.stops).toHaveLength(1);
    expect(sw.stops[0]!.reason).toBeInstanceOf(PexUnsolicitedAddrsError);
    expect(book.isBanned(peer.id)).toBe(true);
    expect(book.hasAddress(publicAddr(1))).toBe(false);
  });

  it.each([
    ["a host name", { id: nodeId("h"), host: "example.com", port: 1 }],
    ["a port above 65535", { id: nodeId("h"), host: "8.8.8.8", port: 70_000 }],
  ])("stops and bans a peer whose reply holds %s", async (_name, bad) => {
    const { reactor, sw, book } = await setup();
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexAddrs([publicAddr(1), bad]));
    expect(sw.stops[0]?.reason).toBeInstanceOf(PexInvalidAddressError);
    expect(book.isBanned(peer.id)).toBe(true);
    expect(book.hasAddress(publicAddr(1))).toBe(false);
  });

  it("drops unwanted addresses from a reply without punishing the sender", async () => {
    const { reactor, sw, book } = await setup({ privateIds: [nodeId("priv")] });
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexAddrs([publicAddr(1), { id: nodeId("priv"), host: "8.8.8.8", port: 1 }, { id: "short", host: "8.8.4.4", port: 1 }]));
    expect(sw.stops).toEqual([]);
    expect(book.size).toBe(1);
  });

  it("learns an inbound peer's advertised listen address without asking it", async () => {
    const { sw, book } = await setup();
    const peer = new FakePeer({ outbound: false, listenAddr: "tcp://5.6.7.8:26656" });
    sw.connect(peer);
    expect(peer.sent).toEqual([]);
    expect(book.get(peer.id)?.addr).toEqual({ id: peer.id, host: "5.6.7.8", port: 26656 });
  });

  it.each([
    ["a private peer", { listenAddr: "tcp://5.6.7.8:26656", id: nodeId("priv") }],
    ["an unspecified listen address", { listenAddr: "tcp://0.0.0.0:26656" }],
    ["a host name", { listenAddr: "tcp://node.example.com:26656" }],
  ])("does not learn the address of %s", async (_name, opts) => {
    const { sw, book } = await setup({ privateIds: [nodeId("priv")] });
    sw.connect(new FakePeer({ outbound: false, ...opts }));
    expect(book.size).toBe(0);
  });

  it("clears an outstanding request whose send failed, so that a reply is unsolicited", async () => {
    const { reactor, sw } = await setup();
    const peer = new FakePeer({ outbound: true });
    peer.sendResult = false;
    sw.connect(peer);
    await flush();
    expect(reactor.hasOutstandingRequest(peer.id)).toBe(false);
  });

  it("never sends a peer a third request sooner than a Go peer accepts", async () => {
    const { reactor, sw, clock } = await setup();
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer); // request 1
    await deliver(reactor, p, encodePexAddrs([]));
    reactor.requestAddrs(p); // request 2
    await deliver(reactor, p, encodePexAddrs([]));
    reactor.requestAddrs(p); // too soon: held back
    expect(kinds(peer)).toEqual(["request", "request"]);
    clock.advance(11_000);
    reactor.requestAddrs(p);
    expect(kinds(peer)).toEqual(["request", "request", "request"]);
  });
});

describe("PexReactor malformed messages", () => {
  it.each([
    ["garbage", "ffff", /do not decode/],
    ["an unknown oneof field", "1a00", /unknown oneof/],
    ["an empty message", "", /no known message/],
  ])("stops (without banning) a peer that sends %s", async (_name, bytes, message) => {
    const { reactor, sw, book } = await setup();
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer);
    await deliver(reactor, p, unhex(bytes));
    expect(sw.stops).toHaveLength(1);
    expect(sw.stops[0]!.reason).toBeInstanceOf(PexDecodeError);
    expect(sw.stops[0]!.reason.message).toMatch(/malformed PEX message/);
    expect(sw.stops[0]!.reason.message).toMatch(message);
    expect(book.isBanned(peer.id)).toBe(false);
  });
});

describe("PexReactor per-peer state", () => {
  it("tracks only peers between InitPeer and RemovePeer", async () => {
    const { reactor, sw } = await setup();
    const peers = Array.from({ length: 20 }, (_, i) => sw.connect(new FakePeer({ outbound: i % 2 === 0 })));
    expect(reactor.trackedPeerCount).toBe(20);
    for (const p of peers) sw.disconnect(p);
    expect(reactor.trackedPeerCount).toBe(0);
  });

  it("starts a reconnected peer with fresh state", async () => {
    const { reactor, sw } = await setup({ bookSize: 2 });
    const first = new FakePeer({ outbound: false });
    const p1 = sw.connect(first);
    await deliver(reactor, p1, encodePexRequest());
    await deliver(reactor, p1, encodePexRequest());
    sw.disconnect(p1);
    const again = new FakePeer({ outbound: false, id: first.id });
    const p2 = sw.connect(again);
    await deliver(reactor, p2, encodePexRequest());
    await deliver(reactor, p2, encodePexRequest());
    expect(sw.stops).toEqual([]);
    expect(replies(again)).toHaveLength(2);
  });

  it("ignores a late RemovePeer of an older connection of the same ID", async () => {
    const { reactor, sw } = await setup();
    const first = new FakePeer({ outbound: true });
    const p1 = first.asPeer();
    reactor.initPeer(p1);
    const second = new FakePeer({ outbound: true, id: first.id });
    sw.connect(second);
    reactor.removePeer(p1, undefined);
    expect(reactor.trackedPeerCount).toBe(1);
    expect(reactor.hasOutstandingRequest(second.id)).toBe(true);
  });

  it("clears every timer on stop", async () => {
    const { reactor, clock, sw } = await setup({ bookSize: 3 });
    sw.connect(new FakePeer({ outbound: true }));
    clock.advance(0);
    expect(clock.pendingTimers).toBeGreaterThan(0);
    await reactor.onStop();
    expect(clock.pendingTimers).toBe(0);
    await reactor.idle();
  });
});

describe("PexReactor ensure peers", () => {
  it("dials up to max outbound − (outbound + dialing) distinct addresses from the book", async () => {
    const { reactor, sw, clock } = await setup({ bookSize: 20, reactor: { maxNumOutboundPeers: 5 } });
    sw.extra = { outbound: 1, inbound: 0, dialing: 1 };
    sw.dialImpl = () => new Promise<Peer>(() => undefined); // dials hang
    clock.advance(30_000); // the node has "peers": first run within one period
    expect(sw.dials).toHaveLength(3);
    expect(new Set(sw.dials).size).toBe(3);
    clock.advance(30_000);
    expect(sw.dials).toHaveLength(3); // those three are still being dialed
    expect(reactor.isRunning()).toBe(true);
  });

  it("runs at once when the node has no peers, and then every period", async () => {
    const { sw, clock } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1 } });
    clock.advance(0);
    expect(sw.dials).toHaveLength(1);
    await flush();
    clock.advance(29_999);
    expect(sw.dials).toHaveLength(1);
    clock.advance(1);
    expect(sw.dials).toHaveLength(2);
  });

  it("waits a random part of the period before the first run when the node already has peers", async () => {
    const { sw, clock } = await setup({ bookSize: 5 });
    sw.extra = { outbound: 0, inbound: 1, dialing: 0 };
    clock.advance(0);
    expect(sw.dials).toHaveLength(0);
    clock.advance(30_000);
    expect(sw.dials.length).toBeGreaterThan(0);
  });

  it("backs off 2^attempts s per address and bans a non-persistent address after more than 16 failures", async () => {
    const { reactor, sw, clock, book } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1 } });
    const addr = publicAddr(0);
    const dialTimes: number[] = [];
    sw.dialImpl = (a) => {
      dialTimes.push(clock.now());
      return Promise.reject(new Error(`refused ${a}`));
    };
    clock.advance(0);
    for (let i = 0; i < 6000 && !book.isBanned(addr.id); i++) {
      await flush();
      clock.advance(30_000);
    }
    expect(book.isBanned(addr.id)).toBe(true);
    expect(dialTimes).toHaveLength(MAX_ATTEMPTS_TO_DIAL + 1);
    for (let k = 1; k < dialTimes.length; k++) {
      expect(dialTimes[k]! - dialTimes[k - 1]!).toBeGreaterThanOrEqual(2 ** k * 1000);
    }
    expect(reactor.attemptsToDial(addr)).toBe(MAX_ATTEMPTS_TO_DIAL + 1);
  });

  it("never bans a persistent peer for failed dials", async () => {
    const { sw, clock, book } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1, persistentPeerIds: [publicAddr(0).id], persistentPeersMaxDialPeriodMs: 60_000 } });
    sw.dialImpl = (a) => Promise.reject(new Error(`refused ${a}`));
    clock.advance(0);
    for (let i = 0; i < 200; i++) {
      await flush();
      clock.advance(30_000);
    }
    expect(book.isBanned(publicAddr(0).id)).toBe(false);
    // Capped at 60 s: about one dial every two periods.
    expect(sw.dials.length).toBeGreaterThan(90);
  });

  it("forgets an address that turns out to be our own", async () => {
    const { sw, clock, book } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1 } });
    sw.dialImpl = () => Promise.reject(new ConnectionRejectedError("self", "dialed ourselves"));
    clock.advance(0);
    await flush();
    expect(book.size).toBe(0);
    expect(book.addAddress(publicAddr(0), { id: nodeId("x"), host: "1.1.1.1", port: 1 })).toMatchObject({ reason: "self" });
  });

  it("does not count a dial refused by the Switch as a failure", async () => {
    const { reactor, sw, clock } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1 } });
    sw.dialImpl = () => Promise.reject(new OutboundLimitError("full"));
    clock.advance(0);
    await flush();
    expect(reactor.attemptsToDial(publicAddr(0))).toBe(0);
  });

  it("dials the seeds one at a time when the book is empty, stopping at the first that connects", async () => {
    const seeds = [0, 1, 2].map((i) => formatNetAddress({ id: nodeId(`seed${i}`), host: `8.8.8.${i + 1}`, port: 26656 }));
    const { sw, clock } = await setup({ reactor: { seeds } });
    let calls = 0;
    sw.dialImpl = (a) => (++calls === 1 ? Promise.reject(new Error(`down ${a}`)) : Promise.resolve(new FakePeer().asPeer()));
    clock.advance(0);
    for (let i = 0; i < 5; i++) await flush();
    expect(sw.dials).toHaveLength(2);
    expect(new Set(sw.dials).size).toBe(2);
    for (const d of sw.dials) expect(seeds).toContain(d);
  });

  it("dials addresses received from a seed without waiting for the next period", async () => {
    const seedId = nodeId("seed");
    const { reactor, sw, clock } = await setup({ reactor: { seeds: [`${seedId}@8.8.8.8:26656`] } });
    sw.dialImpl = () => new Promise<Peer>(() => undefined);
    const seed = new FakePeer({ id: seedId, outbound: true, listenAddr: "tcp://8.8.8.8:26656" });
    const p = sw.connect(seed);
    await deliver(reactor, p, encodePexAddrs([publicAddr(1), publicAddr(2)]));
    expect(sw.dials).toEqual([]);
    clock.advance(0); // the wake-up (and the first run)
    expect(new Set(sw.dials)).toEqual(new Set([formatNetAddress(publicAddr(1)), formatNetAddress(publicAddr(2))]));
  });

  it("a seed's answer that adds no address wakes nothing: the seed is not dialed again before the next period", async () => {
    const seedId = nodeId("seed");
    const { reactor, sw, clock, book } = await setup({ reactor: { seeds: [`${seedId}@8.8.8.8:26656`] } });
    const us = { id: nodeId("us"), host: "8.8.4.4", port: 26656 };
    book.addOurAddress(us);
    clock.advance(0); // the first run: an empty book, so the seed is dialed
    for (let i = 0; i < 5; i++) await flush();
    expect(sw.dials).toEqual([`${seedId}@8.8.8.8:26656`]);
    const seed = new FakePeer({ id: seedId, outbound: true, listenAddr: "tcp://8.8.8.8:26656" });
    const p = sw.connect(seed);
    // A seed that knows only us: our own address is never added.
    await deliver(reactor, p, encodePexAddrs([us]));
    clock.advance(0);
    for (let i = 0; i < 5; i++) await flush();
    expect(sw.dials).toHaveLength(1);
  });

  it("backs off seed dials while the seeds bring nothing new: periods skipped double, up to MAX_SEED_DIAL_SKIPPED_PERIODS; an answer with news resets it", async () => {
    const seedId = nodeId("seed");
    const seedAddr = `${seedId}@8.8.8.8:26656`;
    const { reactor, sw, clock, book } = await setup({ reactor: { seeds: [seedAddr] } });
    sw.dialImpl = () => Promise.reject(new Error("seed unreachable"));
    const dialedAt: number[] = [];
    const run = async (periods: number, from: number): Promise<void> => {
      for (let k = from; k < from + periods; k++) {
        const before = sw.dials.length;
        clock.advance(k === 0 ? 0 : 30_000);
        for (let i = 0; i < 5; i++) await flush();
        if (sw.dials.length > before) dialedAt.push(k);
      }
    };
    await run(40, 0);
    // Periods 0, 1, 3, 6, 11, then every 9th (8 skipped).
    expect(dialedAt).toEqual([0, 1, 3, 6, 11, 20, 29, 38]);
    expect(MAX_SEED_DIAL_SKIPPED_PERIODS).toBe(8);
    // A seed's answer that adds an address resets the backoff: once the book is empty again, the next period dials the seed.
    const seed = new FakePeer({ id: seedId, outbound: true, listenAddr: "tcp://8.8.8.8:26656" });
    const p = sw.connect(seed);
    await deliver(reactor, p, encodePexAddrs([publicAddr(1)]));
    for (let i = 0; i < 5; i++) await flush();
    book.removeAddress(publicAddr(1));
    dialedAt.length = 0;
    await run(1, 40);
    expect(dialedAt).toEqual([40]);
  });

  it("asks a random connected peer for addresses each period while the book needs them", async () => {
    const { sw, clock, reactor } = await setup({ reactor: { maxNumOutboundPeers: 3 } });
    const peer = new FakePeer({ outbound: false, listenAddr: "tcp://0.0.0.0:1" });
    const p = sw.connect(peer);
    clock.advance(30_000);
    expect(kinds(peer)).toEqual(["request"]);
    await deliver(reactor, p, encodePexAddrs([]));
    clock.advance(30_000);
    expect(kinds(peer)).toEqual(["request", "request"]);
  });

  it("reinstates expired bans when the book needs addresses", async () => {
    const { sw, clock, book } = await setup({ bookSize: 1, reactor: { maxNumOutboundPeers: 1 } });
    sw.dialImpl = () => new Promise<Peer>(() => undefined);
    book.markBad(publicAddr(0), 1_000);
    clock.advance(0);
    expect(sw.dials).toEqual([]);
    clock.advance(DEFAULT_BAN_MS);
    expect(book.hasAddress(publicAddr(0))).toBe(true);
    clock.advance(30_000);
    expect(sw.dials).toEqual([formatNetAddress(publicAddr(0))]);
  });
});

describe("PexReactor in seed mode", () => {
  it("answers an inbound peer once, then asks the Switch for a flushing stop; a repeat is ignored", async () => {
    const { reactor, sw } = await setup({ bookSize: 40, reactor: { seedMode: true } });
    const peer = new FakePeer({ outbound: false });
    const p = sw.connect(peer);
    await deliver(reactor, p, encodePexRequest());
    expect(kinds(peer)).toEqual(["addrs"]);
    expect(replies(peer)[0]!.length).toBeGreaterThan(0);
    expect(sw.flushStops).toEqual([p]);
    // Its flushing stop is under way: a second request (even at once) is neither answered nor punished.
    await deliver(reactor, p, encodePexRequest());
    await deliver(reactor, p, encodePexRequest());
    expect(kinds(peer)).toEqual(["addrs"]);
    expect(sw.flushStops).toEqual([p]);
    expect(sw.stops).toEqual([]);
    sw.completeFlushStops();
    expect(reactor.trackedPeerCount).toBe(0);
  });

  it("treats an outbound peer's requests as a non-seed does (rate rule, no disconnect)", async () => {
    const { reactor, sw } = await setup({ bookSize: 5, reactor: { seedMode: true } });
    const peer = new FakePeer({ outbound: true });
    const p = sw.connect(peer);
    peer.sent.length = 0;
    await deliver(reactor, p, encodePexRequest());
    await deliver(reactor, p, encodePexRequest());
    expect(kinds(peer)).toEqual(["addrs", "addrs"]);
    expect(sw.flushStops).toEqual([]);
    await deliver(reactor, p, encodePexRequest()); // third, too soon
    expect(sw.stops).toHaveLength(1);
    expect(sw.stops[0]!.reason).toBeInstanceOf(PexRequestTooSoonError);
  });

  it("crawls due addresses and asks each it reaches; one that answers is let go at once, a silent one when its request is stale", async () => {
    const { reactor, sw, clock } = await setup({
      bookSize: 3,
      reactor: { seedMode: true, crawlPeriodMs: 1_000, minTimeBetweenCrawlsMs: 5_000, seedDisconnectWaitPeriodMs: 10_000 },
    });
    const reached = new Map<string, FakePeer>();
    sw.dialImpl = (address) => {
      const fake = new FakePeer({ id: address.split("@")[0]!, outbound: true });
      reached.set(fake.id, fake);
      return Promise.resolve(sw.connect(fake));
    };
    clock.advance(0); // the first crawl: no seeds configured
    await reactor.idle();
    expect(sw.dials).toHaveLength(3);
    for (const fake of reached.values()) {
      expect(kinds(fake)).toEqual(["request"]);
      expect(reactor.hasOutstandingRequest(fake.id)).toBe(true);
    }
    expect(reactor.crawlRecordCount).toBe(3);
    const [answering, ...silent] = [...sw.connected.values()] as [Peer, ...Peer[]];
    const dialsOf = (p: Peer): number => sw.dials.filter((d) => d.startsWith(`${p.id}@`)).length;
    // The one that answers frees its outbound slot at once, gracefully; what it gave is in the book.
    await deliver(reactor, answering, encodePexAddrs([publicAddr(7)]));
    expect(sw.connected.has(answering.id)).toBe(false);
    expect(sw.stops).toEqual([]);
    // The next round crawls what it learned. Until 5 s nobody crawled at 0 s is dialed again, and the silent ones stay.
    for (let t = 1; t <= 4; t++) {
      clock.advance(1_000);
      await reactor.idle();
      for (const p of [answering, ...silent]) expect(dialsOf(p), `at ${t} s`).toBe(1);
      for (const p of silent) expect(sw.connected.get(p.id), `at ${t} s`).toBe(p);
    }
    expect(sw.dials).toContain(formatNetAddress(publicAddr(7)));
    // At 5 s their requests are stale: they are let go (gracefully) and, being due, crawled again in the same round.
    clock.advance(1_000);
    await reactor.idle();
    for (const p of silent) {
      expect(sw.connected.get(p.id)).not.toBe(p);
      expect(dialsOf(p)).toBe(2);
    }
    expect(sw.stops).toEqual([]);
    await reactor.onStop();
    expect(clock.pendingTimers).toBe(0);
  });

  it("lets any other non-persistent peer go after the wait period", async () => {
    const { reactor, sw, clock } = await setup({
      reactor: { seedMode: true, crawlPeriodMs: 1_000, minTimeBetweenCrawlsMs: 5_000, seedDisconnectWaitPeriodMs: 10_000 },
    });
    const inbound = new FakePeer({ outbound: false });
    sw.connect(inbound);
    for (let t = 1; t <= 9; t++) {
      clock.advance(1_000);
      await reactor.idle();
      expect(sw.connected.get(inbound.id), `at ${t} s`).toBe(inbound);
    }
    clock.advance(1_000);
    await reactor.idle();
    expect(sw.connected.has(inbound.id)).toBe(false);
    await reactor.onStop();
  });

  it("stops a crawl round when the outbound slots are full", async () => {
    const { reactor, sw, clock } = await setup({ bookSize: 5, reactor: { seedMode: true, maxNumOutboundPeers: 2 } });
    sw.dialImpl = (address) => Promise.resolve(sw.connect(new FakePeer({ id: address.split("@")[0]!, outbound: true })));
    clock.advance(0);
    await reactor.idle();
    expect(sw.dials).toHaveLength(2);
    expect(reactor.crawlRecordCount).toBe(2);
  });

  it("does not run ensure-peers: a reply from a configured seed wakes nothing", async () => {
    const seed = new FakePeer({ outbound: true });
    const { reactor, sw, clock } = await setup({ reactor: { seedMode: true, seeds: [`${seed.id}@93.184.216.34:26656`] } });
    sw.dialImpl = () => Promise.resolve(sw.connect(seed));
    clock.advance(0);
    await reactor.idle();
    expect(sw.dials).toEqual([`${seed.id}@93.184.216.34:26656`]); // the seeds first, no crawl
    expect(kinds(seed)).toEqual(["request"]);
    await deliver(reactor, seed.asPeer(), encodePexAddrs([publicAddr(1), publicAddr(2)]));
    clock.advance(0);
    await reactor.idle();
    expect(sw.dials).toHaveLength(1); // ensure-peers would have dialed the new addresses
  });
});
