package switchboard

import (
	"context"
	"fmt"
	"time"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// MaxSendTimeout is the longest wait for queue room a Send may ask the node
// for (the node's MAX_SEND_TIMEOUT_MS); a longer context deadline is capped.
const MaxSendTimeout = 60 * time.Second

// do runs one command: it waits for a command slot and an attached stream
// (while re-attaching), queues the command for the stream's writer, which
// sends it in a RequestBatch with whatever else is queued, and waits for
// its result.
//
// A command that never left is sent on the next stream; one whose stream
// broke after it was written fails with ErrResultLost, never repeated. A
// command cancelled by ctx before the writer took it is not sent at all.
func (c *Client) do(ctx context.Context, cmd *gatewayv1.Command) (*gatewayv1.CommandResult, error) {
	g, err := c.prepare(cmd)
	if err != nil {
		return nil, err
	}
	if err := c.takeSlot(ctx); err != nil {
		return nil, err
	}
	defer func() { <-c.slots }()
	for {
		f, err := c.queue(ctx, g)
		if err != nil {
			return nil, err
		}
		r, unsent, err := c.await(ctx, f)
		if unsent {
			continue // the stream broke before the command left: use the next one
		}
		return r, err
	}
}

// prepare numbers cmd and checks its size.
func (c *Client) prepare(cmd *gatewayv1.Command) (*outgoing, error) {
	cmd.RequestId = c.nextID.Add(1)
	g := newOutgoing(cmd)
	if err := c.tooLarge(g); err != nil {
		return nil, err
	}
	return g, nil
}

// takeSlot waits for one of the Options.MaxInflightCommands slots.
func (c *Client) takeSlot(ctx context.Context) error {
	select {
	case c.slots <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-c.ctx.Done():
		return ErrClosed
	}
}

// inflight is a command on a stream's outbox, awaiting its result.
type inflight struct {
	g      *outgoing
	att    *attachment
	result chan *gatewayv1.CommandResult
}

// queue waits for an attached stream and puts g in its outbox. Commands
// queued one after another from one goroutine leave in that order.
func (c *Client) queue(ctx context.Context, g *outgoing) (inflight, error) {
	id := g.cmd.RequestId
	for {
		att, ch, err := c.register(ctx, id)
		if err != nil {
			return inflight{}, err
		}
		// Checked again against the limits of the stream it goes on: a
		// command that waited for a re-attach may face another node's.
		if err := c.tooLarge(g); err != nil {
			c.forget(att, id)
			return inflight{}, err
		}
		if att.out.push(g) {
			return inflight{g: g, att: att, result: ch}, nil
		}
		// The writer stopped: the stream is ending. Use the next one.
		c.forget(att, id)
		select {
		case <-att.broken:
		case <-ctx.Done():
			return inflight{}, ctx.Err()
		case <-c.ctx.Done():
			return inflight{}, ErrClosed
		}
	}
}

// await waits for q's result. unsent reports a command that never left
// because its stream broke first (the caller may queue it again).
func (c *Client) await(ctx context.Context, q inflight) (r *gatewayv1.CommandResult, unsent bool, err error) {
	select {
	case r := <-q.result:
		return r, false, nil
	case <-q.att.broken:
		select {
		case r := <-q.result: // arrived just before the stream ended
			return r, false, nil
		default:
		}
		if q.att.out.withdraw(q.g) {
			return nil, true, ErrNotSent
		}
		// gRPC does not say whether a message whose stream then failed arrived.
		return nil, false, ErrResultLost
	case <-ctx.Done():
		q.att.out.withdraw(q.g) // not sent if the writer had not taken it yet
		c.forget(q.att, q.g.cmd.RequestId)
		return nil, false, ctx.Err()
	case <-c.ctx.Done():
		return nil, false, ErrClosed
	}
}

// forget drops the result slot of request id on att.
func (c *Client) forget(att *attachment, id uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if att.pending != nil {
		delete(att.pending, id)
	}
}

// register waits for an attached stream and books a result slot on it.
func (c *Client) register(ctx context.Context, id uint64) (*attachment, chan *gatewayv1.CommandResult, error) {
	for {
		c.mu.Lock()
		if c.finished {
			c.mu.Unlock()
			return nil, nil, ErrClosed
		}
		att, changed := c.att, c.attChanged
		if att != nil && att.pending != nil {
			ch := make(chan *gatewayv1.CommandResult, 1)
			att.pending[id] = ch
			c.mu.Unlock()
			return att, ch, nil
		}
		c.mu.Unlock()
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		case <-c.ctx.Done():
			return nil, nil, ErrClosed
		}
	}
}

