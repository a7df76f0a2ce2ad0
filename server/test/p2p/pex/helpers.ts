/** Fakes and generators for the PEX tests: a hand-driven wall clock, a seeded random source, fake peers and a fake switch. */
import { createHash } from "node:crypto";
import type { PexClock, PexRandom, PexTimer } from "../../../src/p2p/pex/clock.js";
import { AddressBook, type AddressBookOptions } from "../../../src/p2p/pex/address-book.js";
import { DialError } from "../../../src/p2p/errors.js";
import type { NetAddress } from "../../../src/p2p/net-address.js";
import type { Peer } from "../../../src/p2p/peer.js";
import type { Reactor } from "../../../src/p2p/reactor.js";
import type { BroadcastResult, PeerCounts, PeerSetView, SwitchApi } from "../../../src/p2p/switch-api.js";
import type { NodeInfo } from "../../../src/wire/node-info.js";
import { silentLogger } from "../../support/nodes.js";

export { silentLogger };

/** 2025-01-01T00:00:00Z: tests start at a real date, so 0 keeps meaning "never". */
export const T0 = Date.UTC(2025, 0, 1);

interface TimerEntry {
  readonly id: number;
  readonly atMs: number;
  readonly callback: () => void;
}

/** A wall clock that moves only through `advance`, firing due timers earliest first. */
export class FakeClock implements PexClock {
  private nowMs: number;
  private nextId = 0;
  private readonly timers = new Map<number, TimerEntry>();

  constructor(startMs = T0) {
    this.nowMs = startMs;
  }

  now(): number {
    return this.nowMs;
  }

  setTimeout(callback: () => void, delayMs: number): PexTimer {
    const id = this.nextId++;
    this.timers.set(id, { id, atMs: this.nowMs + Math.max(0, delayMs), callback });
    return { cancel: () => this.timers.delete(id) };
  }

  get pendingTimers(): number {
    return this.timers.size;
  }

  advance(ms: number): void {
    const target = this.nowMs + ms;
    for (;;) {
      let due: TimerEntry | undefined;
      for (const t of this.timers.values()) {
        if (t.atMs <= target && (due === undefined || t.atMs < due.atMs || (t.atMs === due.atMs && t.id < due.id))) due = t;
      }
      if (due === undefined) break;
      this.timers.delete(due.id);
      this.nowMs = Math.max(this.nowMs, due.atMs);
      due.callback();
    }
    this.nowMs = target;
  }
}

/** mulberry32: a small deterministic PRNG. */
export function seededRandom(seed: number): PexRandom {
  let a = seed >>> 0;
  return {
    float() {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    },
  };
}

/** A deterministic, valid node ID. */
export function nodeId(label: string | number): string {
  return createHash("sha256").update(String(label)).digest("hex").slice(0, 40);
}

/** A public (routable) IPv4 address; each i below 89 × 65536 gives a distinct /16. */
export function publicIp(i: number): string {
  return `${11 + (i % 89)}.${Math.floor(i / 89) % 256}.${Math.floor(i / (89 * 256)) % 256}.7`;
}

/** The i-th public address, each in its own /16. */
export function publicAddr(i: number, port = 26656): NetAddress {
  return { id: nodeId(`addr-${i}`), host: publicIp(i), port };
}

/** Resolves after pending promise callbacks and I/O have run. */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function makeBook(options: Partial<AddressBookOptions> = {}): AddressBook {
  // A fixed bucket key makes placement, and so every test, deterministic.
  return new AddressBook({ logger: silentLogger, strict: false, clock: new FakeClock(), random: seededRandom(1), key: "00112233445566778899aabb", ...options });
}

export interface Sent {
  readonly channelId: number;
  readonly message: Uint8Array;
}

let connectionCounter = 0;

export interface FakePeerOptions {
  readonly id?: string;
  readonly outbound?: boolean;
  readonly persistent?: boolean;
  readonly listenAddr?: string;
  readonly socketAddress?: NetAddress;
  readonly remoteHost?: string;
}

/** The parts of Peer the PEX reactor uses. */
export class FakePeer {
  readonly id: string;
  readonly connectionId: string;
  readonly nodeInfo: NodeInfo;
  readonly socketAddress: NetAddress;
  readonly remoteHost: string;
  readonly remotePort = 40_000;
  readonly sent: Sent[] = [];
  /** What `send` resolves with. */
  sendResult = true;
  private readonly outbound: boolean;
  private readonly persistent: boolean;

