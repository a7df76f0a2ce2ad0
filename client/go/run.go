package switchboard

import (
	"context"
	"fmt"
)

// Reactor is the callback style, shaped like CometBFT's p2p.Reactor so that
// Go reactors port with few changes. Run calls its methods one at a time,
// from one goroutine, in the order of the reactor grammar:
//
//	OnStart *(InitPeer *Receive [AddPeer *Receive] RemovePeer) OnStop
//
// per peer connection. Differences from CometBFT: peers are named by a Peer
// value and messages are sent through the *Client given to SetClient (its
// commands may be called from the callbacks); RemovePeer's reason is an
// error, nil for a graceful stop; InitPeer cannot replace the peer.
//
// Embed BaseReactor for no-op methods and the Client field.
type Reactor interface {
	// GetChannels lists the channels to register (used when Options.Channels is empty).
	GetChannels() []ChannelDescriptor
	// SetClient hands over the attached client, before any other call.
	SetClient(c *Client)
	// OnStart: the node started. An error ends Run (OnStop is then not called).
	OnStart() error
	// OnStop: the node stopped, or Run is ending; nothing follows.
	OnStop()
	// InitPeer: a new connection; do not send to it yet.
	InitPeer(peer PeerInfo)
	// AddPeer: the connection started; sending is allowed.
	AddPeer(peer Peer)
	// RemovePeer: the connection stopped. reason is nil for a graceful
	// stop, the node's reason otherwise, ErrSessionReset or ErrNodeGone for
	// the removals Run makes up (see Run).
	RemovePeer(peer Peer, reason error)
	// Receive: a message from a peer on one of the reactor's channels.
	Receive(e Receive)
}

// BaseReactor gives a Reactor no-op methods and keeps the Client, as
// CometBFT's BaseReactor keeps the Switch. GetChannels is left to you.
type BaseReactor struct {
	Client *Client
}

func (r *BaseReactor) SetClient(c *Client)  { r.Client = c }
func (*BaseReactor) OnStart() error         { return nil }
func (*BaseReactor) OnStop()                {}
func (*BaseReactor) InitPeer(PeerInfo)      {}
func (*BaseReactor) AddPeer(Peer)           {}
func (*BaseReactor) RemovePeer(Peer, error) {}
func (*BaseReactor) Receive(Receive)        {}

// PeerStoppedError is the reason RemovePeer gets when the node stopped a
// peer for an error.
type PeerStoppedError struct{ Reason string }

func (e *PeerStoppedError) Error() string { return e.Reason }

// Run attaches reactor to the node at target and calls its methods until
// the node stops (returns nil), ctx ends (returns ctx's error), OnStart
// fails (returns its error) or the client fails (returns Client.Err).
// opts.Channels defaults to reactor.GetChannels().
//
// Run keeps the grammar whole across the SDK's Session events: when a
// fresh session replaces one that could not be resumed, it removes every
// peer it had announced (reason ErrSessionReset) and does not call OnStart
// again; the new session's snapshot then adds the connected peers anew,
// under the same connection IDs. When the client ends without the node's
// OnStop, Run removes the remaining peers (reason ErrNodeGone) and calls
// OnStop itself.
func Run(ctx context.Context, target string, reactor Reactor, opts Options) error {
	if len(opts.Channels) == 0 {
		opts.Channels = reactor.GetChannels()
	}
	c, err := Attach(ctx, target, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	reactor.SetClient(c)

	started, stopped := false, false
	// Connections announced with InitPeer and not yet removed.
	open := map[string]Peer{}
	removeAll := func(reason error) {
		for id, p := range open {
			delete(open, id)
			reactor.RemovePeer(p, reason)
		}
	}
	for ev := range c.Events() {
		switch e := ev.(type) {
		case Start:
			if started {
				continue // a fresh session's Start: already started
			}
			started = true
			if err := reactor.OnStart(); err != nil {
				return fmt.Errorf("switchboard: OnStart: %w", err)
			}
		case Stop:
			removeAll(ErrNodeGone) // the node removes every peer first; this is a safeguard
			stopped = true
			reactor.OnStop()
		case InitPeer:
			open[e.Peer.ConnectionID] = e.Peer
			reactor.InitPeer(e.Info)
		case AddPeer:
			reactor.AddPeer(e.Peer)
		case Receive:
			reactor.Receive(e)
		case RemovePeer:
			delete(open, e.Peer.ConnectionID)
			var reason error
			if e.Reason != "" {
				reason = &PeerStoppedError{Reason: e.Reason}
			}
			reactor.RemovePeer(e.Peer, reason)
		case Session:
			if !e.Resumed {
				removeAll(ErrSessionReset)
			}
		}
	}
	<-c.Done()
	if started && !stopped {
		removeAll(ErrNodeGone)
		reactor.OnStop()
	}
	if err := c.Err(); err != nil {
		return err
	}
	return ctx.Err()
}
