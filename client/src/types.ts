/**
 * The SDK's public data types: what the node tells a reactor (events, peers,
 * node info) and what a reactor registers (channels). They are plain,
 * immutable objects, independent of the generated protobuf types.
 *
 * @module
 */

/** What the node does when a channel's events do not fit the reactor's queue (see gateway.proto `OverflowPolicy`). */
export type OverflowPolicy =
  /** Stop reading the sending peer until there is room, as when a Go reactor's Receive has not returned. The node default. */
  | "block"
  /** Drop the message that did not fit. */
  | "drop-newest"
  /** Drop the oldest queued message of the same channel. */
  | "drop-oldest"
  /** Disconnect the peer whose message did not fit. */
  | "disconnect-peer";

/** A channel the reactor handles: CometBFT's `ChannelDescriptor`. */
export interface ChannelConfig {
  /** Channel ID, 0..255 (the node checks it). */
  readonly id: number;
  /** Relative share of each connection's send bandwidth; at least 1. */
  readonly priority: number;
  /** Messages queued per peer before `send` waits. @default 1 (the node's default) */
  readonly sendQueueCapacity?: number;
  /** Initial reassembly buffer, in bytes. @default 4096 (the node's default) */
  readonly recvBufferCapacity?: number;
  /** Largest message accepted on this channel, in bytes. @default 22020096 (the node's default) */
  readonly recvMessageCapacity?: number;
  /** @default the node's `grpc.default_overflow_policy` ("block" unless configured) */
  readonly overflowPolicy?: OverflowPolicy;
}

/** The node's own description, as peers see it (CometBFT's `NodeInfo`). */
export interface NodeInfo {
  readonly nodeId: string;
  readonly listenAddr: string;
  /** The chain ID. */
  readonly network: string;
  readonly version: string;
  /** Channel IDs the node advertises. */
  readonly channels: readonly number[];
  readonly moniker: string;
  readonly p2pVersion: number;
  readonly blockVersion: number;
  readonly appVersion: number;
  readonly txIndex: string;
  readonly rpcAddress: string;
}

/** One peer connection. Pass it to commands to address exactly this connection. */
export interface PeerInfo {
  /** The peer's node ID (hex). */
  readonly id: string;
  /** Unique per connection: a reconnect of the same node gets a new one. */
  readonly connectionId: string;
  readonly outbound: boolean;
  readonly persistent: boolean;
  readonly unconditional: boolean;
  /** host:port of the TCP connection. */
  readonly remoteAddress: string;
  /** id@host:port to reach the peer. */
  readonly socketAddress: string;
  /** The peer's NodeInfo; undefined only when the node did not send it. */
  readonly nodeInfo: NodeInfo | undefined;
}

/**
 * Which peer a command is about: a node ID (whichever connection it has now),
 * or a {@link PeerInfo} from an event (that connection only: if it was removed
 * meanwhile, the command fails with reason `PEER_REMOVED`).
 */
export type PeerRef = string | { readonly id: string; readonly connectionId?: string };

/** One channel's state on a connection. */
export interface ChannelStatus {
  readonly id: number;
  readonly sendQueueCapacity: number;
  readonly sendQueueSize: number;
  readonly priority: number;
  readonly recentlySent: number;
}

/** A peer with its connection status (`GetPeer`, `NodeClient.listPeers`). */
export interface PeerStatus {
  readonly peer: PeerInfo | undefined;
  readonly bytesSent: number;
  readonly bytesReceived: number;
  /** Bytes per second. */
  readonly sendRate: number;
  /** Bytes per second. */
  readonly recvRate: number;
  readonly channels: readonly ChannelStatus[];
  /** Seconds since the connection was added. */
  readonly durationSeconds: number;
}

/** Peer counts as CometBFT's `NumPeers` gives them (unconditional peers not counted). */
export interface PeerCounts {
  readonly outbound: number;
  readonly inbound: number;
  readonly dialing: number;
}

/** Per peer, whether a broadcast message was queued. */
export interface BroadcastResult {
  readonly peerId: string;
  readonly queued: boolean;
}

// ------------------------------------------------------------------ events

/**
 * A (re)attachment was answered. Emitted first on every stream: `resumed`
 * says whether the earlier session went on (no event lost or repeated); when a
 * resume was refused, `refusedReason` says why, and a fresh session follows
 * with a snapshot (`start`, then `initPeer` + `addPeer` per connected peer):
 * drop per-peer state and rebuild it from the events that follow.
 */
export interface SessionEvent {
  readonly type: "session";
  readonly resumed: boolean;
  /** Empty unless a resume was asked for and refused. */
  readonly refusedReason: string;
  readonly nodeInfo: NodeInfo;
}

/** `OnStart`: the node started. */
export interface StartEvent {
  readonly type: "start";
  /** The event's number in its session. */
  readonly seq: bigint;
}

/** `InitPeer`: a new peer connection; do not send to it yet. */
export interface InitPeerEvent {
  readonly type: "initPeer";
  readonly seq: bigint;
  readonly peer: PeerInfo;
}

/** `AddPeer`: the connection started; sending is allowed. */
export interface AddPeerEvent {
  readonly type: "addPeer";
  readonly seq: bigint;
  readonly peer: PeerInfo;
}

/** `Receive`: a message from a peer on one of this reactor's channels. */
export interface ReceiveEvent {
  readonly type: "receive";
  readonly seq: bigint;
  readonly peer: PeerInfo;
  readonly channelId: number;
  readonly message: Uint8Array;
}

/** `RemovePeer`: the connection stopped; nothing more comes from it. */
export interface RemovePeerEvent {
  readonly type: "removePeer";
  readonly seq: bigint;
  readonly peer: PeerInfo;
  /** Empty for a graceful stop. */
  readonly reason: string;
}

/** `OnStop`: the node stopped; the stream ends after it and `events$` completes. */
export interface StopEvent {
  readonly type: "stop";
  readonly seq: bigint;
}

/** The reactor calls of CometBFT's Reactor interface, numbered by the node. */
export type NodeEvent = StartEvent | InitPeerEvent | AddPeerEvent | ReceiveEvent | RemovePeerEvent | StopEvent;

/** Everything `events$` emits. Per connection: `initPeer receive* [addPeer receive*] removePeer`, between `start` and `stop`. */
export type ReactorEvent = SessionEvent | NodeEvent;

/** CometBFT's `Envelope`, as the callback style's `receive` gets it. */
export interface Envelope {
  /** The sending peer. */
  readonly src: PeerInfo;
  readonly channelId: number;
  readonly message: Uint8Array;
}
