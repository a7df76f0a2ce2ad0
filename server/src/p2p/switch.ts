/**
 * The Switch: owns every peer connection and every reactor, and calls the
 * reactors in the orders the CometBFT reactor spec allows.
 *
 * Adding a peer (CometBFT's order, p2p/switch.go `addPeer`):
 *   filter (duplicate ID) → InitPeer on every reactor → start the connection
 *   → add to the peer set → AddPeer on every reactor.
 * A start failure still ends with RemovePeer on every reactor that saw InitPeer.
 *
 * Removing a peer: stop its connection → RemovePeer on every reactor → drop
 * it from the peer set. Then the same ID may connect again as a new peer.
 * A flushing stop (`flushStopPeer`) first flushes what is queued to the
 * peer, the peer staying in the set meanwhile, then removes it the same way.
 *
 * JavaScript runs one thing at a time, so these sequences are never
 * interleaved with each other: a node ID never has two overlapping
 * peer connections as far as reactors can see.
 */
import { randomInt } from "node:crypto";
import type { Logger } from "pino";
import { type ChannelDescriptor, fillChannelDefaults } from "../wire/mconnection/channel-descriptor.js";
import type { MConnectionConfig } from "../wire/mconnection/mconnection.js";
import { BLOCK_PROTOCOL_VERSION, MAX_NUM_CHANNELS, type NodeInfo, P2P_PROTOCOL_VERSION } from "../wire/node-info.js";
import {
  CONNECTION_ERROR_CODES,
  type ConnectionDirection,
  type ConnectionErrorCode,
  ErrorCounts,
  PEER_ERROR_CODES,
  type PeerErrorCode,
  type RejectionReason,
  connectionErrorCode,
  peerErrorCode,
  rejectionReason,
} from "./connection-errors.js";
import { AlreadyConnectedError, ConnectionRejectedError, OutboundLimitError, P2PStartError, SwitchConfigError, SwitchStoppingError } from "./errors.js";
import { IpRateLimiter } from "./ip-rate-limiter.js";
import { type NetAddress, formatHostPort, formatNetAddress, parseNetAddress } from "./net-address.js";
import type { NodeKey } from "./node-key.js";
import {
  DEFAULT_ACCEPT_BURST_PER_IP,
  DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND,
  DEFAULT_ALLOW_DUPLICATE_IP,
  DEFAULT_DIAL_RANDOMIZER_MS,
  DEFAULT_MAX_NUM_INBOUND_PEERS,
  DEFAULT_MAX_NUM_OUTBOUND_PEERS,
} from "./defaults.js";
import { Peer } from "./peer.js";
import type { Reactor, RemoveReason } from "./reactor.js";
import { RepeatFilter } from "./repeat-filter.js";
import { canonicalIp } from "./pex/ip.js";
import type { BroadcastResult, PeerCounts, PeerSetView, StopPeerOptions } from "./switch-api.js";
import type { SwitchControl, SwitchState } from "./switch-control.js";

export type { SwitchState } from "./switch-control.js";
import { type AcceptRefusal, Transport, type UpgradedConnection } from "./transport.js";

/** Software version we advertise in NodeInfo. */
export const SWITCHBOARD_VERSION = "0.38.25-switchboard";

export interface ReconnectSchedule {
  /** Phase 1: attempts at a fixed interval. @default 20 */
  readonly attempts: number;
  /** Phase 1 interval. @default 5000 */
  readonly intervalMs: number;
  /** Phase 2: exponential backoff attempts, sleeping base^i seconds for i = 1..n. @default 10 */
  readonly backoffAttempts: number;
  /** @default 3 */
  readonly backoffBaseSeconds: number;
  /** A random 0..randomizerMs is added to every sleep. @default 3000 */
  readonly randomizerMs: number;
}

/**
 * A refusal of the same kind, from or to the same peer, is logged at info
 * once per this window (CometBFT peers redial every 5 s); repeats meanwhile go
 * at debug, and the next info line counts them.
 */
export const REJECTION_LOG_WINDOW_MS = 10 * 60_000;
/** Peers and reasons {@link REJECTION_LOG_WINDOW_MS} remembers at once. */
export const REJECTION_LOG_MAX_KEYS = 1024;
/** Refusals that need nothing from an operator (a race between two dials, a stop): logged at debug. */
const ROUTINE_REJECTIONS: ReadonlySet<RejectionReason> = new Set(["duplicate_peer", "switch_stopping"]);

