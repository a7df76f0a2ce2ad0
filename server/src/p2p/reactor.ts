/**
 * The Reactor interface: how a protocol component plugs into the Switch, with
 * the timing of every call as CometBFT documents it (p2p/base_reactor.go and
 * the reactor API spec). Built-in reactors, test reactors and remote reactors
 * (the gRPC gateway) all implement it; the Switch never knows the difference.
 *
 * Per reactor, the calls form a word of the spec's grammar:
 *
 *     start           = registration on-start *peer-management on-stop
 *     registration    = get-channels set-switch
 *     peer-management = init-peer start-peer stop-peer
 *     start-peer      = [*receive] (connected-peer / start-error)
 *     connected-peer  = add-peer *receive
 *     stop-peer       = [peer-error] remove-peer
 *
 * where peer-management words of different peer connections interleave.
 */
import type { ChannelDescriptor } from "../wire/mconnection/channel-descriptor.js";
import type { NodeInfo } from "../wire/node-info.js";
import type { Envelope, Peer } from "./peer.js";
import type { SwitchApi } from "./switch-api.js";

export type { Envelope };

/** Why a peer was removed. `undefined` for a graceful stop (CometBFT's nil reason). */
export type RemoveReason = Error | undefined;

export interface Reactor {
  /**
   * Called once, by `Switch.addReactor`, before the node starts. The channels
   * this reactor handles; each channel belongs to exactly one reactor and is
   * advertised in our NodeInfo.
   */
  getChannels(): readonly ChannelDescriptor[];

  /** Called once, right after `getChannels`: the API for talking to the p2p layer. */
  setSwitch(sw: SwitchApi): void;

  /** Called once when the Switch starts, before any peer is added. */
  onStart(): void | Promise<void>;

  /** Called once when the Switch stops, after every peer was removed. No call follows. */
  onStop(): void | Promise<void>;

  /**
   * A new peer connection, before it starts: initialise per-peer state, but do
   * not send to it. Every InitPeer is followed, eventually, by RemovePeer for
   * the same peer connection, whether the peer started or not.
   */
  initPeer(peer: Peer): void;

  /**
   * The peer started and joined the peer set: sending to it is allowed.
   * Receive may already have been called for it.
   */
  addPeer(peer: Peer): void;

  /**
   * The peer's connection has stopped; no Receive for it follows. Release its
   * state. `reason` is the error that stopped it, or undefined when stopped
   * gracefully. The same node ID may connect again later as a new peer.
   */
  removePeer(peer: Peer, reason: RemoveReason): void;

  /**
   * A complete message from `envelope.src` on one of our channels. Messages
   * of one peer arrive in order, one at a time: while the promise a call
   * returns is pending, no other message of that peer is delivered to any
   * reactor (CometBFT's blocking Receive). Return nothing to keep going.
   */
  receive(envelope: Envelope): void | Promise<void>;
}

/** A Reactor with every method a no-op, to extend. */
export abstract class BaseReactor implements Reactor {
  protected sw: SwitchApi | null = null;
  abstract getChannels(): readonly ChannelDescriptor[];
  setSwitch(sw: SwitchApi): void {
    this.sw = sw;
  }
  onStart(): void {
    /* nothing by default */
  }
  onStop(): void {
    /* nothing by default */
  }
  initPeer(_peer: Peer): void {
    /* nothing by default */
  }
  addPeer(_peer: Peer): void {
    /* nothing by default */
  }
  removePeer(_peer: Peer, _reason: RemoveReason): void {
    /* nothing by default */
  }
  receive(_envelope: Envelope): void | Promise<void> {
    /* nothing by default */
  }
}

export type { NodeInfo };