// result runs cmd and checks the result's kind.
func result[T any](c *Client, ctx context.Context, cmd *gatewayv1.Command, want func(*gatewayv1.CommandResult) (T, bool)) (T, error) {
	r, err := c.do(ctx, cmd)
	if err != nil {
		var zero T
		return zero, err
	}
	return pick(r, want)
}

// pick turns a result into its value, or its command's error.
func pick[T any](r *gatewayv1.CommandResult, want func(*gatewayv1.CommandResult) (T, bool)) (T, error) {
	var zero T
	if r.GetError() != nil {
		return zero, commandErrorFromAPI(r.GetError())
	}
	v, ok := want(r)
	if !ok {
		return zero, fmt.Errorf("%w: command %d answered with %T", ErrProtocol, r.GetRequestId(), r.GetKind())
	}
	return v, nil
}

func done(r *gatewayv1.CommandResult) (struct{}, bool) { return struct{}{}, r.GetDone() != nil }

func sendQueued(r *gatewayv1.CommandResult) (bool, bool) {
	s := r.GetSend()
	return s.GetQueued(), s != nil
}

// Send queues msg for the peer on channel ch, waiting for queue room until
// ctx's deadline (at most MaxSendTimeout; without a deadline, the node's send
// timeout, 10 s). It reports whether the message was queued, as CometBFT's
// Peer.Send does. It fails with a *CommandError: NotFound (ReasonUnknownPeer,
// ReasonPeerRemoved), FailedPrecondition (ReasonChannelNotRegistered,
// ReasonChannelNotSupportedByPeer), InvalidArgument (ReasonMessageTooLarge:
// larger than the channel accepts, or than Options.MaxMessageBytes, in
// which case it is not sent).
func (c *Client) Send(ctx context.Context, peer Peer, ch byte, msg []byte) (bool, error) {
	var timeout time.Duration
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
		if timeout <= 0 {
			return false, context.DeadlineExceeded
		}
	}
	return result(c, ctx, sendCommand(peer, ch, msg, timeout), sendQueued)
}

// sendCommand is a Send command; timeout 0 leaves the node's default.
func sendCommand(peer Peer, ch byte, msg []byte, timeout time.Duration) *gatewayv1.Command {
	var timeoutMs uint32
	if timeout > 0 {
		timeoutMs = max(uint32(min(timeout, MaxSendTimeout).Milliseconds()), 1)
	}
	return &gatewayv1.Command{Kind: &gatewayv1.Command_Send{Send: &gatewayv1.Send{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID, ChannelId: uint32(ch), Message: msg, TimeoutMs: timeoutMs,
	}}}
}