/** A delay for people: "250ms" under a second, "5.2s" under a minute, else "1m21s", "4h3m9s". */
export function formatDelay(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const total = Math.round(ms / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  return `${h > 0 ? `${h}h` : ""}${h > 0 || m > 0 ? `${m}m` : ""}${sec}s`;
}

function errorText(err: unknown): string {
  if (err instanceof ConnectionRejectedError) return err.detail;
  return err instanceof Error ? err.message : String(err);
}

/** CometBFT v0.38.14+'s reconnect schedule (p2p/switch.go). */
export const DEFAULT_RECONNECT_SCHEDULE: ReconnectSchedule = {
  attempts: 20,
  intervalMs: 5_000,
  backoffAttempts: 10,
  backoffBaseSeconds: 3,
  randomizerMs: 3_000,
};

export interface SwitchConfig {
  /** Chain ID; peers on another network are refused. */
  readonly network: string;
  readonly moniker: string;
  /** @default {@link SWITCHBOARD_VERSION} */
  readonly version?: string;
  /** @default {p2p: 8, block: 11, app: 0} */
  readonly protocolVersion?: { readonly p2p: bigint; readonly block: bigint; readonly app: bigint };
  readonly txIndex?: string;
  readonly rpcAddress?: string;
  /** Where to listen; null for a node that only dials. */
  readonly listen: { readonly host: string; readonly port: number } | null;
  /** host:port we advertise; defaults to the bound listen address. */
  readonly externalAddress?: string;
  /** @default {@link DEFAULT_MAX_NUM_INBOUND_PEERS} */
  readonly maxNumInboundPeers?: number;
  /** @default {@link DEFAULT_MAX_NUM_OUTBOUND_PEERS} */
  readonly maxNumOutboundPeers?: number;
  readonly persistentPeers?: readonly NetAddress[];
  readonly seeds?: readonly NetAddress[];
  readonly unconditionalPeerIds?: readonly string[];
  readonly privatePeerIds?: readonly string[];
  /** @default false */
  readonly allowDuplicateIp?: boolean;
  readonly mconn?: Partial<MConnectionConfig>;
  /** @default 3000 */
  readonly handshakeTimeoutMs?: number;
  /** @default 1000 */
  readonly dialTimeoutMs?: number;
  /** @default 64 */
  readonly maxConcurrentHandshakes?: number;
  /** Inbound connection attempts per IP. @default {@link DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND}, {@link DEFAULT_ACCEPT_BURST_PER_IP} */
  readonly acceptRateLimit?: { readonly ratePerSecond: number; readonly burst: number };
  readonly reconnect?: Partial<ReconnectSchedule>;
  /** `dialPeersAsync` sleeps a random 0..n ms before each dial. @default {@link DEFAULT_DIAL_RANDOMIZER_MS} */
  readonly dialRandomizerMs?: number;
  readonly inboundQueueMaxBytes?: number;
  readonly inboundQueueMaxMessages?: number;
}

interface RegisteredReactor {
  readonly name: string;
  readonly reactor: Reactor;
  readonly channels: readonly ChannelDescriptor[];
}

class PeerSetSnapshot implements PeerSetView {
  private readonly byId: ReadonlyMap<string, Peer>;
  constructor(peers: Iterable<Peer>) {
    this.byId = new Map([...peers].map((p) => [p.id, p]));
  }
  get size(): number {
    return this.byId.size;
  }
  list(): readonly Peer[] {
    return [...this.byId.values()];
  }
  get(id: string): Peer | undefined {
    return this.byId.get(id);
  }
  has(id: string): boolean {
    return this.byId.has(id);
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal.aborted) {
      resolve(false);
      return;
    }
    const timer = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve(true);
    }, ms);
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export interface SwitchOptions {
  readonly nodeKey: NodeKey;
  readonly config: SwitchConfig;
  readonly logger: Logger;
  /** Called on every peer added and removed (metrics, address book). */
  readonly hooks?: {
    readonly onPeerAdded?: (peer: Peer) => void;
    readonly onPeerRemoved?: (peer: Peer, reason: RemoveReason) => void;
    readonly onMarkGood?: (peer: Peer) => void;
    /** True for an IP the address book knows to be good: its inbound handshakes may use the reserved slots. */
    readonly isKnownGoodHost?: (host: string) => boolean;
  };
}

