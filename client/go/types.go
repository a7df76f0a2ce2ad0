package switchboard

import (
	"time"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// Peer names one peer connection: the peer's node ID and the connection's
// ID. A reconnect of the same node gets a new ConnectionID. Commands accept
// a Peer: with a ConnectionID they act on that connection only (and fail
// with ReasonPeerRemoved once it is gone); with only an ID they act on
// whichever connection that node has now.
type Peer struct {
	ID           string
	ConnectionID string
}

// NodeInfo describes a node as its peers see it.
type NodeInfo struct {
	ID           string
	ListenAddr   string
	Network      string
	Version      string
	Channels     []byte
	Moniker      string
	P2PVersion   uint64
	BlockVersion uint64
	AppVersion   uint64
	TxIndex      string
	RPCAddress   string
}

// PeerInfo describes one peer connection.
type PeerInfo struct {
	Peer
	Outbound      bool
	Persistent    bool
	Unconditional bool
	// RemoteAddress is host:port of the TCP connection.
	RemoteAddress string
	// SocketAddress is id@host:port to reach the peer.
	SocketAddress string
	NodeInfo      NodeInfo
}

// ChannelStatus is one channel's state on a connection.
type ChannelStatus struct {
	ID                byte
	SendQueueCapacity int
	SendQueueSize     int
	Priority          int
	RecentlySent      uint64
}

// PeerStatus is a peer with its connection status.
type PeerStatus struct {
	PeerInfo
	BytesSent     uint64
	BytesReceived uint64
	SendRate      uint64 // bytes per second
	RecvRate      uint64 // bytes per second
	Channels      []ChannelStatus
	// Duration since the connection was added (whole seconds).
	Duration time.Duration
}

// PeerCounts counts peers as CometBFT's NumPeers does; unconditional peers are not counted.
type PeerCounts struct {
	Outbound int
	Inbound  int
	Dialing  int
}

// BroadcastResult says whether a broadcast message was queued for one peer.
type BroadcastResult struct {
	PeerID string
	Queued bool
}

func nodeInfoFromAPI(n *gatewayv1.NodeInfo) NodeInfo {
	if n == nil {
		return NodeInfo{}
	}
	return NodeInfo{
		ID:           n.GetNodeId(),
		ListenAddr:   n.GetListenAddr(),
		Network:      n.GetNetwork(),
		Version:      n.GetVersion(),
		Channels:     n.GetChannels(),
		Moniker:      n.GetMoniker(),
		P2PVersion:   n.GetP2PVersion(),
		BlockVersion: n.GetBlockVersion(),
		AppVersion:   n.GetAppVersion(),
		TxIndex:      n.GetTxIndex(),
		RPCAddress:   n.GetRpcAddress(),
	}
}

func peerInfoFromAPI(p *gatewayv1.PeerInfo) PeerInfo {
	return PeerInfo{
		Peer:          Peer{ID: p.GetPeerId(), ConnectionID: p.GetConnectionId()},
		Outbound:      p.GetOutbound(),
		Persistent:    p.GetPersistent(),
		Unconditional: p.GetUnconditional(),
		RemoteAddress: p.GetRemoteAddress(),
		SocketAddress: p.GetSocketAddress(),
		NodeInfo:      nodeInfoFromAPI(p.GetNodeInfo()),
	}
}

func peerStatusFromAPI(s *gatewayv1.PeerStatus) PeerStatus {
	chs := make([]ChannelStatus, 0, len(s.GetChannels()))
	for _, c := range s.GetChannels() {
		chs = append(chs, ChannelStatus{
			ID:                byte(c.GetId()),
			SendQueueCapacity: int(c.GetSendQueueCapacity()),
			SendQueueSize:     int(c.GetSendQueueSize()),
			Priority:          int(c.GetPriority()),
			RecentlySent:      c.GetRecentlySent(),
		})
	}
	return PeerStatus{
		PeerInfo:      peerInfoFromAPI(s.GetPeer()),
		BytesSent:     s.GetBytesSent(),
		BytesReceived: s.GetBytesReceived(),
		SendRate:      s.GetSendRate(),
		RecvRate:      s.GetRecvRate(),
		Channels:      chs,
		Duration:      time.Duration(s.GetDurationSeconds()) * time.Second,
	}
}

func channelsToAPI(chs []ChannelDescriptor) []*gatewayv1.ChannelDescriptor {
	out := make([]*gatewayv1.ChannelDescriptor, 0, len(chs))
	for _, c := range chs {
		out = append(out, &gatewayv1.ChannelDescriptor{
			Id:                  uint32(c.ID),
			Priority:            uint32(c.Priority),
			SendQueueCapacity:   uint32(c.SendQueueCapacity),
			RecvBufferCapacity:  uint32(c.RecvBufferCapacity),
			RecvMessageCapacity: uint32(c.RecvMessageCapacity),
			OverflowPolicy:      gatewayv1.OverflowPolicy(c.OverflowPolicy),
		})
	}
	return out
}
