/** Conversions between the generated protobuf types and the SDK's own. @internal */
import {
  type ChannelDescriptor as ApiChannel,
  type NodeInfo as ApiNodeInfo,
  type PeerInfo as ApiPeerInfo,
  type PeerStatus as ApiPeerStatus,
  OverflowPolicy as ApiOverflowPolicy,
} from "../gen/switchboard/gateway/v1/gateway.js";
import type { ChannelConfig, NodeInfo, OverflowPolicy, PeerInfo, PeerRef, PeerStatus } from "../types.js";

const POLICY_TO_API: Record<OverflowPolicy, ApiOverflowPolicy> = {
  block: ApiOverflowPolicy.OVERFLOW_POLICY_BLOCK,
  "drop-newest": ApiOverflowPolicy.OVERFLOW_POLICY_DROP_NEWEST,
  "drop-oldest": ApiOverflowPolicy.OVERFLOW_POLICY_DROP_OLDEST,
  "disconnect-peer": ApiOverflowPolicy.OVERFLOW_POLICY_DISCONNECT_PEER,
};

export function channelToApi(c: ChannelConfig): ApiChannel {
  return {
    id: c.id,
    priority: c.priority,
    sendQueueCapacity: c.sendQueueCapacity ?? 0,
    recvBufferCapacity: c.recvBufferCapacity ?? 0,
    recvMessageCapacity: c.recvMessageCapacity ?? 0,
    overflowPolicy: c.overflowPolicy === undefined ? ApiOverflowPolicy.OVERFLOW_POLICY_UNSPECIFIED : POLICY_TO_API[c.overflowPolicy],
  };
}

const EMPTY_NODE_INFO: NodeInfo = {
  nodeId: "",
  listenAddr: "",
  network: "",
  version: "",
  channels: [],
  moniker: "",
  p2pVersion: 0,
  blockVersion: 0,
  appVersion: 0,
  txIndex: "",
  rpcAddress: "",
};

export function nodeInfoFromApi(n: ApiNodeInfo | undefined): NodeInfo {
  if (n === undefined) return EMPTY_NODE_INFO;
  return {
    nodeId: n.nodeId,
    listenAddr: n.listenAddr,
    network: n.network,
    version: n.version,
    channels: [...n.channels],
    moniker: n.moniker,
    p2pVersion: Number(n.p2pVersion),
    blockVersion: Number(n.blockVersion),
    appVersion: Number(n.appVersion),
    txIndex: n.txIndex,
    rpcAddress: n.rpcAddress,
  };
}

export function peerFromApi(p: ApiPeerInfo): PeerInfo {
  return {
    id: p.peerId,
    connectionId: p.connectionId,
    outbound: p.outbound,
    persistent: p.persistent,
    unconditional: p.unconditional,
    remoteAddress: p.remoteAddress,
    socketAddress: p.socketAddress,
    nodeInfo: p.nodeInfo === undefined ? undefined : nodeInfoFromApi(p.nodeInfo),
  };
}

/** A peer known only by its IDs (an event for a connection the SDK never saw introduced). */
export function bareShell(peerId: string, connectionId: string): PeerInfo {
  return { id: peerId, connectionId, outbound: false, persistent: false, unconditional: false, remoteAddress: "", socketAddress: "", nodeInfo: undefined };
}

export function peerStatusFromApi(s: ApiPeerStatus): PeerStatus {
  return {
    peer: s.peer === undefined ? undefined : peerFromApi(s.peer),
    bytesSent: Number(s.bytesSent),
    bytesReceived: Number(s.bytesReceived),
    sendRate: Number(s.sendRate),
    recvRate: Number(s.recvRate),
    channels: s.channels.map((c) => ({
      id: c.id,
      sendQueueCapacity: c.sendQueueCapacity,
      sendQueueSize: c.sendQueueSize,
      priority: c.priority,
      recentlySent: Number(c.recentlySent),
    })),
    durationSeconds: Number(s.durationSeconds),
  };
}

/** The `connection_id` / `peer_id` pair of a command. */
export function peerRefToApi(peer: PeerRef): { connectionId: string; peerId: string } {
  if (typeof peer === "string") return { connectionId: "", peerId: peer };
  return { connectionId: peer.connectionId ?? "", peerId: peer.id };
}