export class Switch implements SwitchControl {
  private state: SwitchState = "created";
  private readonly reactors: RegisteredReactor[] = [];
  private readonly reactorsByChannel = new Map<number, Reactor>();
  private readonly channelOwners = new Map<number, string>();
  private readonly channelDescs: ChannelDescriptor[] = [];
  private readonly peerSet = new Map<string, Peer>();
  /** IDs between filter and add (handshake done, reactors being told). */
  private readonly adding = new Set<string>();
  private readonly dialing = new Set<string>();
  private readonly reconnecting = new Map<string, AbortController>();
  private readonly transport: Transport;
  private readonly lifetime = new AbortController();
  private readonly acceptLimiter: IpRateLimiter;
  private readonly persistentById: Map<string, NetAddress>;
  /** The persistent peers' hosts that are IP literals, canonical (isPreferredInboundHost; a name is never an inbound socket's address). */
  private readonly persistentIps = new Set<string>();
  private readonly unconditionalIds: ReadonlySet<string>;
  private readonly privateIds: ReadonlySet<string>;
  private readonly reconnect: ReconnectSchedule;
  private readonly logger: Logger;
  private connectionCounter = 0;
  private ourNodeInfo: NodeInfo | null = null;
  private boundListen: { host: string; port: number } | null = null;
  private readonly background = new Set<Promise<unknown>>();
  /** Connections that never became peers, by direction and code (closed sets: bounded). */
  private readonly connectionErrorCounts = {
    inbound: new ErrorCounts<ConnectionErrorCode>(CONNECTION_ERROR_CODES),
    outbound: new ErrorCounts<ConnectionErrorCode>(CONNECTION_ERROR_CODES),
  };
  /** Peers dropped for an error, by code (a closed set: bounded). */
  private readonly peerErrorCounts = new ErrorCounts<PeerErrorCode>(PEER_ERROR_CODES);
  /** Which refusals were logged at info lately (see {@link REJECTION_LOG_WINDOW_MS}). */
  private readonly rejectionRepeats = new RepeatFilter(REJECTION_LOG_WINDOW_MS, REJECTION_LOG_MAX_KEYS);

  constructor(private readonly options: SwitchOptions) {
    const c = options.config;
    this.logger = options.logger.child({ module: "switch" });
    this.transport = new Transport({
      nodeKey: options.nodeKey,
      nodeInfo: () => this.nodeInfo(),
      logger: options.logger.child({ module: "transport" }),
      ...(c.handshakeTimeoutMs === undefined ? {} : { handshakeTimeoutMs: c.handshakeTimeoutMs }),
      ...(c.dialTimeoutMs === undefined ? {} : { dialTimeoutMs: c.dialTimeoutMs }),
      ...(c.maxConcurrentHandshakes === undefined ? {} : { maxConcurrentHandshakes: c.maxConcurrentHandshakes }),
    });
    this.acceptLimiter = new IpRateLimiter(c.acceptRateLimit ?? { ratePerSecond: DEFAULT_ACCEPT_RATE_PER_IP_PER_SECOND, burst: DEFAULT_ACCEPT_BURST_PER_IP });
    this.persistentById = new Map((c.persistentPeers ?? []).map((a) => [a.id, a]));
    for (const a of this.persistentById.values()) this.notePersistentIp(a);
    this.unconditionalIds = new Set((c.unconditionalPeerIds ?? []).map((s) => s.toLowerCase()));
    this.privateIds = new Set((c.privatePeerIds ?? []).map((s) => s.toLowerCase()));
    this.reconnect = { ...DEFAULT_RECONNECT_SCHEDULE, ...c.reconnect };
  }

  get lifecycle(): SwitchState {
    return this.state;
  }

  get nodeId(): string {
    return this.options.nodeKey.id;
  }

  /** The address the listener is bound to, once started. */
  get listenAddress(): { host: string; port: number } | null {
    return this.boundListen;
  }

  /** Inbound and outbound handshakes (SecretConnection and NodeInfo exchange) under way. */
  get handshakesInProgress(): number {
    return this.transport.handshakesInProgress;
  }

  /** Persistent peers being redialled (one reconnect routine each). */
  get reconnectingPeers(): number {
    return this.reconnecting.size;
  }

  /** Source IPs the inbound attempt rate limit tracks (bounded; the least recently seen is forgotten). */
  get acceptRateLimitTrackedIps(): number {
    return this.acceptLimiter.size;
  }

  /** How many connections never became peers, by direction and code, since start. Every code is listed. */
  connectionErrors(): readonly { readonly direction: ConnectionDirection; readonly code: ConnectionErrorCode; readonly count: number }[] {
    const out: { direction: ConnectionDirection; code: ConnectionErrorCode; count: number }[] = [];
    for (const direction of ["inbound", "outbound"] as const) {
      for (const [code, count] of this.connectionErrorCounts[direction].entries()) out.push({ direction, code, count });
    }
    return out;
  }

  /** How many peers were dropped for an error, by code, since start. Every code is listed. */
  peerErrors(): readonly { readonly code: PeerErrorCode; readonly count: number }[] {
    return [...this.peerErrorCounts.entries()].map(([code, count]) => ({ code, count }));
  }

  private countConnectionError(direction: ConnectionDirection, code: ConnectionErrorCode): void {
    this.connectionErrorCounts[direction].add(code);
  }

