package cometbft

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
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

// A hosted peer's send window per channel: the messages its Send accepted
// that the node has not answered yet. 64 messages keep a peer's gossip busy
// across a round trip to the node (the mempool sends a tx at a time, ~0.1 ms
// each in process, against a round trip of 0.3 ms or more); 1 MiB bounds
// what a peer's channel holds in flight when its messages are large (block
// parts: 16). A message larger than that goes alone.
const (
	MaxSendsInFlight     = 64
	MaxSendBytesInFlight = 1 << 20
)

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
	// windows holds a send window per channel of the hosted reactors
	// (read-only after newPeer).
	windows map[byte]*sendWindow
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
		windows:  make(map[byte]*sendWindow, len(h.byChannel)),
	}
	for ch := range h.byChannel {
		p.windows[ch] = newSendWindow()
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
	// Sends go on their channel's stream and the flush on another: the flush
	// must not overtake messages Send accepted before it.
	for _, win := range p.windows {
		win.drain(p.host.ctx, SendTimeout)
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

// Send hands the message to the node without waiting for the node's answer,
// as CometBFT's Peer.Send hands it to the connection's send queue: it waits
// (up to SendTimeout) only for room in the peer's send window on this
// channel, the messages on their way to the node and not yet answered
// (MaxSendsInFlight, MaxSendBytesInFlight). It returns false when the window
// stayed full, the peer does not have the channel, or the message is larger
// than the channel accepts; true means the message goes out unless the
// connection ends. So a goroutine that sends keeps many messages on their
// way, as an in-process one does, instead of one per round trip.
//
// The node may still fail to queue a message that Send accepted (its queue
// for the peer stayed full for MaxSendTimeout, or the stream to the node
// broke around it); then the reactor believes sent what the peer will not
// get, so the host stops the peer for error, as a connection that failed
// under CometBFT's send queue would be stopped, and the node redials it if
// it is persistent. A peer the node removed meanwhile needs nothing: its
// RemovePeer is on its way.
func (p *peer) Send(e p2p.Envelope) bool {
	c, bz, ok := p.prepareSend(e)
	if !ok {
		return false
	}
	win := p.windows[e.ChannelID]
	if !win.take(p.host.ctx, len(bz), SendTimeout) {
		p.host.metrics.sent(false)
		return false
	}
	// The context bounds only the wait for a command slot and an attached
	// stream (while the host re-attaches), as CometBFT's send timeout would.
	ctx, cancel := context.WithTimeout(p.host.ctx, SendTimeout)
	err := c.SendAsync(ctx, p.sb, e.ChannelID, bz, switchboard.MaxSendTimeout, func(queued bool, err error) {
		win.give(len(bz))
		p.host.metrics.sent(queued)
		if !queued {
			p.sendFailed(e.ChannelID, err)
		}
	})
	cancel()
	if err != nil {
		win.give(len(bz))
		p.Logger.Debug("send", "channel", e.ChannelID, "err", err)
		p.host.metrics.sent(false)
		return false
	}
	return true
}

// TrySend queues the message only if the node has room for it now; it waits
// for the node's answer (CometBFT's TrySend says whether it was queued, and
// its callers act on it: blocksync answers a request or not).
func (p *peer) TrySend(e p2p.Envelope) bool {
	c, bz, ok := p.prepareSend(e)
	if !ok {
		return false
	}
	ctx, cancel := context.WithTimeout(p.host.ctx, SendTimeout)
	defer cancel()
	queued, err := c.TrySend(ctx, p.sb, e.ChannelID, bz)
	if err != nil {
		p.Logger.Debug("try send", "channel", e.ChannelID, "err", err)
		queued = false
	}
	p.host.metrics.sent(queued)
	return queued
}

// prepareSend checks what CometBFT's peer checks before queueing (a running
// peer that has the channel) and what the node would refuse (the channel's
// message size), and encodes the message as CometBFT's peer does: Wrap,
// then marshal.
func (p *peer) prepareSend(e p2p.Envelope) (*switchboard.Client, []byte, bool) {
	if !p.IsRunning() || !p.hasChannel(e.ChannelID) {
		return nil, nil, false
	}
	w := p.host.byChannel[e.ChannelID]
	if w == nil {
		return nil, nil, false
	}
	c := w.currentClient()
	if c == nil {
		return nil, nil, false
	}
	msg := e.Message
	if wr, ok := msg.(p2p.Wrapper); ok {
		msg = wr.Wrap()
	}
	bz, err := proto.Marshal(msg)
	if err != nil {
		p.Logger.Error("marshaling message to send", "err", err)
		return nil, nil, false
	}
	if d, ok := w.channel(e.ChannelID); ok && d.RecvMessageCapacity > 0 && len(bz) > d.RecvMessageCapacity {
		p.Logger.Error("message larger than its channel accepts", "channel", e.ChannelID, "bytes", len(bz), "limit", d.RecvMessageCapacity)
		p.host.metrics.sent(false)
		return nil, nil, false
	}
	return c, bz, true
}

func (p *peer) hasChannel(ch byte) bool {
	return bytes.IndexByte(p.nodeInfo.Channels, ch) >= 0
}

// sendFailed handles a message that Send accepted and the node did not
// queue.
func (p *peer) sendFailed(ch byte, err error) {
	var ce *switchboard.CommandError
	switch {
	case errors.As(err, &ce) && (ce.Reason == switchboard.ReasonPeerRemoved || ce.Reason == switchboard.ReasonUnknownPeer):
		return // the node removed the connection; its RemovePeer follows
	case errors.Is(err, switchboard.ErrClosed) || errors.Is(err, context.Canceled):
		return // the host is closing
	case !p.IsRunning():
		return
	}
	p.host.metrics.sendsLost.Add(1)
	reason := fmt.Errorf("a message on channel %#x that Send had accepted was not queued on the Switchboard node (%v); stopping the peer, which would otherwise miss it", ch, sendFailure(err))
	p.Logger.Info("Stopping a peer that missed a message", "channel", ch, "err", sendFailure(err))
	p.host.sw.StopPeerForError(p, reason)
}

func sendFailure(err error) string {
	if err == nil {
		return fmt.Sprintf("the peer's send queue stayed full for %s", switchboard.MaxSendTimeout)
	}
	return err.Error()
}

// sendWindow bounds the messages one hosted peer has on their way to the
// node on one channel: sent, not yet answered.
type sendWindow struct {
	mu    sync.Mutex
	n     int
	bytes int
	// waiting counts the takes and drains waiting on freed, which is closed
	// (and replaced) when room is given back while any wait: an answer with
	// nobody waiting allocates nothing.
	waiting int
	freed   chan struct{}
}

func newSendWindow() *sendWindow { return &sendWindow{freed: make(chan struct{})} }

// take waits up to timeout for room for a message of size bytes; a message
// larger than MaxSendBytesInFlight goes when the window is empty.
func (s *sendWindow) take(ctx context.Context, size int, timeout time.Duration) bool {
	var timer *time.Timer
	for {
		s.mu.Lock()
		if s.n == 0 || (s.n < MaxSendsInFlight && s.bytes+size <= MaxSendBytesInFlight) {
			s.n++
			s.bytes += size
			s.mu.Unlock()
			if timer != nil {
				timer.Stop()
			}
			return true
		}
		freed := s.freed
		s.waiting++
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(timeout)
			defer timer.Stop()
		}
		ok := true
		select {
		case <-freed:
		case <-timer.C:
			ok = false
		case <-ctx.Done():
			ok = false
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if !ok {
			return false
		}
	}
}

// drain waits up to timeout until every message in the window was answered.
func (s *sendWindow) drain(ctx context.Context, timeout time.Duration) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		s.mu.Lock()
		n, freed := s.n, s.freed
		if n > 0 {
			s.waiting++
		}
		s.mu.Unlock()
		if n == 0 {
			return
		}
		ok := true
		select {
		case <-freed:
		case <-timer.C:
			ok = false
		case <-ctx.Done():
			ok = false
		}
		s.mu.Lock()
		s.waiting--
		s.mu.Unlock()
		if !ok {
			return
		}
	}
}

// give returns a message's room.
func (s *sendWindow) give(size int) {
	s.mu.Lock()
	s.n--
	s.bytes -= size
	if s.waiting > 0 {
		close(s.freed)
		s.freed = make(chan struct{})
	}
	s.mu.Unlock()
}

func (p *peer) Get(key string) interface{}        { return p.data.Get(key) }
func (p *peer) Set(key string, value interface{}) { p.data.Set(key, value) }
func (p *peer) SetRemovalFailed()                 { p.removalFailed.Store(true) }
func (p *peer) GetRemovalFailed() bool            { return p.removalFailed.Load() }
func (p *peer) String() string                    { return fmt.Sprintf("Peer{%s %s hosted}", p.sb.ID, p.sb.ConnectionID) }