// SendAsync is Send without waiting for the outcome: it returns once the
// command is in the stream's outbox, and done gets the outcome later (what
// Send would have returned), called once from a goroutine of the client's.
// It lets one goroutine keep many messages on their way to a peer instead of
// one per round trip to the node.
//
// Order: commands queued one after another by one goroutine (SendAsync or
// any other) reach the node in that order, and the node queues Sends to one
// peer's channel in the order they arrived, a Send that waits for room
// included (later ones wait behind it). So a goroutine's messages to one
// peer on one channel go out in the order of its calls, except one that the
// node gave up on (timeout, done with false).
//
// timeout is how long the node may wait for room in the peer's queue (0: the
// node's send timeout, 10 s; at most MaxSendTimeout). ctx bounds only the
// wait to be queued here (a command slot, an attached stream); once
// SendAsync has returned nil, done is called whatever happens to ctx: with
// ErrNotSent if the stream ended before the command was written (it is not
// sent on the next stream, which would break the order), ErrResultLost if it
// ended after, ErrClosed if the client finished first. An error returned by
// SendAsync itself means the command was not sent and done is not called.
func (c *Client) SendAsync(ctx context.Context, peer Peer, ch byte, msg []byte, timeout time.Duration, done func(queued bool, err error)) error {
	g, err := c.prepare(sendCommand(peer, ch, msg, timeout))
	if err != nil {
		return err
	}
	if err := c.takeSlot(ctx); err != nil {
		return err
	}
	q, err := c.queue(ctx, g)
	if err != nil {
		<-c.slots
		return err
	}
	go func() {
		r, _, err := c.await(context.Background(), q)
		<-c.slots
		var queued bool
		if err == nil {
			queued, err = pick(r, sendQueued)
		}
		done(queued, err)
	}()
	return nil
}

// TrySend queues msg for the peer only if there is room now; it reports
// whether it did. Errors as for Send.
func (c *Client) TrySend(ctx context.Context, peer Peer, ch byte, msg []byte) (bool, error) {
	return result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_TrySend{TrySend: &gatewayv1.TrySend{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID, ChannelId: uint32(ch), Message: msg,
	}}}, sendQueued)
}

// Broadcast sends msg on channel ch to every connected peer and reports,
// per peer, whether it was queued.
func (c *Client) Broadcast(ctx context.Context, ch byte, msg []byte) ([]BroadcastResult, error) {
	return result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_Broadcast{Broadcast: &gatewayv1.Broadcast{ChannelId: uint32(ch), Message: msg}}},
		func(r *gatewayv1.CommandResult) ([]BroadcastResult, bool) {
			b := r.GetBroadcast()
			out := make([]BroadcastResult, 0, len(b.GetResults()))
			for _, e := range b.GetResults() {
				out = append(out, BroadcastResult{PeerID: e.GetPeerId(), Queued: e.GetQueued()})
			}
			return out, b != nil
		})
}

// StopOption modifies StopPeerForError.
type StopOption func(*gatewayv1.StopPeerForError)

// NoReconnect tells the node not to redial the peer, even if it is persistent.
func NoReconnect() StopOption { return func(s *gatewayv1.StopPeerForError) { s.NoReconnect = true } }

// StopPeerForError disconnects a peer because it misbehaved; every reactor
// then sees RemovePeer with reason.
func (c *Client) StopPeerForError(ctx context.Context, peer Peer, reason string, opts ...StopOption) error {
	s := &gatewayv1.StopPeerForError{ConnectionId: peer.ConnectionID, PeerId: peer.ID, Reason: reason}
	for _, o := range opts {
		o(s)
	}
	_, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_StopPeerForError{StopPeerForError: s}}, done)
	return err
}

// StopPeerGracefully disconnects a peer without blame.
func (c *Client) StopPeerGracefully(ctx context.Context, peer Peer) error {
	return c.stopPeerGracefully(ctx, peer, false)
}

// FlushStopPeer disconnects a peer without blame once what is already queued
// to it is written out (CometBFT's Peer.FlushStop then StopPeerGracefully, as
// a seed does after answering PEX). From the call on the peer takes no new
// sends and delivers no more messages; FlushStopPeer returns once the peer is
// removed, within the node's flush-stop timeout (10 s).
func (c *Client) FlushStopPeer(ctx context.Context, peer Peer) error {
	return c.stopPeerGracefully(ctx, peer, true)
}

func (c *Client) stopPeerGracefully(ctx context.Context, peer Peer, flush bool) error {
	_, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_StopPeerGracefully{StopPeerGracefully: &gatewayv1.StopPeerGracefully{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID, Flush: flush,
	}}}, done)
	return err
}