  /**
   * "inbound peer rejected" / "outbound peer rejected" (CometBFT: "Inbound
   * Peer rejected"), at info, with the reason: once per peer (or host, before
   * the handshake) and reason per {@link REJECTION_LOG_WINDOW_MS}, repeats at
   * debug; routine refusals at debug.
   */
  private logRejection(
    direction: ConnectionDirection,
    r: { readonly peerId: string | undefined; readonly host: string; readonly addr: string; readonly reason: RejectionReason; readonly err: string },
  ): void {
    const msg = `${direction} peer rejected`;
    const fields = { peer_id: r.peerId, addr: r.addr, reason: r.reason, err: r.err, peers: this.peerSet.size };
    const held = ROUTINE_REJECTIONS.has(r.reason) ? null : this.rejectionRepeats.admit(`${direction} ${r.peerId ?? r.host} ${r.reason}`);
    if (held === null) this.logger.debug(fields, msg);
    else this.logger.info(held > 0 ? { ...fields, repeats_not_logged: held } : fields, msg);
  }

  /** True for IDs listed in `private_peer_ids`: never gossiped. */
  isPrivate(id: string): boolean {
    return this.privateIds.has(id);
  }

  /**
   * Registers a reactor under a unique name, before start only. Calls its
   * `getChannels` then `setSwitch`. Channels already owned by another
   * reactor, or more channels than a NodeInfo may list, are errors.
   */
  addReactor(name: string, reactor: Reactor): void {
    if (this.state !== "created") throw new SwitchConfigError(`cannot add reactor "${name}": the switch has already started`);
    if (this.reactors.some((r) => r.name === name)) throw new SwitchConfigError(`a reactor named "${name}" is already registered`);
    const channels = reactor.getChannels().map((d) => fillChannelDefaults(d));
    const seen = new Set<number>();
    for (const d of channels) {
      const owner = this.channelOwners.get(d.id);
      if (owner !== undefined) {
        throw new SwitchConfigError(`channel 0x${d.id.toString(16).padStart(2, "0")} of reactor "${name}" is already owned by reactor "${owner}"`);
      }
      if (seen.has(d.id)) throw new SwitchConfigError(`reactor "${name}" lists channel 0x${d.id.toString(16)} twice`);
      seen.add(d.id);
    }
    if (this.channelDescs.length + channels.length > MAX_NUM_CHANNELS) {
      throw new SwitchConfigError(
        `reactor "${name}" would bring the node to ${this.channelDescs.length + channels.length} channels; a NodeInfo lists at most ${MAX_NUM_CHANNELS}`,
      );
    }
    for (const d of channels) {
      this.channelOwners.set(d.id, name);
      this.reactorsByChannel.set(d.id, reactor);
      this.channelDescs.push(d);
    }
    this.reactors.push({ name, reactor, channels });
    reactor.setSwitch(this);
  }

  /** The reactor registered under `name`. */
  getReactor(name: string): Reactor | undefined {
    return this.reactors.find((r) => r.name === name)?.reactor;
  }

  /** The name of the reactor that owns channel `id`, if any. */
  channelOwner(id: number): string | undefined {
    return this.channelOwners.get(id);
  }

  /** Our channels, in registration order. */
  channels(): readonly ChannelDescriptor[] {
    return this.channelDescs;
  }

  nodeInfo(): NodeInfo {
    if (this.ourNodeInfo !== null) return this.ourNodeInfo;
    return this.buildNodeInfo();
  }

  private buildNodeInfo(): NodeInfo {
    const c = this.options.config;
    const bound = this.boundListen;
    const listenAddr = c.externalAddress !== undefined && c.externalAddress !== ""
      ? c.externalAddress
      : bound !== null
        ? `tcp://${formatHostPort(bound.host, bound.port)}`
        : c.listen !== null
          ? `tcp://${formatHostPort(c.listen.host, c.listen.port)}`
          : "tcp://0.0.0.0:0";
    return {
      protocolVersion: c.protocolVersion ?? { p2p: P2P_PROTOCOL_VERSION, block: BLOCK_PROTOCOL_VERSION, app: 0n },
      nodeId: this.options.nodeKey.id,
      listenAddr,
      network: c.network,
      version: c.version ?? SWITCHBOARD_VERSION,
      channels: this.channelDescs.map((d) => d.id),
      moniker: c.moniker,
      other: { txIndex: c.txIndex ?? "off", rpcAddress: c.rpcAddress ?? "" },
    };
  }

