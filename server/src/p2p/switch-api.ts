/**
 * What the Switch offers its reactors (CometBFT's p2p-api.md), as an interface
 * so that reactors depend on the contract, not on the Switch class.
 */
import type { NodeInfo } from "../wire/node-info.js";
import type { NetAddress } from "./net-address.js";
import type { Peer } from "./peer.js";

/** A read-only snapshot of the connected peers. */
export interface PeerSetView {
  readonly size: number;
  list(): readonly Peer[];
  get(id: string): Peer | undefined;
  has(id: string): boolean;
}

/** Peer counts as CometBFT's `NumPeers` reports them: unconditional peers are not counted. */
export interface PeerCounts {
  readonly outbound: number;
  readonly inbound: number;
  readonly dialing: number;
}

/** The outcome of a broadcast for one peer. */
export interface BroadcastResult {
  readonly peerId: string;
  /** True when the message was queued for the peer within the send timeout. */
  readonly queued: boolean;
}

export interface StopPeerOptions {
  /**
   * Redial a persistent peer after stopping it, as CometBFT does.
   * @default true
   */
  readonly reconnect?: boolean;
}

export interface SwitchApi {
  /** Our NodeInfo as peers see it (the channels of every registered reactor). */
  nodeInfo(): NodeInfo;
  /** Snapshot of the connected peers. */
  peers(): PeerSetView;
  numPeers(): PeerCounts;
  /**
   * Sends `message` on `channelId` to every connected peer (`Send` semantics:
   * waits up to the send timeout per peer). Resolves with one result per peer
   * that was connected when called.
   */
  broadcast(channelId: number, message: Uint8Array): Promise<readonly BroadcastResult[]>;
  /** Tells the address book that the peer behaved well. */
  markPeerAsGood(peer: Peer): void;
  /** Stops and removes the peer because of `reason`; persistent peers are redialled unless told otherwise. */
  stopPeerForError(peer: Peer, reason: Error, options?: StopPeerOptions): void;
  /** Stops and removes the peer without an error; never redialled. */
  stopPeerGracefully(peer: Peer): void;
  /**
   * CometBFT's `peer.FlushStop()` followed by `StopPeerGracefully`: the peer
   * takes no new sends, what is already queued to it is written to the wire
   * (within a bounded time), then it is removed as by `stopPeerGracefully`
   * (RemovePeer on every reactor; never redialled). Resolves once removed.
   * Asking again while it is under way changes nothing.
   */
  flushStopPeer(peer: Peer): Promise<void>;
  /**
   * Makes these peers persistent from now on (CometBFT's
   * `AddPersistentPeers`): redialled on the reconnect schedule whenever they
   * go away. Our own node ID is ignored. Dials none of them by itself.
   */
  addPersistentPeers(addresses: readonly NetAddress[]): void;
  /** Dials `id@host:port` addresses in the background, after a random delay each. Invalid addresses are reported at once. */
  dialPeersAsync(addresses: readonly string[]): void;
  /** Dials one peer; resolves once it has been added, rejects with why not. */
  dialPeerWithAddress(address: string): Promise<Peer>;
}
