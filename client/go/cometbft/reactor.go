package cometbft

import (
	"fmt"
	"sync"

	"github.com/cosmos/gogoproto/proto"

	"github.com/cometbft/cometbft/p2p"
	cmtconn "github.com/cometbft/cometbft/p2p/conn"
	sm "github.com/cometbft/cometbft/state"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
)

// reactor stands in the hosted Switch for one hosted reactor. It forwards
// the service and registration calls to the reactor it wraps and intercepts
// RemovePeer, which the hosted Switch calls when a hosted reactor stops a
// peer (StopPeerForError, StopPeerGracefully): the connection is then stopped
// on the Switchboard node, and each reactor's RemovePeer runs once, on the
// goroutine that makes its other calls, in order with them.
//
// Any other method the wrapped reactor has and another component looks up
// through Switch.Reactor (blocksync asks CONSENSUS for SwitchToConsensus) is
// offered by consensusReactor, a reactor with that method.
type reactor struct {
	p2p.Reactor

	host     *Host
	name     string
	channels []switchboard.ChannelDescriptor
	msgTypes map[byte]proto.Message

	mu sync.Mutex
	// removals are the RemovePeer calls the hosted Switch asked for, to be
	// made by the reactor's dispatch goroutine. At most one per connection
	// the reactor knows: bounded by the node's peer limits.
	removals []removal
	wake     chan struct{}
	client   *switchboard.Client
}

type removal struct {
	peer   *peer
	reason interface{}
}

// switchToConsensus is what blocksync looks up on the CONSENSUS reactor
// (blocksync/reactor.go: consensusReactor) when it has caught up.
type switchToConsensus interface {
	SwitchToConsensus(state sm.State, skipWAL bool)
}

// consensusReactor is a hosted reactor that also offers SwitchToConsensus.
type consensusReactor struct {
	*reactor
	inner switchToConsensus
}

func (c consensusReactor) SwitchToConsensus(state sm.State, skipWAL bool) {
	c.inner.SwitchToConsensus(state, skipWAL)
}

// inSwitch is what goes into the hosted Switch for w.
func (w *reactor) inSwitch() p2p.Reactor {
	if s, ok := w.Reactor.(switchToConsensus); ok {
		return consensusReactor{w, s}
	}
	return w
}

func newReactor(h *Host, name string, r p2p.Reactor) (*reactor, error) {
	w := &reactor{Reactor: r, host: h, name: name, msgTypes: map[byte]proto.Message{}, wake: make(chan struct{}, 1)}
	for _, d := range r.GetChannels() {
		if d == nil {
			continue
		}
		if d.MessageType == nil {
			return nil, fmt.Errorf("reactor %s: channel %#x has no MessageType", name, d.ID)
		}
		w.msgTypes[d.ID] = d.MessageType
		w.channels = append(w.channels, channelFromCometBFT(d))
	}
	if len(w.channels) == 0 {
		return nil, fmt.Errorf("reactor %s has no channels", name)
	}
	return w, nil
}

// channelFromCometBFT keeps the descriptor's fields; overflow is BLOCK, which
// is what an in-process reactor's slow Receive does to its peers.
func channelFromCometBFT(d *cmtconn.ChannelDescriptor) switchboard.ChannelDescriptor {
	return switchboard.ChannelDescriptor{
		ID:                  d.ID,
		Priority:            max(d.Priority, 1),
		SendQueueCapacity:   d.SendQueueCapacity,
		RecvBufferCapacity:  d.RecvBufferCapacity,
		RecvMessageCapacity: d.RecvMessageCapacity,
		OverflowPolicy:      switchboard.OverflowBlock,
	}
}

// Start starts the wrapped reactor (the hosted Switch's OnStart does it).
func (w *reactor) Start() error {
	if err := w.Reactor.Start(); err != nil {
		return err
	}
	w.host.trace.lifecycle(w.name, "OnStart")
	return nil
}

// Stop stops the wrapped reactor (the hosted Switch's OnStop does it).
func (w *reactor) Stop() error {
	w.host.trace.lifecycle(w.name, "OnStop")
	return w.Reactor.Stop()
}

// RemovePeer is the hosted Switch removing a peer: a hosted reactor stopped
// it, or the hosted node is stopping.
func (w *reactor) RemovePeer(p p2p.Peer, reason interface{}) {
	hp, ok := p.(*peer)
	if !ok {
		w.Reactor.RemovePeer(p, reason)
		return
	}
	w.host.removeLocally(w, hp, reason)
}

// queueRemoval hands a RemovePeer call to the dispatch goroutine.
// channel is the descriptor w registered for channel ch.
func (w *reactor) channel(ch byte) (switchboard.ChannelDescriptor, bool) {
	for _, d := range w.channels {
		if d.ID == ch {
			return d, true
		}
	}
	return switchboard.ChannelDescriptor{}, false
}

func (w *reactor) queueRemoval(p *peer, reason interface{}) {
	w.mu.Lock()
	w.removals = append(w.removals, removal{p, reason})
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *reactor) takeRemovals() []removal {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.removals
	w.removals = nil
	return r
}

func (w *reactor) setClient(c *switchboard.Client) {
	w.mu.Lock()
	w.client = c
	w.mu.Unlock()
}

func (w *reactor) currentClient() *switchboard.Client {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.client
}

// decode turns a message's bytes into what the reactor's Receive expects,
// exactly as CometBFT's peer does before calling Receive.
func (w *reactor) decode(p *peer, ch byte, bz []byte) (proto.Message, error) {
	if f, ok := w.Reactor.(p2p.MsgBytesFilter); ok {
		if err := f.FilterMsgBytes(ch, p, bz); err != nil {
			return nil, fmt.Errorf("rejected msg on chID %#x from %s: %w", ch, p.ID(), err)
		}
	}
	mt, ok := w.msgTypes[ch]
	if !ok {
		return nil, fmt.Errorf("unknown channel %#x", ch)
	}
	msg := proto.Clone(mt)
	if err := proto.Unmarshal(bz, msg); err != nil {
		return nil, fmt.Errorf("unmarshaling message: %s into type: %T", err, mt)
	}
	if u, ok := msg.(p2p.Unwrapper); ok {
		m, err := u.Unwrap()
		if err != nil {
			return nil, fmt.Errorf("unwrapping message: %s", err)
		}
		return m, nil
	}
	return msg, nil
}
