/**
 * A fake Switch for gateway tests that need no sockets: it implements the
 * contracts the gateway is allowed to use (SwitchControl, hence SwitchApi),
 * records what it is asked, and drives its reactors' peer calls by hand.
 */
import type { NetAddress } from "../../src/p2p/net-address.js";
import type { Peer } from "../../src/p2p/peer.js";
import type { Reactor } from "../../src/p2p/reactor.js";
import type { BroadcastResult, PeerCounts, PeerSetView, StopPeerOptions } from "../../src/p2p/switch-api.js";
import type { SwitchControl, SwitchState } from "../../src/p2p/switch-control.js";
import type { ChannelDescriptor } from "../../src/wire/mconnection/channel-descriptor.js";
import type { NodeInfo } from "../../src/wire/node-info.js";

let counter = 0;

/** The parts of a Peer the gateway's commands and conversions use. */
export class FakePeer {
  readonly id: string;
  readonly connectionId: string;
  readonly nodeInfo: NodeInfo;
  readonly socketAddress: NetAddress;
  readonly remoteHost = "127.0.0.1";
  readonly remotePort = 40_000;
  readonly unconditional = false;
  readonly createdAt = Date.now();
  /** Messages queued by trySend or send. */
  readonly sent: { channelId: number; message: Uint8Array }[] = [];
  /** Sends waiting for room: resolve them with `release`. */
  readonly waiting: { channelId: number; message: Uint8Array; timeoutMs: number | undefined; resolve: (queued: boolean) => void }[] = [];
  /** Whether trySend finds room. */
  room = true;
  private readonly data = new Map<string, unknown>();

  constructor(
    private readonly channels: readonly number[],
    id?: string,
  ) {
    counter++;
    this.id = id ?? counter.toString(16).padStart(40, "0");
    this.connectionId = `${this.id.slice(0, 8)}#${counter}`;
    this.socketAddress = { id: this.id, host: this.remoteHost, port: 26656 };
    this.nodeInfo = {
      protocolVersion: { p2p: 8n, block: 11n, app: 0n },
      nodeId: this.id,
      listenAddr: "tcp://127.0.0.1:26656",
      network: "fake-chain",
      version: "0.38.0",
      channels: [...channels],
      moniker: "fake",
      other: { txIndex: "off", rpcAddress: "" },
    };
  }

  asPeer(): Peer {
    return this as unknown as Peer;
  }

  isOutbound(): boolean {
    return true;
  }

  isPersistent(): boolean {
    return false;
  }

  hasChannel(id: number): boolean {
    return this.channels.includes(id);
  }

  trySend(channelId: number, message: Uint8Array): boolean {
    if (!this.room) return false;
    this.sent.push({ channelId, message });
    return true;
  }

  send(channelId: number, message: Uint8Array, options?: { timeoutMs?: number }): Promise<boolean> {
    return new Promise((resolve) => {
      this.waiting.push({ channelId, message, timeoutMs: options?.timeoutMs, resolve });
    });
  }

  /** Completes the oldest waiting send: queued or timed out. */
  release(queued: boolean): void {
    const w = this.waiting.shift();
    if (w === undefined) throw new Error("no send is waiting");
    if (queued) this.sent.push({ channelId: w.channelId, message: w.message });
    w.resolve(queued);
  }

  get(key: string): unknown {
    return this.data.get(key);
  }

  set(key: string, value: unknown): void {
    this.data.set(key, value);
  }

  status(): unknown {
    return {
      connection: {
        channels: this.channels.map((id) => ({ id, bytesSent: 0, bytesReceived: 0, sendQueueCapacity: 1, sendQueueSize: 0, priority: 1, recentlySent: 0 })),
        sendMonitor: { curRateBytesPerSecond: 0 },
        recvMonitor: { curRateBytesPerSecond: 0 },
      },
    };
  }
}

/** What a fake Switch was asked to do, in order. */
export type SwitchCall =
  | { readonly op: "broadcast"; readonly channelId: number; readonly message: Uint8Array }
  | { readonly op: "markPeerAsGood"; readonly peer: string }
  | { readonly op: "stopPeerForError"; readonly peer: string; readonly reason: string; readonly reconnect: boolean | undefined }
  | { readonly op: "stopPeerGracefully"; readonly peer: string }
  | { readonly op: "flushStopPeer"; readonly peer: string }
  | { readonly op: "addPersistentPeers"; readonly addresses: readonly NetAddress[] }
  | { readonly op: "dialPeersAsync"; readonly addresses: readonly string[] }
  | { readonly op: "dialPeerWithAddress"; readonly address: string };