  /** Starts the reactors, then the listener, then dials persistent peers and seeds. Once only. */
  async start(): Promise<void> {
    if (this.state !== "created") throw new SwitchConfigError(`cannot start a switch in state ${this.state}`);
    this.state = "starting";
    const c = this.options.config;
    try {
      if (c.listen !== null) {
        this.transport.setAcceptFilter((host) => this.filterInboundSocket(host));
        this.transport.setPreferredHost((host) => this.isPreferredInboundHost(host));
        this.boundListen = await this.transport.listen(c.listen.host, c.listen.port, {
          onInbound: (conn) => {
            this.onInbound(conn);
          },
          onInboundRejected: (remote, error) => {
            this.countConnectionError("inbound", connectionErrorCode(error));
            this.logRejection("inbound", {
              peerId: error instanceof ConnectionRejectedError ? error.peerId : undefined,
              host: remote.host,
              addr: formatHostPort(remote.host, remote.port),
              reason: rejectionReason(error),
              err: errorText(error),
            });
          },
        });
      }
      this.ourNodeInfo = this.buildNodeInfo();
      for (const r of this.reactors) await r.reactor.onStart();
    } catch (err) {
      this.state = "stopped";
      await this.transport.close();
      throw err;
    }
    this.state = "running";
    this.logger.info({ node_id: this.nodeId, listen: this.boundListen, channels: this.channelDescs.length }, "switch started");
    const persistent = [...this.persistentById.values()].map(formatNetAddress);
    if (persistent.length > 0) this.dialPeersAsync(persistent);
    const seeds = (c.seeds ?? []).map(formatNetAddress);
    if (seeds.length > 0) this.dialPeersAsync(seeds);
  }

  /**
   * Stops every peer (RemovePeer on every reactor), then every reactor
   * (OnStop), then the listener. Once only; later calls wait for the first.
   */
  async stop(): Promise<void> {
    if (this.state === "stopped" || this.state === "stopping") return;
    const wasRunning = this.state === "running";
    this.state = "stopping";
    this.lifetime.abort();
    for (const ctl of this.reconnecting.values()) ctl.abort();
    this.reconnecting.clear();
    for (const peer of [...this.peerSet.values()]) this.stopAndRemovePeer(peer, undefined, false);
    if (wasRunning) {
      for (const r of this.reactors) {
        try {
          await r.reactor.onStop();
        } catch (err) {
          this.logger.error({ reactor: r.name, err }, "reactor failed to stop");
        }
      }
    }
    await this.transport.close();
    await Promise.allSettled([...this.background]);
    this.state = "stopped";
    this.logger.info("switch stopped");
  }

  peers(): PeerSetView {
    return new PeerSetSnapshot(this.peerSet.values());
  }

  numPeers(): PeerCounts {
    let outbound = 0;
    let inbound = 0;
    for (const p of this.peerSet.values()) {
      if (p.unconditional) continue;
      if (p.isOutbound()) outbound++;
      else inbound++;
    }
    return { outbound, inbound, dialing: this.dialing.size };
  }

  async broadcast(channelId: number, message: Uint8Array): Promise<readonly BroadcastResult[]> {
    const peers = [...this.peerSet.values()];
    const results = await Promise.all(peers.map((p) => p.send(channelId, message)));
    return peers.map((p, i) => ({ peerId: p.id, queued: results[i] === true }));
  }

  markPeerAsGood(peer: Peer): void {
    if (this.peerSet.get(peer.id) !== peer) return;
    this.options.hooks?.onMarkGood?.(peer);
  }

  stopPeerForError(peer: Peer, reason: Error, options?: StopPeerOptions): void {
    this.stopForError(peer, reason, options, "stopped_by_reactor");
  }

  private stopForError(peer: Peer, reason: Error, options: StopPeerOptions | undefined, code: PeerErrorCode): void {
    if (this.peerSet.get(peer.id) !== peer || peer.lifecycle === "stopped") return;
    this.peerErrorCounts.add(code);
    this.logger.info({ peer_id: peer.id, conn: peer.connectionId, reason: reason.message }, "stopping peer for error");
    this.stopAndRemovePeer(peer, reason, options?.reconnect ?? true);
  }

  stopPeerGracefully(peer: Peer): void {
    if (this.peerSet.get(peer.id) !== peer || peer.lifecycle === "stopped") return;
    this.logger.info({ peer_id: peer.id, conn: peer.connectionId }, "stopping peer gracefully");
    this.stopAndRemovePeer(peer, undefined, false);
  }

  /**
   * CometBFT's `peer.FlushStop()` then `StopPeerGracefully(peer)`: the peer
   * takes no new sends, what is queued to it is written out (bounded by the
   * MConnection's `flushStopTimeoutMs`, 10 s by default), then it is removed
   * as by {@link stopPeerGracefully}: RemovePeer on every reactor, never
   * redialled. Until then it stays in the peer set, in state `flushing`.
   * Resolves once removed. Asking again, or for a peer already stopped or
   * not in the set, changes nothing. If the peer is stopped meanwhile (an
   * error, `stopPeerForError`, the Switch stopping), that removal stands and
   * this one does nothing.
   */
  flushStopPeer(peer: Peer): Promise<void> {
    if (this.peerSet.get(peer.id) !== peer || peer.lifecycle === "stopped") return Promise.resolve();
    if (peer.lifecycle !== "flushing") this.logger.info({ peer_id: peer.id, conn: peer.connectionId }, "stopping peer after flushing its queued messages");
    const done = peer.flushStop().then(() => {
      // Stopped now but still in the set, unless something removed it meanwhile.
      // (A continuation never runs inside another removal: those are synchronous.)
      if (this.peerSet.get(peer.id) !== peer) return;
      this.logger.info({ peer_id: peer.id, conn: peer.connectionId }, "stopped peer gracefully after flushing");
      this.stopAndRemovePeer(peer, undefined, false);
    });
    this.track(done);
    return done;
  }

