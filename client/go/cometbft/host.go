package cometbft

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
)

// Defaults of Options, each with its reason.
const (
	// DefaultConnectTimeout bounds the first attach while the Switchboard
	// node's gateway does not answer: long enough for a node started at the
	// same moment to come up, short enough that a wrong address is reported
	// while the operator still watches.
	DefaultConnectTimeout = 30 * time.Second
	// closeWait bounds how long Close waits for a reactor's dispatch
	// goroutine to return from a call into the reactor.
	closeWait = 5 * time.Second
)

// The reasons hosted reactors get in RemovePeer for removals the host makes
// up (the node's own removals carry the node's reason).
var (
	// ErrSessionReset: the reactor's stream could not be resumed; the new
	// session announces the connected peers again.
	ErrSessionReset = errors.New("switchboard: session reset, peers are announced again")
	// ErrNodeGone: the reactor's stream ended (the Switchboard node stopped).
	ErrNodeGone = errors.New("switchboard: the Switchboard node stopped")
	// ErrHostStopping: the hosted node is stopping.
	ErrHostStopping = errors.New("switchboard: the hosted node is stopping")
)

// Options configure a Host.
type Options struct {
	// Target is the Switchboard node's gateway: host:port, tcp://host:port
	// or unix:///path. Required.
	Target string
	// Reactors names the Switch's reactors to host. Default: every reactor
	// of the Switch except PEX (the Switchboard node runs PEX).
	Reactors []string
	// Network, when set, must be the Switchboard node's network: the
	// hosted node's chain ID.
	Network string
	// ConnectTimeout bounds the first attach while the gateway is
	// unreachable (default DefaultConnectTimeout).
	ConnectTimeout time.Duration
	// SDK holds the SDK options for every reactor's stream (TLS, Token,
	// DialOptions, CreditWindow, Backoff, Logger...); Name and Channels are
	// the host's to set.
	SDK switchboard.Options
	// Trace, when set, gets one JSON line per call made on a hosted
	// reactor (see NewTracer).
	Trace *Tracer
	// Logger is CometBFT's logger for the host's own lines (default: none).
	Logger log.Logger
}

// Stats counts what the host did; every field only grows.
type Stats struct {
	// SendsQueued and SendsNotQueued count hosted peers' Send and TrySend
	// results; a command that failed counts as not queued.
	SendsQueued, SendsNotQueued uint64
	// DecodeErrors counts messages that did not decode; each stopped its peer.
	DecodeErrors uint64
	// SendsLost counts messages a hosted peer's Send accepted that the node
	// then did not queue while the connection lived; each stopped its peer.
	SendsLost uint64
}

type counters struct{ queued, notQueued, decodeErrors, sendsLost atomic.Uint64 }

func (c *counters) sent(queued bool) {
	if queued {
		c.queued.Add(1)
	} else {
		c.notQueued.Add(1)
	}
}

// peerState is what one hosted reactor has been told of one connection.
type peerState int

const (
	unseen peerState = iota
	inited
	added
	removed
)

// connection is one connection of the Switchboard node, shared by the
// hosted reactors.
type connection struct {
	peer  *peer
	state map[*reactor]peerState
	// pending holds the streams that have not delivered this connection's
	// RemovePeer yet; the entry is forgotten once it is empty.
	pending map[*reactor]bool
	// nodeRemoved: a stream delivered the node's RemovePeer. localStop: a
	// hosted reactor stopped it through the hosted Switch. Either stops the
	// peer. stopSent: the host asked the node to stop it.
	nodeRemoved, localStop, stopSent, inSet bool
}

// Host hosts a CometBFT Switch's reactors on a Switchboard node.
type Host struct {
	sw        *p2p.Switch
	peers     *p2p.PeerSet
	opts      Options
	logger    log.Logger
	trace     *Tracer
	metrics   counters
	reactors  []*reactor
	byChannel map[byte]*reactor

	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	conns   map[string]*connection
	closing bool

	// stopFn stops a connection on the Switchboard node (stopOnNode; tests
	// replace it to see the stops without a node).
	stopFn func(w *reactor, p *peer, reason interface{})

	wg       sync.WaitGroup
	done     chan struct{}
	failOnce sync.Once
	err      error
}

