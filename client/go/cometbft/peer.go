package cometbft

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cometbft/cometbft/libs/cmap"
	"github.com/cometbft/cometbft/libs/service"
	"github.com/cometbft/cometbft/p2p"
	cmtconn "github.com/cometbft/cometbft/p2p/conn"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
)

// SendTimeout is how long a hosted peer's Send waits for room in the peer's
// send queue on the Switchboard node: CometBFT's own Peer.Send timeout
// (p2p/conn defaultSendTimeout, 10 s), so hosted reactors see the same
// behaviour when a peer reads slowly.
const SendTimeout = 10 * time.Second

// peer is one connection of the Switchboard node, as a p2p.Peer that every
// hosted reactor shares. It is running from its first InitPeer until the
// connection is removed (by the node, or by a hosted reactor through the
// hosted Switch); a stopped peer sends nothing.
type peer struct {
	service.BaseService

	host       *Host
	sb         switchboard.Peer
	info       switchboard.PeerInfo
	nodeInfo   p2p.DefaultNodeInfo
	remoteAddr *net.TCPAddr
	socketAddr *p2p.NetAddress
	data       *cmap.CMap
	created    time.Time

	removalFailed atomic.Bool
}

var _ p2p.Peer = (*peer)(nil)

func newPeer(h *Host, info switchboard.PeerInfo) *peer {
	p := &peer{
		host:     h,
		sb:       info.Peer,
		info:     info,
		nodeInfo: nodeInfoFromSDK(info.NodeInfo),
		data:     cmap.NewCMap(),
		created:  time.Now(),
	}
	p.remoteAddr = tcpAddr(info.RemoteAddress)
	if na, err := p2p.NewNetAddressString(info.SocketAddress); err == nil {
		p.socketAddr = na
	} else {
		// NewNetAddress panics on an ID that is not hex; the literal does not.
		p.socketAddr = &p2p.NetAddress{ID: p2p.ID(info.ID), IP: p.remoteAddr.IP, Port: uint16(p.remoteAddr.Port)}
	}
	p.BaseService = *service.NewBaseService(h.logger.With("peer", info.ID, "connection", info.ConnectionID), "HostedPeer", p)
	return p
}

func nodeInfoFromSDK(n switchboard.NodeInfo) p2p.DefaultNodeInfo {
	return p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.ProtocolVersion{P2P: n.P2PVersion, Block: n.BlockVersion, App: n.AppVersion},
		DefaultNodeID:   p2p.ID(n.ID),
		ListenAddr:      n.ListenAddr,
		Network:         n.Network,
		Version:         n.Version,
		Channels:        append([]byte(nil), n.Channels...),
		Moniker:         n.Moniker,
		Other:           p2p.DefaultNodeInfoOther{TxIndex: n.TxIndex, RPCAddress: n.RPCAddress},
	}
}

// tcpAddr parses host:port; an address that does not parse becomes the zero
// address (the transport's Cleanup and the RPC's net_info need a non-nil one).
func tcpAddr(hostPort string) *net.TCPAddr {
	host, port, err := net.SplitHostPort(hostPort)
	if err != nil {
		return &net.TCPAddr{}
	}
	n, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: n}
}

// OnStart implements service.Service: nothing to start, the connection
// lives on the Switchboard node.
func (p *peer) OnStart() error { return nil }

// OnStop implements service.Service. Stopping the hosted peer only stops
// its use here; the connection is stopped on the node by the Switch's
// RemovePeer calls (see reactor.RemovePeer) or was stopped by the node.
func (p *peer) OnStop() {}

// FlushStop asks the node to write out what is queued to the peer, then to
// stop it (CometBFT's FlushStop then StopPeerGracefully); it waits at most the
// node's flush-stop timeout.
func (p *peer) FlushStop() {
	c := p.host.anyClient()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.host.ctx, 2*SendTimeout)
	defer cancel()
	if err := c.FlushStopPeer(ctx, p.sb); err != nil {
		p.Logger.Debug("flush stop", "err", err)
	}
}

func (p *peer) ID() p2p.ID             { return p2p.ID(p.sb.ID) }
func (p *peer) RemoteIP() net.IP       { return p.remoteAddr.IP }
func (p *peer) RemoteAddr() net.Addr   { return p.remoteAddr }
func (p *peer) IsOutbound() bool       { return p.info.Outbound }
func (p *peer) NodeInfo() p2p.NodeInfo { return p.nodeInfo }

// IsPersistent is false whatever the node says: the hosted Switch must never
// redial a peer itself (the Switchboard node owns the connections and redials
// its persistent peers).
func (p *peer) IsPersistent() bool { return false }

// CloseConn does nothing: the connection belongs to the Switchboard node.
func (p *peer) CloseConn() error { return nil }

// Status has the connection's age only; the byte counters and channel
// queues are the node's (switchboard peers / net-info).
func (p *peer) Status() cmtconn.ConnectionStatus {
	return cmtconn.ConnectionStatus{Duration: time.Since(p.created)}
}

func (p *peer) SocketAddr() *p2p.NetAddress { return p.socketAddr }

// Send queues the message on the node, waiting up to SendTimeout for room,
// and reports whether it was queued, as CometBFT's Peer.Send does. A channel
// the peer does not have is refused by the node (not queued).
func (p *peer) Send(e p2p.Envelope) bool { return p.send(e, true) }

// TrySend queues the message only if there is room now.
func (p *peer) TrySend(e p2p.Envelope) bool { return p.send(e, false) }

func (p *peer) send(e p2p.Envelope, wait bool) bool {
	if !p.IsRunning() {
		return false
	}
	c := p.host.clientFor(e.ChannelID)
	if c == nil {
		return false
	}
	msg := e.Message
	if w, ok := msg.(p2p.Wrapper); ok {
		msg = w.Wrap()
	}
	bz, err := proto.Marshal(msg)
	if err != nil {
		p.Logger.Error("marshaling message to send", "err", err)
		return false
	}
	ctx, cancel := context.WithTimeout(p.host.ctx, SendTimeout)
	defer cancel()
	var queued bool
	if wait {
		queued, err = c.Send(ctx, p.sb, e.ChannelID, bz)
	} else {
		queued, err = c.TrySend(ctx, p.sb, e.ChannelID, bz)
	}
	if err != nil {
		p.Logger.Debug("send", "channel", e.ChannelID, "err", err)
		queued = false
	}
	p.host.metrics.sent(queued)
	return queued
}

func (p *peer) Get(key string) interface{}        { return p.data.Get(key) }
func (p *peer) Set(key string, value interface{}) { p.data.Set(key, value) }
func (p *peer) SetRemovalFailed()                 { p.removalFailed.Store(true) }
func (p *peer) GetRemovalFailed() bool            { return p.removalFailed.Load() }
func (p *peer) String() string                    { return fmt.Sprintf("Peer{%s %s hosted}", p.sb.ID, p.sb.ConnectionID) }
