import { afterEach, describe, expect, it } from "vitest";
import { generateNodeKey } from "../../src/p2p/node-key.js";
import { parseNetAddress } from "../../src/p2p/net-address.js";
import { AlreadyConnectedError, OutboundLimitError, SwitchConfigError } from "../../src/p2p/errors.js";
import { Switch } from "../../src/p2p/switch.js";
import { PeerDataFullError } from "../../src/p2p/peer.js";
import { checkReactorTrace } from "../support/reactor-trace.js";
import { RecordingReactor } from "../support/recording-reactor.js";
import { type TestNode, TEST_CHANNELS, silentLogger, nodeFixtures, until } from "../support/nodes.js";

const { node, cleanup } = nodeFixtures();
afterEach(cleanup);

function expectValidTrace(n: TestNode, complete = false): void {
  const verdict = checkReactorTrace(n.reactor.events, { complete });
  expect(verdict).toEqual({ ok: true });
}

function bytes(len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 31 + seed) & 0xff;
  return b;
}

describe("Switch.addReactor", () => {
  const sw = (): Switch =>
    new Switch({ nodeKey: generateNodeKey(), logger: silentLogger, config: { network: "n", moniker: "m", listen: null } });

  it("refuses a duplicate name and a channel owned by another reactor, naming both reactors", () => {
    const s = sw();
    s.addReactor("a", new RecordingReactor(TEST_CHANNELS));
    expect(() => {
      s.addReactor("a", new RecordingReactor([]));
    }).toThrow(/"a" is already registered/);
    expect(() => {
      s.addReactor("b", new RecordingReactor([{ id: 0x41, priority: 1, sendQueueCapacity: 1, recvBufferCapacity: 1, recvMessageCapacity: 10 }]));
    }).toThrow(/channel 0x41 of reactor "b" is already owned by reactor "a"/);
  });

  it("refuses more channels than a NodeInfo may list", () => {
    const s = sw();
    const many = Array.from({ length: 17 }, (_, i) => ({ id: i, priority: 1, sendQueueCapacity: 1, recvBufferCapacity: 1, recvMessageCapacity: 10 }));
    expect(() => {
      s.addReactor("big", new RecordingReactor(many));
    }).toThrow(SwitchConfigError);
  });

  it("calls GetChannels then SetSwitch, and refuses reactors after start", async () => {
    const n = await node();
    expect(n.reactor.events.slice(0, 3).map((e) => e.kind)).toEqual(["GetChannels", "SetSwitch", "OnStart"]);
    expect(() => {
      n.sw.addReactor("late", new RecordingReactor([]));
    }).toThrow(/already started/);
    expect(n.sw.nodeInfo().channels).toEqual([0x40, 0x41]);
  });
});