export class FakeSwitch implements SwitchControl {
  lifecycle: SwitchState = "created";
  readonly listenAddress = null;
  readonly calls: SwitchCall[] = [];
  private readonly reactors: { name: string; reactor: Reactor; channels: readonly ChannelDescriptor[] }[] = [];
  private readonly connected = new Map<string, FakePeer>();

  addReactor(name: string, reactor: Reactor): void {
    if (this.lifecycle !== "created") throw new Error(`cannot add reactor "${name}": started`);
    const channels = reactor.getChannels();
    for (const c of channels) {
      const owner = this.channelOwner(c.id);
      if (owner !== undefined) throw new Error(`channel 0x${c.id.toString(16)} of reactor "${name}" is already owned by reactor "${owner}"`);
    }
    this.reactors.push({ name, reactor, channels });
    reactor.setSwitch(this);
  }

  channelOwner(id: number): string | undefined {
    return this.reactors.find((r) => r.channels.some((c) => c.id === id))?.name;
  }

  channels(): readonly ChannelDescriptor[] {
    return this.reactors.flatMap((r) => r.channels);
  }

  /** As the Switch starts: OnStart on every reactor. */
  start(): void {
    this.lifecycle = "running";
    for (const r of this.reactors) void r.reactor.onStart();
  }

  /** The Switch's add sequence for a peer: InitPeer, then AddPeer, on every reactor. */
  connect(peer: FakePeer): Peer {
    const p = peer.asPeer();
    for (const r of this.reactors) r.reactor.initPeer(p);
    this.connected.set(peer.id, peer);
    for (const r of this.reactors) r.reactor.addPeer(p);
    return p;
  }

  /** RemovePeer on every reactor, then the peer is forgotten. */
  disconnect(peer: FakePeer, reason?: Error): void {
    for (const r of this.reactors) r.reactor.removePeer(peer.asPeer(), reason);
    this.connected.delete(peer.id);
  }

  nodeInfo(): NodeInfo {
    return {
      protocolVersion: { p2p: 8n, block: 11n, app: 0n },
      nodeId: "ab".repeat(20),
      listenAddr: "tcp://127.0.0.1:26656",
      network: "fake-chain",
      version: "0.38.0",
      channels: this.channels().map((c) => c.id),
      moniker: "fake-node",
      other: { txIndex: "off", rpcAddress: "" },
    };
  }

  peers(): PeerSetView {
    const snapshot = new Map([...this.connected].map(([id, p]) => [id, p.asPeer()]));
    return { size: snapshot.size, list: () => [...snapshot.values()], get: (id) => snapshot.get(id), has: (id) => snapshot.has(id) };
  }

  numPeers(): PeerCounts {
    return { outbound: this.connected.size, inbound: 0, dialing: 0 };
  }

  broadcast(channelId: number, message: Uint8Array): Promise<readonly BroadcastResult[]> {
    this.calls.push({ op: "broadcast", channelId, message });
    return Promise.resolve([...this.connected.values()].map((p) => ({ peerId: p.id, queued: p.trySend(channelId, message) })));
  }

  markPeerAsGood(peer: Peer): void {
    this.calls.push({ op: "markPeerAsGood", peer: peer.id });
  }

  stopPeerForError(peer: Peer, reason: Error, options?: StopPeerOptions): void {
    this.calls.push({ op: "stopPeerForError", peer: peer.id, reason: reason.message, reconnect: options?.reconnect });
  }

  stopPeerGracefully(peer: Peer): void {
    this.calls.push({ op: "stopPeerGracefully", peer: peer.id });
  }

  flushStopPeer(peer: Peer): Promise<void> {
    this.calls.push({ op: "flushStopPeer", peer: peer.id });
    return Promise.resolve();
  }

  addPersistentPeers(addresses: readonly NetAddress[]): void {
    this.calls.push({ op: "addPersistentPeers", addresses });
  }

  dialPeersAsync(addresses: readonly string[]): void {
    this.calls.push({ op: "dialPeersAsync", addresses });
  }

  dialPeerWithAddress(address: string): Promise<Peer> {
    this.calls.push({ op: "dialPeerWithAddress", address });
    return Promise.reject(new Error("the fake switch dials nobody"));
  }
}
