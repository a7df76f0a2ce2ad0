/** Conversions from p2p objects to gateway API messages. */
import type { NodeInfo as ApiNodeInfo, PeerInfo, PeerStatus } from "../gen/switchboard/gateway/v1/gateway.js";
import { formatHostPort, formatNetAddress } from "../p2p/net-address.js";
import type { Peer } from "../p2p/peer.js";
import type { NodeInfo } from "../wire/node-info.js";

export function nodeInfoToApi(info: NodeInfo): ApiNodeInfo {
  return {
    nodeId: info.nodeId,
    listenAddr: info.listenAddr,
    network: info.network,
    version: info.version,
    channels: Uint8Array.from(info.channels),
    moniker: info.moniker,
    p2pVersion: info.protocolVersion.p2p,
    blockVersion: info.protocolVersion.block,
    appVersion: info.protocolVersion.app,
    txIndex: info.other.txIndex,
    rpcAddress: info.other.rpcAddress,
  };
}

export function peerInfoOf(peer: Peer): PeerInfo {
  return {
    peerId: peer.id,
    connectionId: peer.connectionId,
    outbound: peer.isOutbound(),
    persistent: peer.isPersistent(),
    unconditional: peer.unconditional,
    remoteAddress: formatHostPort(peer.remoteHost, peer.remotePort),
    socketAddress: formatNetAddress(peer.socketAddress),
    nodeInfo: nodeInfoToApi(peer.nodeInfo),
  };
}

export function peerStatusOf(peer: Peer): PeerStatus {
  const st = peer.status().connection;
  let bytesSent = 0;
  let bytesReceived = 0;
  for (const ch of st.channels) {
    bytesSent += ch.bytesSent;
    bytesReceived += ch.bytesReceived;
  }
  return {
    peer: peerInfoOf(peer),
    bytesSent: BigInt(bytesSent),
    bytesReceived: BigInt(bytesReceived),
    sendRate: BigInt(Math.round(st.sendMonitor.curRateBytesPerSecond)),
    recvRate: BigInt(Math.round(st.recvMonitor.curRateBytesPerSecond)),
    channels: st.channels.map((c) => ({
      id: c.id,
      sendQueueCapacity: c.sendQueueCapacity,
      sendQueueSize: c.sendQueueSize,
      priority: c.priority,
      recentlySent: BigInt(Math.round(c.recentlySent)),
    })),
    durationSeconds: BigInt(Math.floor((Date.now() - peer.createdAt) / 1000)),
  };
}