describe("Switch peers over real TCP", () => {
  it("connects two nodes, exchanges messages of many sizes on two channels both ways, in order", async () => {
    const a = await node();
    const b = await node();
    const peerB = await a.sw.dialPeerWithAddress(b.address);
    expect(peerB.id).toBe(b.key.id);
    expect(peerB.isOutbound()).toBe(true);
    await b.reactor.waitFor(() => b.reactor.count("AddPeer") === 1, 5000, "B AddPeer");
    const peerA = b.sw.peers().get(a.key.id)!;
    expect(peerA.isOutbound()).toBe(false);

    const sizes = [0, 1, 1023, 1024, 1025, 65_536, 3 * 1024 * 1024 + 7];
    const sends: Promise<boolean>[] = [];
    for (const [i, size] of sizes.entries()) {
      sends.push(peerB.send(0x40, bytes(size, i)));
      sends.push(peerB.send(0x41, bytes(size, i + 100)));
      sends.push(peerA.send(0x40, bytes(size, i + 200)));
    }
    expect(await Promise.all(sends)).toEqual(sends.map(() => true));
    await b.reactor.waitFor(() => b.reactor.received.length === sizes.length * 2, 20_000, "B receives");
    await a.reactor.waitFor(() => a.reactor.received.length === sizes.length, 20_000, "A receives");
    const on = (r: RecordingReactor, ch: number): string[] =>
      r.received.filter((m) => m.channelId === ch).map((m) => Buffer.from(m.message).toString("base64"));
    expect(on(b.reactor, 0x40)).toEqual(sizes.map((s, i) => Buffer.from(bytes(s, i)).toString("base64")));
    expect(on(b.reactor, 0x41)).toEqual(sizes.map((s, i) => Buffer.from(bytes(s, i + 100)).toString("base64")));
    expect(on(a.reactor, 0x40)).toEqual(sizes.map((s, i) => Buffer.from(bytes(s, i + 200)).toString("base64")));
    expectValidTrace(a);
    expectValidTrace(b);
  });

  it("refuses a second dial to a connected peer", async () => {
    const a = await node();
    const b = await node();
    await a.sw.dialPeerWithAddress(b.address);
    await expect(a.sw.dialPeerWithAddress(b.address)).rejects.toBeInstanceOf(AlreadyConnectedError);
  });

  it("removes a stopped peer on both sides, and the same ID reconnects as a new peer connection", async () => {
    const a = await node();
    const b = await node();
    const first = await a.sw.dialPeerWithAddress(b.address);
    await b.reactor.waitFor(() => b.reactor.count("AddPeer") === 1);
    a.sw.stopPeerGracefully(first);
    expect(a.reactor.count("RemovePeer")).toBe(1);
    expect(a.sw.peers().has(b.key.id)).toBe(false);
    await b.reactor.waitFor(() => b.reactor.count("RemovePeer") === 1, 5000, "B RemovePeer");
    expect(b.reactor.removeReasons[0]?.reason).toBeInstanceOf(Error);

    const second = await a.sw.dialPeerWithAddress(b.address);
    expect(second.connectionId).not.toBe(first.connectionId);
    await b.reactor.waitFor(() => b.reactor.count("AddPeer") === 2);
    expectValidTrace(a);
    expectValidTrace(b);
  });

  it("on stop: RemovePeer for every peer, then OnStop; the trace is a complete word", async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    await a.sw.dialPeerWithAddress(b.address);
    await a.sw.dialPeerWithAddress(c.address);
    await a.sw.stop();
    const kinds = a.reactor.events.map((e) => e.kind);
    expect(kinds.filter((k) => k === "RemovePeer")).toHaveLength(2);
    expect(kinds.at(-1)).toBe("OnStop");
    expect(checkReactorTrace(a.reactor.events, { complete: true })).toEqual({ ok: true });
    await b.reactor.waitFor(() => b.reactor.count("RemovePeer") === 1);
    await expect(a.sw.dialPeerWithAddress(b.address)).rejects.toThrow(/stopp/);
  });

  it("keeps at most max_num_inbound_peers inbound peers; unconditional peers are exempt", async () => {
    const unconditionalKey = generateNodeKey();
    const hub = await node({ maxNumInboundPeers: 2, unconditionalPeerIds: [unconditionalKey.id] });
    const dialers = await Promise.all([node(), node(), node()]);
    for (const d of dialers) {
      try {
        await d.sw.dialPeerWithAddress(hub.address);
      } catch {
        /* the hub may close the third one */
      }
    }
    await new Promise((r) => setTimeout(r, 200));
    expect(hub.sw.numPeers().inbound).toBe(2);
    const special = await node({}, unconditionalKey);
    await special.sw.dialPeerWithAddress(hub.address);
    await hub.reactor.waitFor(() => hub.sw.peers().has(unconditionalKey.id), 5000, "unconditional peer");
    expect(hub.sw.numPeers().inbound).toBe(2);
    expect(hub.sw.peers().size).toBe(3);
  });

  it("dials at most max_num_outbound_peers", async () => {
    const a = await node({ maxNumOutboundPeers: 1 });
    const b = await node();
    const c = await node();
    await a.sw.dialPeerWithAddress(b.address);
    await expect(a.sw.dialPeerWithAddress(c.address)).rejects.toBeInstanceOf(OutboundLimitError);
  });

  it("redials a persistent peer that went away, and it comes back", async () => {
    const bKey = generateNodeKey();
    let b = await node({}, bKey);
    const port = parseNetAddress(b.address).port;
    const a = await node({ persistentPeers: [parseNetAddress(b.address)] });
    await a.reactor.waitFor(() => a.reactor.count("AddPeer", bKey.id) === 1, 5000, "first connection");
    await b.sw.stop();
    await a.reactor.waitFor(() => a.reactor.count("RemovePeer", bKey.id) === 1, 5000, "removal");
    b = await node({ listen: { host: "127.0.0.1", port } }, bKey);
    await a.reactor.waitFor(() => a.reactor.count("AddPeer", bKey.id) === 2, 10_000, "reconnection");
    expect(a.sw.peers().get(bKey.id)?.isPersistent()).toBe(true);
    expectValidTrace(a);
  });

  it("a reactor holding one peer's messages does not hold another peer's", async () => {
    const hub = await node();
    const slow = await node();
    const fast = await node();
    await slow.sw.dialPeerWithAddress(hub.address);
    await fast.sw.dialPeerWithAddress(hub.address);
    await hub.reactor.waitFor(() => hub.reactor.count("AddPeer") === 2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    hub.reactor.onReceive = (env) => {
      hub.reactor.hold = env.src.id === slow.key.id ? gate : null;
    };
    const toHubFromSlow = slow.sw.peers().get(hub.key.id)!;
    const toHubFromFast = fast.sw.peers().get(hub.key.id)!;
    for (let i = 0; i < 5; i++) expect(await toHubFromSlow.send(0x40, Uint8Array.of(i))).toBe(true);
    await hub.reactor.waitFor(() => hub.reactor.received.filter((m) => m.peerId === slow.key.id).length === 1);
    for (let i = 0; i < 5; i++) expect(await toHubFromFast.send(0x40, Uint8Array.of(i))).toBe(true);
    await hub.reactor.waitFor(() => hub.reactor.received.filter((m) => m.peerId === fast.key.id).length === 5, 5000, "fast peer");
    expect(hub.reactor.received.filter((m) => m.peerId === slow.key.id)).toHaveLength(1);
    const hubSlowPeer = hub.sw.peers().get(slow.key.id)!;
    expect(hubSlowPeer.status().inboundQueueMessages).toBeGreaterThan(0);
    hub.reactor.onReceive = null;
    hub.reactor.hold = null;
    release();
    await hub.reactor.waitFor(() => hub.reactor.received.filter((m) => m.peerId === slow.key.id).length === 5, 5000, "slow peer drained");
    expect(hub.reactor.received.filter((m) => m.peerId === slow.key.id).map((m) => m.message[0])).toEqual([0, 1, 2, 3, 4]);
  });

  it("broadcast reports a result per peer", async () => {
    const a = await node();
    const b = await node();
    const c = await node();
    await a.sw.dialPeerWithAddress(b.address);
    await a.sw.dialPeerWithAddress(c.address);
    const results = await a.sw.broadcast(0x40, Uint8Array.of(1, 2, 3));
    expect(results.map((r) => r.peerId).sort()).toEqual([b.key.id, c.key.id].sort());
    expect(results.every((r) => r.queued)).toBe(true);
    await b.reactor.waitFor(() => b.reactor.received.length === 1);
    await c.reactor.waitFor(() => c.reactor.received.length === 1);
    const unknown = await a.sw.broadcast(0x77, Uint8Array.of(1));
    expect(unknown.every((r) => !r.queued)).toBe(true);
  });

  it("bounds the per-peer key-value store", async () => {
    const a = await node();
    const b = await node();
    const p = await a.sw.dialPeerWithAddress(b.address);
    p.set("k", 1);
    expect(p.get("k")).toBe(1);
    for (let i = 0; i < 255; i++) p.set(`key${i}`, i);
    expect(() => {
      p.set("one-too-many", 0);
    }).toThrow(PeerDataFullError);
    p.set("k", 2);
    expect(p.get("k")).toBe(2);
  });

  it("a reactor that stops a peer from Receive removes it with that reason, once", async () => {
    const a = await node();
    const b = await node();
    const p = await a.sw.dialPeerWithAddress(b.address);
    await b.reactor.waitFor(() => b.reactor.count("AddPeer") === 1);
    b.reactor.onReceive = (env) => {
      b.sw.stopPeerForError(env.src, new Error("bad message"));
    };
    await p.send(0x40, Uint8Array.of(9));
    await p.send(0x40, Uint8Array.of(10));
    await b.reactor.waitFor(() => b.reactor.count("RemovePeer") === 1);
    expect(b.reactor.removeReasons[0]?.reason?.message).toBe("bad message");
    expect(b.reactor.count("Receive")).toBe(1);
    expectValidTrace(b);
  });

  it("never delivers a held-back message after RemovePeer", async () => {
    const a = await node();
    const b = await node();
    const p = await a.sw.dialPeerWithAddress(b.address);
    await b.reactor.waitFor(() => b.reactor.count("AddPeer") === 1);
    let release!: () => void;
    b.reactor.hold = new Promise<void>((r) => (release = r));
    for (let i = 0; i < 10; i++) expect(await p.send(0x40, Uint8Array.of(i))).toBe(true);
    await b.reactor.waitFor(() => b.reactor.received.length === 1);
    const held = b.sw.peers().get(a.key.id)!;
    await b.reactor.waitFor(() => held.status().inboundQueueMessages === 9, 5000, "9 queued messages");
    b.sw.stopPeerGracefully(held);
    b.reactor.hold = null;
    release();
    await new Promise((r) => setTimeout(r, 50));
    expect(b.reactor.received).toHaveLength(1);
    expectValidTrace(b);
  });
});