// MarkPeerAsGood tells the node's address book the peer is useful.
func (c *Client) MarkPeerAsGood(ctx context.Context, peer Peer) error {
	_, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_MarkPeerAsGood{MarkPeerAsGood: &gatewayv1.MarkPeerAsGood{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID,
	}}}, done)
	return err
}

// DialOption modifies DialPeers.
type DialOption func(*gatewayv1.DialPeers)

// Persistent also adds the addresses as persistent peers (redialled when they drop).
func Persistent() DialOption { return func(d *gatewayv1.DialPeers) { d.Persistent = true } }

// DialPeers dials id@host:port addresses in the background; it returns once
// the node accepted them (InvalidArgument with ReasonInvalidAddress if one
// does not parse), not when they are connected: watch for InitPeer.
func (c *Client) DialPeers(ctx context.Context, addresses []string, opts ...DialOption) error {
	d := &gatewayv1.DialPeers{Addresses: addresses}
	for _, o := range opts {
		o(d)
	}
	_, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_DialPeers{DialPeers: d}}, done)
	return err
}

// GetPeerData reads key from the per-peer store shared by the node's
// reactors; found is false when the key is not set.
func (c *Client) GetPeerData(ctx context.Context, peer Peer, key string) (value []byte, found bool, err error) {
	type res struct {
		v  []byte
		ok bool
	}
	r, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_GetPeerData{GetPeerData: &gatewayv1.GetPeerData{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID, Key: key,
	}}}, func(r *gatewayv1.CommandResult) (res, bool) {
		d := r.GetPeerData()
		return res{d.GetValue(), d.GetFound()}, d != nil
	})
	return r.v, r.ok, err
}

// SetPeerData writes key in the per-peer store shared by the node's reactors.
// The node takes values of at most 63 KiB (InvalidArgument beyond). A
// command over 64 KiB encoded fails with InvalidArgument without being sent
// (the node accepts no larger request other than a message's Send, TrySend
// or Broadcast).
func (c *Client) SetPeerData(ctx context.Context, peer Peer, key string, value []byte) error {
	_, err := result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_SetPeerData{SetPeerData: &gatewayv1.SetPeerData{
		ConnectionId: peer.ConnectionID, PeerId: peer.ID, Key: key, Value: value,
	}}}, done)
	return err
}

// ListPeers lists the connected peers.
func (c *Client) ListPeers(ctx context.Context) ([]PeerInfo, error) {
	return result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_ListPeers{ListPeers: &gatewayv1.ListPeers{}}},
		func(r *gatewayv1.CommandResult) ([]PeerInfo, bool) {
			l := r.GetPeers()
			out := make([]PeerInfo, 0, len(l.GetPeers()))
			for _, p := range l.GetPeers() {
				out = append(out, peerInfoFromAPI(p))
			}
			return out, l != nil
		})
}

// NumPeers counts peers as CometBFT's Switch.NumPeers does.
func (c *Client) NumPeers(ctx context.Context) (PeerCounts, error) {
	return result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_NumPeers{NumPeers: &gatewayv1.NumPeers{}}},
		func(r *gatewayv1.CommandResult) (PeerCounts, bool) {
			n := r.GetNumPeers()
			return PeerCounts{Outbound: int(n.GetOutbound()), Inbound: int(n.GetInbound()), Dialing: int(n.GetDialing())}, n != nil
		})
}

// GetPeer describes one connected peer and its connection status.
func (c *Client) GetPeer(ctx context.Context, peerID string) (PeerStatus, error) {
	return result(c, ctx, &gatewayv1.Command{Kind: &gatewayv1.Command_GetPeer{GetPeer: &gatewayv1.GetPeer{PeerId: peerID}}},
		func(r *gatewayv1.CommandResult) (PeerStatus, bool) {
			p := r.GetPeer()
			return peerStatusFromAPI(p), p != nil
		})
}