  /** Stop the connection, tell every reactor, then forget the peer; redial it if persistent. */
  private stopAndRemovePeer(peer: Peer, reason: RemoveReason, reconnect: boolean): void {
    peer.stop();
    for (const r of this.reactors) this.callReactor(r, "removePeer", () => {
      r.reactor.removePeer(peer, reason);
    });
    if (this.peerSet.get(peer.id) === peer) this.peerSet.delete(peer.id);
    this.options.hooks?.onPeerRemoved?.(peer, reason);
    if (reconnect && reason !== undefined && peer.isPersistent() && this.state === "running") {
      this.startReconnect(this.persistentById.get(peer.id) ?? peer.socketAddress, reason);
    }
  }

  private callReactor(r: RegisteredReactor, method: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.logger.error({ reactor: r.name, method, err }, "reactor threw");
      return false;
    }
  }

  /** Adds persistent peers at run time: redialled on CometBFT's schedule when they go away. */
  addPersistentPeers(addresses: readonly NetAddress[]): void {
    for (const a of addresses) {
      if (a.id === this.nodeId) continue;
      this.persistentById.set(a.id, a);
      this.notePersistentIp(a);
    }
  }

  private notePersistentIp(a: NetAddress): void {
    const ip = canonicalIp(a.host);
    if (ip !== null) this.persistentIps.add(ip);
  }

  dialPeersAsync(addresses: readonly string[]): void {
    const parsed = addresses.map((a) => parseNetAddress(a));
    // Random order, a random delay each, as CometBFT does, so that nodes
    // started together do not dial each other at the same instant.
    const shuffled = [...parsed].sort(() => Math.random() - 0.5);
    for (const addr of shuffled) {
      if (addr.id === this.nodeId) continue;
      this.track(
        (async () => {
          const max = this.options.config.dialRandomizerMs ?? DEFAULT_DIAL_RANDOMIZER_MS;
          if (max > 0 && !(await sleep(randomInt(0, max + 1), this.lifetime.signal))) return;
          try {
            await this.dialPeerWithAddress(formatNetAddress(addr));
          } catch (err) {
            if (this.persistentById.has(addr.id) && !(err instanceof AlreadyConnectedError)) {
              this.startReconnect(addr, err); // which logs why, and when it dials again
            } else if (err instanceof AlreadyConnectedError || err instanceof ConnectionRejectedError || err instanceof SwitchStoppingError) {
              this.logger.debug({ addr: formatNetAddress(addr), err: errorText(err) }, "dial failed"); // already logged, or routine
            } else {
              this.logger.info({ addr: formatNetAddress(addr), err: errorText(err) }, "dial failed");
            }
          }
        })(),
      );
    }
  }

  async dialPeerWithAddress(address: string): Promise<Peer> {
    const addr = parseNetAddress(address);
    if (this.state !== "running") throw new SwitchStoppingError(`cannot dial ${address}: the switch is ${this.state}`);
    if (addr.id === this.nodeId) throw new ConnectionRejectedError("self", "refusing to dial ourselves");
    if (this.dialing.has(addr.id) || this.peerSet.has(addr.id) || this.adding.has(addr.id)) {
      throw new AlreadyConnectedError(`peer ${addr.id} is already connected or being dialed`);
    }
    if (!(this.options.config.allowDuplicateIp ?? DEFAULT_ALLOW_DUPLICATE_IP) && [...this.peerSet.values()].some((p) => p.remoteHost === addr.host)) {
      throw new AlreadyConnectedError(`a peer at ${addr.host} is already connected (allow_duplicate_ip is off)`);
    }
    const exempt = this.unconditionalIds.has(addr.id) || this.persistentById.has(addr.id);
    const counts = this.numPeers();
    const maxOut = this.options.config.maxNumOutboundPeers ?? DEFAULT_MAX_NUM_OUTBOUND_PEERS;
    if (!exempt && counts.outbound + counts.dialing >= maxOut) {
      throw new OutboundLimitError(`cannot dial ${address}: ${counts.outbound} outbound peers and ${counts.dialing} dials reach max_num_outbound_peers = ${maxOut}`);
    }
    this.dialing.add(addr.id);
    let conn: UpgradedConnection;
    try {
      conn = await this.transport.dial(addr, this.lifetime.signal);
    } catch (err) {
      this.countConnectionError("outbound", connectionErrorCode(err));
      // A TCP dial that failed is not a refusal: the caller says so (or redials).
      if (err instanceof ConnectionRejectedError) {
        this.logRejection("outbound", { peerId: err.peerId ?? addr.id, host: addr.host, addr: formatNetAddress(addr), reason: rejectionReason(err), err: err.detail });
      }
      throw err;
    } finally {
      this.dialing.delete(addr.id);
    }
    return this.addPeer(conn, addr);
  }

  /**
   * Redials a persistent peer on CometBFT's schedule (`reconnectToPeer`):
   * `attempts` dials `intervalMs` apart, then `backoffAttempts` dials
   * sleeping base^i s, each plus jitter; then gives up. Each wait is logged
   * ("redialling persistent peer", with the attempt number, the delay and the
   * last error). A peer refused as incompatible (wrong network, no channel in
   * common, another block version) will not change by itself: its redials
   * skip to the exponential backoff at once, with a warning, instead of
   * cycling every few seconds.
   */
  private startReconnect(addr: NetAddress, cause: unknown): void {
    if (this.reconnecting.has(addr.id) || this.state !== "running") return;
    const ctl = new AbortController();
    this.reconnecting.set(addr.id, ctl);
    const signal = AbortSignal.any([ctl.signal, this.lifetime.signal]);
    const label = formatNetAddress(addr);
    const s = this.reconnect;
    const startedAt = Date.now();
    const fields = { peer_id: addr.id, addr: label };
    this.track(
      (async () => {
        try {
          let last: unknown = cause;
          let attempt = 0;
          let fixedLeft = s.attempts;
          let backoffStep = 0;
          for (;;) {
            const incompatible = last instanceof ConnectionRejectedError && last.reason === "incompatible";
            if (incompatible && fixedLeft > 0) {
              fixedLeft = 0;
              this.logger.warn(
                { ...fields, reason: rejectionReason(last), err: errorText(last) },
                "persistent peer is incompatible: redialling with exponential backoff instead of every few seconds",
              );
            } else if (fixedLeft === 0 && backoffStep === 0 && !incompatible) {
              this.logger.warn(
                { ...fields, attempts: attempt, elapsed: formatDelay(Date.now() - startedAt), err: errorText(last) },
                "persistent peer still unreachable: switching to exponential backoff",
              );
            }
            let delay: number;
            if (fixedLeft > 0) {
              fixedLeft--;
              delay = s.intervalMs + randomInt(0, s.randomizerMs + 1);
            } else if (backoffStep < s.backoffAttempts) {
              backoffStep++;
              delay = s.backoffBaseSeconds ** backoffStep * 1000 + randomInt(0, s.randomizerMs + 1);
            } else {
              this.logger.error({ ...fields, attempts: attempt, elapsed: formatDelay(Date.now() - startedAt), err: errorText(last) }, "persistent peer: giving up redialling");
              return;
            }
            attempt++;
            this.logger.info({ ...fields, attempt, retry_in: formatDelay(delay), err: errorText(last) }, "redialling persistent peer");
            if (!(await sleep(delay, signal))) return;
            try {
              await this.dialPeerWithAddress(label);
              return;
            } catch (err) {
              if (err instanceof AlreadyConnectedError) return;
              last = err;
            }
          }
        } finally {
          if (this.reconnecting.get(addr.id) === ctl) this.reconnecting.delete(addr.id);
        }
      })(),
    );
  }

  private track(p: Promise<unknown>): void {
    this.background.add(p);
    void p.finally(() => this.background.delete(p));
  }

  /**
   * Hosts whose inbound handshakes may use the reserved handshake slots: a
   * persistent peer's (by IP; a peer's ID is known only after the handshake)
   * or one the address book knows to be good.
   */
  private isPreferredInboundHost(host: string): boolean {
    const ip = canonicalIp(host);
    if (ip !== null && this.persistentIps.has(ip)) return true;
    return this.options.hooks?.isKnownGoodHost?.(host) ?? false;
  }

  /** Pre-handshake filter for inbound sockets: the per-IP rate limit and the duplicate-IP rule. */
  private filterInboundSocket(host: string): AcceptRefusal | null {
    if (this.state !== "running") return { reason: "filtered", detail: `switch is ${this.state}` };
    if (!this.acceptLimiter.tryTake(host)) return { reason: "rate_limited", detail: `too many connection attempts from ${host}` };
    if (!(this.options.config.allowDuplicateIp ?? DEFAULT_ALLOW_DUPLICATE_IP)) {
      for (const p of this.peerSet.values()) {
        if (p.remoteHost === host) return { reason: "duplicate_ip", detail: `a peer at ${host} is already connected (allow_duplicate_ip is off)` };
      }
    }
    return null;
  }

  private onInbound(conn: UpgradedConnection): void {
    const id = conn.nodeInfo.nodeId;
    const unconditional = this.unconditionalIds.has(id);
    const maxIn = this.options.config.maxNumInboundPeers ?? DEFAULT_MAX_NUM_INBOUND_PEERS;
    if (!unconditional && this.numPeers().inbound >= maxIn) {
      this.countConnectionError("inbound", "inbound_limit");
      this.logRejection("inbound", {
        peerId: id,
        host: conn.socketHost,
        addr: formatHostPort(conn.socketHost, conn.socketPort),
        reason: "inbound_limit",
        err: `max_num_inbound_peers = ${maxIn} reached`,
      });
      conn.conn.destroy();
      return;
    }
    try {
      this.addPeer(conn, undefined);
    } catch {
      // Logged (and counted) where it was refused.
    }
  }

  private addressFor(conn: UpgradedConnection): NetAddress {
    if (conn.dialedAddress !== undefined) return conn.dialedAddress;
    const id = conn.nodeInfo.nodeId;
    const configured = this.persistentById.get(id);
    if (configured !== undefined) return configured;
    // The advertised listen address, with an unspecified host replaced by the socket's IP.
    try {
      const adv = parseNetAddress(`${id}@${conn.nodeInfo.listenAddr.replace(/^[a-z]+:\/\//, "")}`);
      if (adv.host === "0.0.0.0" || adv.host === "::") return { ...adv, host: conn.socketHost };
      return adv;
    } catch {
      return { id, host: conn.socketHost, port: conn.socketPort };
    }
  }

  /**
   * Adds an upgraded connection as a peer, in CometBFT's order. Throws (after
   * closing the connection) when the peer is refused.
   */
  private addPeer(conn: UpgradedConnection, dialed: NetAddress | undefined): Peer {
    const id = conn.nodeInfo.nodeId;
    const direction: ConnectionDirection = conn.outbound ? "outbound" : "inbound";
    const refuse = (code: "switch_stopping" | "duplicate_peer", err: Error): never => {
      this.countConnectionError(direction, code);
      this.logRejection(direction, { peerId: id, host: conn.socketHost, addr: formatHostPort(conn.socketHost, conn.socketPort), reason: code, err: err.message });
      conn.conn.destroy();
      throw err;
    };
    if (this.state !== "running") refuse("switch_stopping", new SwitchStoppingError(`switch is ${this.state}`));
    if (this.peerSet.has(id) || this.adding.has(id)) refuse("duplicate_peer", new AlreadyConnectedError(`duplicate peer ${id}: already connected`));
    const peer = new Peer({
      connection: conn,
      connectionId: `${id.slice(0, 8)}#${++this.connectionCounter}`,
      channels: this.channelDescs,
      reactorsByChannel: this.reactorsByChannel,
      mconnConfig: this.options.config.mconn ?? {},
      persistent: this.persistentById.has(id),
      unconditional: this.unconditionalIds.has(id),
      socketAddress: dialed ?? this.addressFor(conn),
      ...(this.options.config.inboundQueueMaxBytes === undefined ? {} : { inboundQueueMaxBytes: this.options.config.inboundQueueMaxBytes }),
      ...(this.options.config.inboundQueueMaxMessages === undefined ? {} : { inboundQueueMaxMessages: this.options.config.inboundQueueMaxMessages }),
      logger: this.options.logger,
      onError: (p, error) => {
        this.onPeerError(p, error);
      },
    });
    this.adding.add(id);
    try {
      for (const r of this.reactors) this.callReactor(r, "initPeer", () => {
        r.reactor.initPeer(peer);
      });
      try {
        peer.start();
        if (!peer.isRunning()) throw new P2PStartError(`peer ${id} stopped while starting`);
      } catch (err) {
        this.logger.error({ peer_id: id, err }, "error starting peer");
        this.countConnectionError(direction, "peer_start_failed");
        peer.stop();
        for (const r of this.reactors) this.callReactor(r, "removePeer", () => {
          r.reactor.removePeer(peer, err as Error);
        });
        throw err;
      }
      this.peerSet.set(id, peer);
    } finally {
      this.adding.delete(id);
    }
    for (const r of this.reactors) {
      // A reactor stopped it during AddPeer. (One that asked for a flushing
      // stop leaves it in the set until flushed: the others still hear of it.)
      if (peer.lifecycle === "stopped") break;
      this.callReactor(r, "addPeer", () => {
        r.reactor.addPeer(peer);
      });
    }
    if (peer.lifecycle !== "stopped") {
      this.logger.info({ peer_id: id, conn: peer.connectionId, outbound: peer.isOutbound(), addr: formatNetAddress(peer.socketAddress) }, "added peer");
      this.options.hooks?.onPeerAdded?.(peer);
    }
    return peer;
  }

  private onPeerError(peer: Peer, error: Error): void {
    if (this.peerSet.get(peer.id) === peer) {
      this.stopForError(peer, error, undefined, peerErrorCode(error));
      return;
    }
    // Failed before it joined the peer set (during InitPeer/start): the start path cleans up.
    peer.stop();
  }
}