// New takes over the reactors of sw, a CometBFT node's Switch that has not
// started yet: each is replaced in sw by a stand-in that forwards to it, so
// that the Switch's own RemovePeer calls reach the host. Start the node,
// then call Attach.
func New(sw *p2p.Switch, opts Options) (*Host, error) {
	if opts.Target == "" {
		return nil, errors.New("switchboard host: Options.Target (the Switchboard node's gateway address) is required")
	}
	if sw.IsRunning() {
		return nil, errors.New("switchboard host: the Switch is already running; call New before starting the node")
	}
	peers, ok := sw.Peers().(*p2p.PeerSet)
	if !ok {
		return nil, fmt.Errorf("switchboard host: unexpected peer set %T", sw.Peers())
	}
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	if opts.Logger == nil {
		opts.Logger = log.NewNopLogger()
	}
	h := &Host{
		sw: sw, peers: peers, opts: opts, logger: opts.Logger.With("module", "switchboard"), trace: opts.Trace,
		byChannel: map[byte]*reactor{}, conns: map[string]*connection{}, done: make(chan struct{}),
	}
	h.stopFn = h.stopOnNode
	names := opts.Reactors
	if len(names) == 0 {
		for name := range sw.Reactors() {
			if name != "PEX" {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	for _, name := range names {
		r := sw.Reactor(name)
		if r == nil {
			return nil, fmt.Errorf("switchboard host: the node has no reactor %q", name)
		}
		w, err := newReactor(h, name, r)
		if err != nil {
			return nil, fmt.Errorf("switchboard host: %w", err)
		}
		for _, c := range w.channels {
			if other, taken := h.byChannel[c.ID]; taken {
				return nil, fmt.Errorf("switchboard host: channel %#x belongs to both %s and %s", c.ID, other.name, name)
			}
			h.byChannel[c.ID] = w
		}
		h.reactors = append(h.reactors, w)
	}
	for _, w := range h.reactors {
		sw.RemoveReactor(w.name, w.Reactor)
		sw.AddReactor(w.name, w.inSwitch())
		ids := make([]byte, 0, len(w.channels))
		for _, c := range w.channels {
			ids = append(ids, c.ID)
		}
		h.trace.channels(w.name, ids)
		h.trace.lifecycle(w.name, "SetSwitch")
	}
	sw.SetAddrBook(addrBook{h})
	return h, nil
}

// Reactors names the hosted reactors, as registered on the Switchboard node.
func (h *Host) Reactors() []string {
	out := make([]string, 0, len(h.reactors))
	for _, w := range h.reactors {
		out = append(out, w.name)
	}
	return out
}

// Attach attaches every hosted reactor to the Switchboard node (the node
// waits for them when its grpc.reactors lists them) and starts delivering
// events. Call it once the hosted node has started. ctx bounds the host's
// life; Close ends it too.
func (h *Host) Attach(ctx context.Context) error {
	h.ctx, h.cancel = context.WithCancel(ctx)
	errs := make([]error, len(h.reactors))
	var wg sync.WaitGroup
	for i, w := range h.reactors {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := h.attach(w, h.opts.ConnectTimeout)
			if err == nil {
				w.setClient(c)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		h.cancel()
		return err
	}
	for _, w := range h.reactors {
		h.wg.Add(1)
		go h.run(w)
	}
	h.logger.Info("Attached to the Switchboard node", "gateway", h.opts.Target, "reactors", strings.Join(h.Reactors(), ","),
		"network", h.reactors[0].currentClient().NodeInfo().Network)
	return nil
}

// attach attaches w, waiting at most timeout (0: until the host ends) for
// an unreachable gateway.
func (h *Host) attach(w *reactor, timeout time.Duration) (*switchboard.Client, error) {
	o := h.opts.SDK
	o.Name = w.name
	o.Channels = w.channels
	actx, cancel := context.WithCancel(h.ctx)
	type result struct {
		c   *switchboard.Client
		err error
	}
	res := make(chan result, 1)
	go func() {
		c, err := switchboard.Attach(actx, h.opts.Target, o)
		res <- result{c, err}
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var r result
	select {
	case r = <-res:
	case <-expired:
		cancel()
		r = <-res
		if r.err == nil {
			r.c.Close()
		}
		return nil, fmt.Errorf("cannot reach the Switchboard node's gateway at %s within %s (%v): start the node first "+
			"(switchboard start --grpc.reactors %s) or correct --switchboard.grpc",
			h.opts.Target, timeout, lastAttempt(r.err), strings.Join(h.Reactors(), ","))
	}
	if r.err != nil {
		cancel()
		return nil, h.explain(w, r.err)
	}
	if got := r.c.NodeInfo().Network; h.opts.Network != "" && got != h.opts.Network {
		r.c.Close()
		cancel()
		return nil, fmt.Errorf("the Switchboard node at %s is on network %q, but this node's chain ID is %q: "+
			"start the Switchboard node with --node.network %s", h.opts.Target, got, h.opts.Network, h.opts.Network)
	}
	// The client lives as long as actx: until the host ends (h.cancel).
	go func() {
		<-r.c.Done()
		cancel()
	}()
	return r.c, nil
}

// lastAttempt digs the SDK's last attempt out of an attach error.
func lastAttempt(err error) string {
	if err == nil {
		return "no answer"
	}
	s := err.Error()
	if i := strings.Index(s, "last attempt: "); i >= 0 {
		return strings.TrimSuffix(s[i+len("last attempt: "):], ")")
	}
	return s
}

// explain turns a refused registration into a sentence an operator can act on.
func (h *Host) explain(w *reactor, err error) error {
	var ae *switchboard.AttachError
	if !errors.As(err, &ae) {
		return fmt.Errorf("reactor %s: attaching to %s: %w", w.name, h.opts.Target, err)
	}
	ids := make([]string, 0, len(w.channels))
	for _, c := range w.channels {
		ids = append(ids, fmt.Sprintf("%#02x", c.ID))
	}
	switch ae.Code {
	case codes.AlreadyExists:
		return fmt.Errorf("the Switchboard node at %s refused reactor %s: %s; another reactor already holds the name %s "+
			"or one of its channels (%s): stop it, or attach this node to another Switchboard node",
			h.opts.Target, w.name, ae.Message, w.name, strings.Join(ids, ","))
	case codes.Unauthenticated, codes.PermissionDenied:
		return fmt.Errorf("the Switchboard node at %s refused reactor %s: %s: check --switchboard.token (or the TLS "+
			"client certificate) against the node's grpc.credentials_file", h.opts.Target, w.name, ae.Message)
	default:
		return fmt.Errorf("the Switchboard node at %s refused reactor %s: %s (%s)", h.opts.Target, w.name, ae.Message, ae.Code)
	}
}

// Done is closed when the host failed (see Err); a Close does not close it.
func (h *Host) Done() <-chan struct{} { return h.done }

// Err is why the host failed, once Done is closed.
func (h *Host) Err() error {
	select {
	case <-h.done:
		return h.err
	default:
		return nil
	}
}

// Stats reports the host's counters.
func (h *Host) Stats() Stats {
	return Stats{SendsQueued: h.metrics.queued.Load(), SendsNotQueued: h.metrics.notQueued.Load(), DecodeErrors: h.metrics.decodeErrors.Load(), SendsLost: h.metrics.sendsLost.Load()}
}

func (h *Host) fail(err error) {
	h.failOnce.Do(func() {
		h.err = err
		close(h.done)
	})
}

// run delivers w's events, and attaches w again when the Switchboard node
// stopped and comes back.
func (h *Host) run(w *reactor) {
	defer h.wg.Done()
	for {
		c := w.currentClient()
		h.dispatch(w, c)
		h.forgetAll(w, ErrNodeGone)
		if h.ctx.Err() != nil {
			return
		}
		if err := c.Err(); err != nil {
			h.fail(fmt.Errorf("reactor %s: the stream to the Switchboard node failed: %w", w.name, err))
			return
		}
		h.logger.Info("The Switchboard node stopped; attaching again when it is back", "reactor", w.name)
		c, err := h.attach(w, 0)
		if err != nil {
			if h.ctx.Err() == nil {
				h.fail(err)
			}
			return
		}
		w.setClient(c)
	}
}

func (h *Host) dispatch(w *reactor, c *switchboard.Client) {
	events := c.Events()
	for {
		select {
		case <-w.wake:
			h.applyRemovals(w)
		case ev, ok := <-events:
			h.applyRemovals(w)
			if !ok {
				return
			}
			h.handle(w, ev)
		}
	}
}

// applyRemovals makes the RemovePeer calls the hosted Switch asked for.
func (h *Host) applyRemovals(w *reactor) {
	for _, r := range w.takeRemovals() {
		h.trace.peer(w.name, "RemovePeer", r.peer)
		w.Reactor.RemovePeer(r.peer, r.reason)
	}
}

func (h *Host) handle(w *reactor, ev switchboard.Event) {
	switch e := ev.(type) {
	case switchboard.InitPeer:
		h.onInitPeer(w, e)
	case switchboard.AddPeer:
		h.onAddPeer(w, e)
	case switchboard.Receive:
		h.onReceive(w, e)
	case switchboard.RemovePeer:
		h.onRemovePeer(w, e)
	case switchboard.Session:
		if !e.Resumed {
			h.logger.Info("Session with the Switchboard node reset", "reactor", w.name, "reason", e.RefusedReason)
			h.forgetAll(w, ErrSessionReset)
		}
	case switchboard.Start, switchboard.Stop:
		// The hosted reactors were started with the hosted node and stop
		// with it; the node's Stop precedes the end of the stream, after
		// which run attaches again.
	}
}

func (h *Host) onInitPeer(w *reactor, e switchboard.InitPeer) {
	h.mu.Lock()
	c := h.conns[e.Peer.ConnectionID]
	if c == nil {
		c = &connection{peer: newPeer(h, e.Info), state: map[*reactor]peerState{}, pending: map[*reactor]bool{}}
		for _, r := range h.reactors {
			c.pending[r] = true
		}
		h.conns[e.Peer.ConnectionID] = c
		_ = c.peer.Start()
	}
	c.pending[w] = true
	// A connection a hosted reactor stopped is not announced to a reactor
	// whose stream lagged behind (CometBFT drops what a stopped peer had not
	// delivered); one the node removed is, with what preceded the removal.
	deliver := c.state[w] == unseen && !c.localStop
	if c.state[w] == unseen {
		c.state[w] = inited
		if !deliver {
			c.state[w] = removed
		}
	}
	h.mu.Unlock()
	if deliver {
		h.trace.peer(w.name, "InitPeer", c.peer)
		w.Reactor.InitPeer(c.peer)
	}
}

func (h *Host) onAddPeer(w *reactor, e switchboard.AddPeer) {
	h.mu.Lock()
	c := h.conns[e.Peer.ConnectionID]
	if c == nil || c.state[w] != inited {
		h.mu.Unlock()
		return
	}
	if !c.inSet && !c.nodeRemoved && !c.localStop {
		if err := h.peers.Add(c.peer); err != nil {
			h.logger.Error("Adding a hosted peer to the Switch's peer set", "peer", c.peer, "err", err)
		} else {
			c.inSet = true
		}
	}
	c.state[w] = added
	h.mu.Unlock()
	h.trace.peer(w.name, "AddPeer", c.peer)
	w.Reactor.AddPeer(c.peer)
}

func (h *Host) onReceive(w *reactor, e switchboard.Receive) {
	h.mu.Lock()
	c := h.conns[e.Peer.ConnectionID]
	ok := c != nil && (c.state[w] == inited || c.state[w] == added)
	h.mu.Unlock()
	if !ok {
		return // the reactor was told the peer is gone
	}
	msg, err := w.decode(c.peer, e.ChannelID, e.Message)
	if err != nil {
		h.metrics.decodeErrors.Add(1)
		h.logger.Error("Stopping peer for a message that does not decode", "peer", c.peer, "reactor", w.name, "err", err)
		h.sw.StopPeerForError(c.peer, err)
		return
	}
	h.trace.receive(w.name, c.peer, e.ChannelID)
	w.Reactor.Receive(p2p.Envelope{ChannelID: e.ChannelID, Src: c.peer, Message: msg})
}

func (h *Host) onRemovePeer(w *reactor, e switchboard.RemovePeer) {
	h.mu.Lock()
	c := h.conns[e.Peer.ConnectionID]
	if c == nil {
		h.mu.Unlock()
		return
	}
	deliver := c.state[w] == inited || c.state[w] == added
	c.state[w] = removed
	delete(c.pending, w)
	c.nodeRemoved = true
	h.stopLocked(c)
	h.mu.Unlock()
	if deliver {
		var reason interface{}
		if e.Reason != "" {
			reason = &switchboard.PeerStoppedError{Reason: e.Reason}
		}
		h.trace.peer(w.name, "RemovePeer", c.peer)
		w.Reactor.RemovePeer(c.peer, reason)
	}
}

// stopLocked stops c's peer and takes it out of the peer set; c is
// forgotten once no stream has its RemovePeer to deliver. h.mu is held.
func (h *Host) stopLocked(c *connection) {
	if c.peer.IsRunning() {
		_ = c.peer.Stop()
	}
	if c.inSet && h.peers.Get(c.peer.ID()) == c.peer {
		h.peers.Remove(c.peer)
	}
	c.inSet = false
	if len(c.pending) == 0 {
		delete(h.conns, c.peer.sb.ConnectionID)
	}
}

// forgetAll removes every peer w was told of, with reason: w's stream ended
// or was reset, and a new session announces the live connections again.
func (h *Host) forgetAll(w *reactor, reason error) {
	h.applyRemovals(w)
	var told []*peer
	h.mu.Lock()
	for _, c := range h.conns {
		if c.state[w] == inited || c.state[w] == added {
			told = append(told, c.peer)
		}
		c.state[w] = unseen
		delete(c.pending, w)
		if len(c.pending) == 0 {
			h.stopLocked(c)
		}
	}
	h.mu.Unlock()
	for _, p := range told {
		h.trace.peer(w.name, "RemovePeer", p)
		w.Reactor.RemovePeer(p, reason)
	}
}

// removeLocally is the hosted Switch removing p from w (StopPeerForError or
// StopPeerGracefully by a hosted reactor, or the hosted node stopping). The
// first such call for a connection stops it on the Switchboard node too.
func (h *Host) removeLocally(w *reactor, p *peer, reason interface{}) {
	h.mu.Lock()
	c := h.conns[p.sb.ConnectionID]
	if c == nil || c.peer != p {
		h.mu.Unlock()
		return
	}
	queue := c.state[w] == inited || c.state[w] == added
	if queue {
		c.state[w] = removed
	}
	stop := !c.nodeRemoved && !c.stopSent && !h.closing
	if stop {
		c.stopSent = true
	}
	c.localStop = true
	c.inSet = false // the hosted Switch removes it from the set itself
	h.mu.Unlock()
	if queue {
		w.queueRemoval(p, reason)
	}
	if stop {
		go h.stopFn(w, p, reason)
	}
}

// stopOnNode stops p's connection on the Switchboard node.
func (h *Host) stopOnNode(w *reactor, p *peer, reason interface{}) {
	c := w.currentClient()
	if c == nil {
		return
	}
	ctx, cancel := context.WithTimeout(h.ctx, SendTimeout)
	defer cancel()
	var err error
	if reason == nil {
		err = c.StopPeerGracefully(ctx, p.sb)
	} else {
		err = c.StopPeerForError(ctx, p.sb, fmt.Sprint(reason))
	}
	if err != nil {
		h.logger.Debug("Stopping a peer on the Switchboard node", "peer", p, "err", err)
	}
}

// clientFor is the stream that sends on channel ch.
func (h *Host) clientFor(ch byte) *switchboard.Client {
	if w := h.byChannel[ch]; w != nil {
		return w.currentClient()
	}
	return nil
}

// anyClient is a stream for commands that belong to no channel.
func (h *Host) anyClient() *switchboard.Client {
	for _, w := range h.reactors {
		if c := w.currentClient(); c != nil {
			return c
		}
	}
	return nil
}

// Close detaches every reactor and removes, in each, the peers it still
// has (reason ErrHostStopping); call it before stopping the hosted node,
// whose Switch then has no peer left to stop. The connections stay up on
// the Switchboard node.
func (h *Host) Close() {
	h.mu.Lock()
	h.closing = true
	h.mu.Unlock()
	if h.cancel == nil {
		return
	}
	h.cancel()
	finished := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(finished)
	}()
	select {
	case <-finished:
	case <-time.After(closeWait):
		h.logger.Error("A hosted reactor did not return from a call within its stop wait", "wait", closeWait)
	}
	for _, w := range h.reactors {
		h.forgetAll(w, ErrHostStopping)
	}
	h.trace.Flush()
}

// addrBook is the hosted Switch's address book: MarkGood reaches the
// Switchboard node's address book; the rest has nothing to do (the hosted
// Switch runs no PEX and dials nobody).
type addrBook struct{ h *Host }

var _ p2p.AddrBook = addrBook{}

func (a addrBook) MarkGood(id p2p.ID) {
	c := a.h.anyClient()
	if c == nil {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(a.h.ctx, SendTimeout)
		defer cancel()
		if err := c.MarkPeerAsGood(ctx, switchboard.Peer{ID: string(id)}); err != nil {
			a.h.logger.Debug("Marking a peer as good on the Switchboard node", "peer", id, "err", err)
		}
	}()
}

func (addrBook) AddAddress(*p2p.NetAddress, *p2p.NetAddress) error { return nil }
func (addrBook) AddPrivateIDs([]string)                            {}
func (addrBook) AddOurAddress(*p2p.NetAddress)                     {}
func (addrBook) OurAddress(*p2p.NetAddress) bool                   { return false }
func (addrBook) RemoveAddress(*p2p.NetAddress)                     {}
func (addrBook) HasAddress(*p2p.NetAddress) bool                   { return false }
func (addrBook) Save()                                             {}