describe("CometBFT's default peer limits", () => {
  it("keeps 40 inbound and 10 outbound peers, no more; an unconditional peer is exempt", async () => {
    const unconditional = generateNodeKey();
    // No max_num_* given: the Switch applies CometBFT's defaults (40 inbound, 10 outbound).
    const hub = await node({ unconditionalPeerIds: [unconditional.id] });
    const dialers = await Promise.all(Array.from({ length: 42 }, () => node({ dialRandomizerMs: 0 })));
    await Promise.all(
      dialers.map((d) =>
        d.sw.dialPeerWithAddress(hub.address).catch(() => {
          /* the hub closes the ones over its limit after the handshake */
        }),
      ),
    );
    await until(() => hub.sw.numPeers().inbound === 40, 10_000, "40 inbound peers");
    await new Promise((r) => setTimeout(r, 200));
    expect(hub.sw.numPeers().inbound).toBe(40);
    const special = await node({}, unconditional);
    await special.sw.dialPeerWithAddress(hub.address);
    await until(() => hub.sw.peers().has(unconditional.id), 5000, "the unconditional peer");
    expect(hub.sw.numPeers().inbound).toBe(40);

    const targets = await Promise.all(Array.from({ length: 11 }, () => node()));
    const outcomes = await Promise.allSettled(targets.map((t) => hub.sw.dialPeerWithAddress(t.address)));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(10);
    expect(outcomes.filter((o) => o.status === "rejected" && o.reason instanceof OutboundLimitError)).toHaveLength(1);
    expect(hub.sw.numPeers().outbound).toBe(10);
  }, 60_000);
});