  constructor(options: FakePeerOptions = {}) {
    this.id = options.id ?? nodeId(`peer-${connectionCounter}`);
    this.connectionId = `${this.id.slice(0, 8)}#${++connectionCounter}`;
    this.outbound = options.outbound ?? true;
    this.persistent = options.persistent ?? false;
    const listenAddr = options.listenAddr ?? "tcp://93.184.216.34:26656";
    this.nodeInfo = {
      protocolVersion: { p2p: 8n, block: 11n, app: 0n },
      nodeId: this.id,
      listenAddr,
      network: "test-chain",
      version: "0.38.25",
      channels: [0x00],
      moniker: "fake",
      other: { txIndex: "off", rpcAddress: "" },
    };
    this.socketAddress = options.socketAddress ?? { id: this.id, host: "93.184.216.34", port: 26656 };
    this.remoteHost = options.remoteHost ?? this.socketAddress.host;
  }

  isOutbound(): boolean {
    return this.outbound;
  }

  isPersistent(): boolean {
    return this.persistent;
  }

  hasChannel(channelId: number): boolean {
    return this.nodeInfo.channels.includes(channelId);
  }

  send(channelId: number, message: Uint8Array): Promise<boolean> {
    this.sent.push({ channelId, message: message.slice() });
    return Promise.resolve(this.sendResult);
  }

  trySend(channelId: number, message: Uint8Array): boolean {
    this.sent.push({ channelId, message: message.slice() });
    return this.sendResult;
  }

  asPeer(): Peer {
    return this as unknown as Peer;
  }
}

export interface StopCall {
  readonly peer: Peer;
  readonly reason: Error;
}

/**
 * A SwitchApi that records what the reactor asks for. Like the real Switch,
 * `stopPeerForError` calls the reactor's RemovePeer and forgets the peer.
 */
export class FakeSwitch implements SwitchApi {
  readonly connected = new Map<string, Peer>();
  readonly stops: StopCall[] = [];
  readonly dials: string[] = [];
  private inFlight = 0;
  /** Extra counts reported by numPeers, on top of the connected peers. */
  extra: PeerCounts = { outbound: 0, inbound: 0, dialing: 0 };
  /** How a dial ends; by default it fails like an unreachable host. */
  dialImpl: (address: string) => Promise<Peer> = (address) => Promise.reject(new DialError(address, "connection refused"));

  constructor(private readonly reactor: Reactor) {}

  /** Runs the Switch's add sequence for a fake peer. */
  connect(peer: FakePeer): Peer {
    const p = peer.asPeer();
    this.reactor.initPeer(p);
    this.connected.set(p.id, p);
    this.reactor.addPeer(p);
    return p;
  }

  disconnect(peer: Peer): void {
    if (this.connected.get(peer.id) !== peer) return;
    this.reactor.removePeer(peer, undefined);
    this.connected.delete(peer.id);
  }

  nodeInfo(): NodeInfo {
    throw new Error("not used by the PEX reactor");
  }

  peers(): PeerSetView {
    const snapshot = new Map(this.connected);
    return {
      size: snapshot.size,
      list: () => [...snapshot.values()],
      get: (id) => snapshot.get(id),
      has: (id) => snapshot.has(id),
    };
  }

  numPeers(): PeerCounts {
    let outbound = this.extra.outbound;
    let inbound = this.extra.inbound;
    for (const p of this.connected.values()) {
      if (p.isOutbound()) outbound++;
      else inbound++;
    }
    return { outbound, inbound, dialing: this.extra.dialing + this.inFlight };
  }

  addPersistentPeers(): void {
    throw new Error("not used by the PEX reactor");
  }

  broadcast(): Promise<readonly BroadcastResult[]> {
    return Promise.resolve([]);
  }

  markPeerAsGood(): void {
    /* not used */
  }

  stopPeerForError(peer: Peer, reason: Error): void {
    if (this.connected.get(peer.id) !== peer) return;
    this.stops.push({ peer, reason });
    this.disconnect(peer);
  }

  stopPeerGracefully(peer: Peer): void {
    this.disconnect(peer);
  }

  /** Peers the reactor asked to flush-stop, in order. Like the real Switch, the removal comes later (`completeFlushStops`). */
  readonly flushStops: Peer[] = [];

  flushStopPeer(peer: Peer): Promise<void> {
    if (this.connected.get(peer.id) === peer) this.flushStops.push(peer);
    return Promise.resolve();
  }

  /** Ends every flushing stop asked for: RemovePeer, as the Switch does once flushed. */
  completeFlushStops(): void {
    for (const peer of this.flushStops.splice(0)) this.disconnect(peer);
  }

  dialPeersAsync(): void {
    /* not used */
  }

  /** Counted as dialing until settled, as the real Switch does. */
  dialPeerWithAddress(address: string): Promise<Peer> {
    this.dials.push(address);
    this.inFlight++;
    const done = (): void => {
      this.inFlight--;
    };
    const result = this.dialImpl(address);
    result.then(done, done);
    return result;
  }
}
