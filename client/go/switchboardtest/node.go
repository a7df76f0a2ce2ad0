// Package switchboardtest runs reactors against an in-memory node: a
// scripted stand-in for a Switchboard node's reactor gateway, for unit
// tests of reactors without a node process or a network.
//
// The test plays the node's side: Start, Connect peers, Deliver their
// messages, Disconnect them, Stop; and reads what the reactor sent from
// Sent. Events flow through the real gateway protocol (over an in-memory
// gRPC connection), so the SDK's credit and acknowledgements are exercised
// too. One reactor may be attached at a time; sessions are not resumed.
//
// As a node does, it takes a reactor's RequestBatch (the acknowledgement,
// then the credit, then each command in order; a batch of more than 1024
// commands has every command refused with InvalidArgument) and, for a
// reactor that registered with batch_results, answers the commands of a
// batch together in one ResultBatch of at most 1024 results (results that
// are ready leave before a command waits for room in Sent).
package switchboardtest

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// Target is the address to pass to switchboard.Attach or Run with Node.Options.
const Target = "passthrough:///switchboardtest"

// SentCapacity is how many sent messages Sent holds; a reactor sending
// more waits (its command does not complete) until the test reads them.
const SentCapacity = 4096

// maxBatchCommands is the most commands a RequestBatch may carry
// (gateway.proto), and the most results a node puts in one ResultBatch.
const maxBatchCommands = 1024

// Message is one message the reactor sent to a peer.
type Message struct {
	To        switchboard.Peer
	ChannelID byte
	Bytes     []byte
	// Via is "send", "try_send" or "broadcast".
	Via string
}

type peer struct {
	p    switchboard.Peer
	data map[string][]byte
}

// Node is the in-memory node. Create it with NewNode; Close it when done.
type Node struct {
	gatewayv1.UnimplementedReactorGatewayServiceServer
	info *gatewayv1.NodeInfo
	lis  *bufconn.Listener
	srv  *grpc.Server
	sent chan Message

	mu       sync.Mutex
	wake     chan struct{} // capacity 1: events were queued or credit came
	attached bool
	channels map[byte]bool
	queue    []*gatewayv1.Event // not sent yet
	nextSeq  uint64
	credMsgs int64
	credB    int64
	peers    map[string]*peer // by connection ID
	order    []string         // connection IDs, oldest first
	removed  map[string]bool
	nextConn int
	stopped  bool
}

// NewNode starts an in-memory node with the given ID and network.
func NewNode(id, network string) *Node {
	n := &Node{
		info:    &gatewayv1.NodeInfo{NodeId: id, Network: network, Moniker: "switchboardtest"},
		lis:     bufconn.Listen(1 << 20),
		srv:     grpc.NewServer(),
		sent:    make(chan Message, SentCapacity),
		wake:    make(chan struct{}, 1),
		nextSeq: 1,
		peers:   map[string]*peer{},
		removed: map[string]bool{},
	}
	gatewayv1.RegisterReactorGatewayServiceServer(n.srv, n)
	go func() { _ = n.srv.Serve(n.lis) }()
	return n
}

// Options returns o set to reach this node (use with Target).
func (n *Node) Options(o switchboard.Options) switchboard.Options {
	o.DialOptions = append(o.DialOptions,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return n.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	return o
}

// Close stops the node; an attached reactor sees its stream fail.
func (n *Node) Close() { n.srv.Stop() }

// Sent delivers the messages the reactor sent, in order.
func (n *Node) Sent() <-chan Message { return n.sent }

func (n *Node) push(evs ...*gatewayv1.Event) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.pushLocked(evs...)
}

func (n *Node) pushLocked(evs ...*gatewayv1.Event) {
	n.queue = append(n.queue, evs...)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// Start delivers OnStart.
func (n *Node) Start() {
	n.push(&gatewayv1.Event{Kind: &gatewayv1.Event_OnStart{OnStart: &gatewayv1.OnStart{}}})
}

// Connect adds a peer connection (InitPeer, then AddPeer) and returns it.
func (n *Node) Connect(peerID string) switchboard.Peer {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.nextConn++
	p := switchboard.Peer{ID: peerID, ConnectionID: fmt.Sprintf("conn-%d", n.nextConn)}
	n.peers[p.ConnectionID] = &peer{p: p, data: map[string][]byte{}}
	n.order = append(n.order, p.ConnectionID)
	n.pushLocked(
		&gatewayv1.Event{Kind: &gatewayv1.Event_InitPeer{InitPeer: &gatewayv1.InitPeer{Peer: n.peerInfo(p)}}},
		&gatewayv1.Event{Kind: &gatewayv1.Event_AddPeer{AddPeer: &gatewayv1.AddPeer{PeerId: p.ID, ConnectionId: p.ConnectionID}}},
	)
	return p
}

// Deliver delivers a message from a connected peer on channel ch.
func (n *Node) Deliver(p switchboard.Peer, ch byte, msg []byte) {
	n.push(&gatewayv1.Event{Kind: &gatewayv1.Event_Receive{Receive: &gatewayv1.Receive{
		PeerId: p.ID, ConnectionId: p.ConnectionID, ChannelId: uint32(ch), Message: msg,
	}}})
}

// Disconnect removes a peer connection (RemovePeer with reason; "" is graceful).
func (n *Node) Disconnect(p switchboard.Peer, reason string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.removeLocked(p.ConnectionID, reason)
}

func (n *Node) removeLocked(conn, reason string) {
	p, ok := n.peers[conn]
	if !ok {
		return
	}
	delete(n.peers, conn)
	for i, c := range n.order {
		if c == conn {
			n.order = append(n.order[:i], n.order[i+1:]...)
			break
		}
	}
	n.removed[conn] = true
	n.pushLocked(&gatewayv1.Event{Kind: &gatewayv1.Event_RemovePeer{RemovePeer: &gatewayv1.RemovePeer{
		PeerId: p.p.ID, ConnectionId: conn, Reason: reason,
	}}})
}

// Stop removes every peer, delivers OnStop and ends the stream.
func (n *Node) Stop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, conn := range append([]string(nil), n.order...) {
		n.removeLocked(conn, "")
	}
	n.stopped = true
	n.pushLocked(&gatewayv1.Event{Kind: &gatewayv1.Event_OnStop{OnStop: &gatewayv1.OnStop{}}})
}

// peerInfo describes a peer that speaks the attached reactor's protocol: its
// NodeInfo advertises the reactor's channels (n.mu held).
func (n *Node) peerInfo(p switchboard.Peer) *gatewayv1.PeerInfo {
	chs := make([]byte, 0, len(n.channels))
	for ch := range n.channels {
		chs = append(chs, ch)
	}
	slices.Sort(chs)
	return &gatewayv1.PeerInfo{PeerId: p.ID, ConnectionId: p.ConnectionID, Outbound: true, NodeInfo: &gatewayv1.NodeInfo{NodeId: p.ID, Network: n.info.GetNetwork(), Channels: chs}}
}

// Attach serves one reactor's stream.
func (n *Node) Attach(stream gatewayv1.ReactorGatewayService_AttachServer) error {
	first, err := stream.Recv()
	if err != nil {
		return err
	}
	reg := first.GetRegister()
	if reg == nil {
		return status.Error(codes.FailedPrecondition, "the first message must be Register")
	}
	n.mu.Lock()
	if n.attached {
		n.mu.Unlock()
		return status.Errorf(codes.AlreadyExists, "reactor %q is attached on another stream", reg.GetReactorName())
	}
	n.attached = true
	n.channels = map[byte]bool{}
	for _, c := range reg.GetChannels() {
		n.channels[byte(c.GetId())] = true
	}
	n.credMsgs, n.credB = int64(reg.GetInitialCredit().GetMessages()), int64(reg.GetInitialCredit().GetBytes())
	n.mu.Unlock()
	defer func() {
		n.mu.Lock()
		n.attached = false
		n.mu.Unlock()
	}()

	var sendMu sync.Mutex
	send := func(m *gatewayv1.AttachResponse) error {
		sendMu.Lock()
		defer sendMu.Unlock()
		return stream.Send(m)
	}
	if err := send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Registered{Registered: &gatewayv1.Registered{
		SessionToken: "switchboardtest", NodeInfo: n.info, NextEventSeq: 1,
	}}}); err != nil {
		return err
	}
	ctx := stream.Context()
	batched := reg.GetBatchResults()
	// busy is held while commands run and their results are sent, so that
	// the stream does not end (after Stop) before the results are out.
	var busy sync.Mutex
	go func() {
		for {
			req, err := stream.Recv()
			if err != nil {
				return
			}
			var cmds []*gatewayv1.Command
			switch m := req.GetMsg().(type) {
			case *gatewayv1.AttachRequest_Ack:
				// Nothing to do: sessions are not resumed, so no event is sent twice anyway.
			case *gatewayv1.AttachRequest_Credit:
				n.grant(m.Credit)
			case *gatewayv1.AttachRequest_Command:
				cmds = []*gatewayv1.Command{m.Command}
			case *gatewayv1.AttachRequest_Batch:
				// The ack (nothing to do, as above), then the credit, then the commands.
				n.grant(m.Batch.GetCredit())
				cmds = m.Batch.GetCommands()
			}
			if len(cmds) == 0 {
				continue
			}
			busy.Lock()
			err = n.runAll(ctx, cmds, batched && req.GetBatch() != nil, send)
			busy.Unlock()
			if err != nil {
				return
			}
		}
	}()
	for {
		n.mu.Lock()
		var batch []*gatewayv1.Event
		for len(n.queue) > 0 && n.credMsgs >= 1 && n.credB >= 1 || len(n.queue) > 0 && n.stopped {
			e := n.queue[0]
			n.queue = n.queue[1:]
			e.Seq = n.nextSeq
			n.nextSeq++
			n.credMsgs--
			n.credB -= int64(len(e.GetReceive().GetMessage()))
			batch = append(batch, e)
		}
		done := n.stopped && len(n.queue) == 0
		n.mu.Unlock()
		if len(batch) > 0 {
			if err := send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Events{Events: &gatewayv1.EventBatch{Events: batch}}}); err != nil {
				return err
			}
		}
		if done {
			busy.Lock() // let a command in progress answer
			busy.Unlock()
			return nil
		}
		select {
		case <-n.wake:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// grant adds credit (nil: none).
func (n *Node) grant(c *gatewayv1.Credit) {
	if c == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.credMsgs += int64(c.GetMessages())
	n.credB += int64(c.GetBytes())
	n.pushLocked()
}

// runAll runs commands in order and sends their results: together in one
// ResultBatch when batched, otherwise one CommandResult each as it is ready.
// Ready results leave before a command waits for room in Sent, so that a
// test waiting for them before reading Sent does not deadlock.
func (n *Node) runAll(ctx context.Context, cmds []*gatewayv1.Command, batched bool, send func(*gatewayv1.AttachResponse) error) error {
	var ready []*gatewayv1.CommandResult
	flush := func() error {
		out := ready
		ready = nil
		for batched && len(out) > 0 {
			k := min(len(out), maxBatchCommands) // a node's ResultBatch holds at most as many
			if err := send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Results{Results: &gatewayv1.ResultBatch{Results: out[:k]}}}); err != nil {
				return err
			}
			out = out[k:]
		}
		for _, r := range out {
			if err := send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Result{Result: r}}); err != nil {
				return err
			}
		}
		return nil
	}
	for _, c := range cmds {
		var res *gatewayv1.CommandResult
		if len(cmds) > maxBatchCommands {
			res = failed(codes.InvalidArgument, gatewayv1.ErrorReason_ERROR_REASON_INVALID_FIELD,
				"batch.commands: %d commands exceed the limit of %d per batch; none of them ran", len(cmds), maxBatchCommands)
		} else {
			res = n.run(ctx, c, func() { _ = flush() })
		}
		res.RequestId = c.GetRequestId()
		ready = append(ready, res)
		if !batched {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

func failed(code codes.Code, reason gatewayv1.ErrorReason, format string, a ...any) *gatewayv1.CommandResult {
	return &gatewayv1.CommandResult{Error: &gatewayv1.CommandError{Code: int32(code), Reason: reason, Message: fmt.Sprintf(format, a...)}}
}

func done() *gatewayv1.CommandResult {
	return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}}
}

// resolve finds the connection a command names (n.mu held).
func (n *Node) resolve(conn, id string) (*peer, *gatewayv1.CommandResult) {
	if conn != "" {
		if p := n.peers[conn]; p != nil {
			return p, nil
		}
		if n.removed[conn] {
			return nil, failed(codes.NotFound, gatewayv1.ErrorReason_ERROR_REASON_PEER_REMOVED, "peer connection %s was removed", conn)
		}
		return nil, failed(codes.NotFound, gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER, "no peer connection %s", conn)
	}
	for _, conn := range n.order {
		if p := n.peers[conn]; p.p.ID == id {
			return p, nil
		}
	}
	return nil, failed(codes.NotFound, gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER, "no connected peer %s", id)
}

// run carries out one command; beforeWait is called before it waits for
// room in Sent.
func (n *Node) run(ctx context.Context, c *gatewayv1.Command, beforeWait func()) *gatewayv1.CommandResult {
	record := func(p switchboard.Peer, ch uint32, msg []byte, via string) *gatewayv1.CommandResult {
		m := Message{To: p, ChannelID: byte(ch), Bytes: msg, Via: via}
		select {
		case n.sent <- m:
			return nil
		default:
		}
		beforeWait()
		select {
		case n.sent <- m:
			return nil
		case <-ctx.Done():
			return failed(codes.Canceled, gatewayv1.ErrorReason_ERROR_REASON_UNSPECIFIED, "stream ended")
		}
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	channel := func(ch uint32) *gatewayv1.CommandResult {
		if ch > 255 || !n.channels[byte(ch)] {
			return failed(codes.FailedPrecondition, gatewayv1.ErrorReason_ERROR_REASON_CHANNEL_NOT_REGISTERED, "channel 0x%x is not registered", ch)
		}
		return nil
	}
	switch k := c.GetKind().(type) {
	case *gatewayv1.Command_Send, *gatewayv1.Command_TrySend:
		var conn, id, via string
		var ch uint32
		var msg []byte
		if s, ok := k.(*gatewayv1.Command_Send); ok {
			conn, id, ch, msg, via = s.Send.GetConnectionId(), s.Send.GetPeerId(), s.Send.GetChannelId(), s.Send.GetMessage(), "send"
		} else {
			t := k.(*gatewayv1.Command_TrySend).TrySend
			conn, id, ch, msg, via = t.GetConnectionId(), t.GetPeerId(), t.GetChannelId(), t.GetMessage(), "try_send"
		}
		if r := channel(ch); r != nil {
			return r
		}
		p, r := n.resolve(conn, id)
		if r != nil {
			return r
		}
		n.mu.Unlock()
		r = record(p.p, ch, msg, via)
		n.mu.Lock()
		if r != nil {
			return r
		}
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_Send{Send: &gatewayv1.SendResult{Queued: true}}}
	case *gatewayv1.Command_Broadcast:
		if r := channel(k.Broadcast.GetChannelId()); r != nil {
			return r
		}
		var targets []switchboard.Peer
		for _, conn := range n.order {
			targets = append(targets, n.peers[conn].p)
		}
		n.mu.Unlock()
		res := &gatewayv1.BroadcastResult{}
		for _, p := range targets {
			if r := record(p, k.Broadcast.GetChannelId(), k.Broadcast.GetMessage(), "broadcast"); r != nil {
				n.mu.Lock()
				return r
			}
			res.Results = append(res.Results, &gatewayv1.BroadcastResult_Entry{PeerId: p.ID, Queued: true})
		}
		n.mu.Lock()
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_Broadcast{Broadcast: res}}
	case *gatewayv1.Command_StopPeerForError:
		p, r := n.resolve(k.StopPeerForError.GetConnectionId(), k.StopPeerForError.GetPeerId())
		if r != nil {
			return r
		}
		n.removeLocked(p.p.ConnectionID, k.StopPeerForError.GetReason())
		return done()
	case *gatewayv1.Command_StopPeerGracefully:
		p, r := n.resolve(k.StopPeerGracefully.GetConnectionId(), k.StopPeerGracefully.GetPeerId())
		if r != nil {
			return r
		}
		n.removeLocked(p.p.ConnectionID, "")
		return done()
	case *gatewayv1.Command_MarkPeerAsGood:
		if _, r := n.resolve(k.MarkPeerAsGood.GetConnectionId(), k.MarkPeerAsGood.GetPeerId()); r != nil {
			return r
		}
		return done()
	case *gatewayv1.Command_DialPeers:
		return done()
	case *gatewayv1.Command_GetPeerData:
		p, r := n.resolve(k.GetPeerData.GetConnectionId(), k.GetPeerData.GetPeerId())
		if r != nil {
			return r
		}
		v, ok := p.data[k.GetPeerData.GetKey()]
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_PeerData{PeerData: &gatewayv1.PeerDataResult{Found: ok, Value: v}}}
	case *gatewayv1.Command_SetPeerData:
		p, r := n.resolve(k.SetPeerData.GetConnectionId(), k.SetPeerData.GetPeerId())
		if r != nil {
			return r
		}
		p.data[k.SetPeerData.GetKey()] = append([]byte(nil), k.SetPeerData.GetValue()...)
		return done()
	case *gatewayv1.Command_ListPeers:
		l := &gatewayv1.PeerList{}
		for _, conn := range n.order {
			l.Peers = append(l.Peers, n.peerInfo(n.peers[conn].p))
		}
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_Peers{Peers: l}}
	case *gatewayv1.Command_NumPeers:
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_NumPeers{NumPeers: &gatewayv1.PeerCounts{Outbound: uint32(len(n.peers))}}}
	case *gatewayv1.Command_GetPeer:
		p, r := n.resolve("", k.GetPeer.GetPeerId())
		if r != nil {
			return r
		}
		return &gatewayv1.CommandResult{Kind: &gatewayv1.CommandResult_Peer{Peer: &gatewayv1.PeerStatus{Peer: n.peerInfo(p.p)}}}
	default:
		return failed(codes.InvalidArgument, gatewayv1.ErrorReason_ERROR_REASON_INVALID_FIELD, "command.kind: not set or unknown")
	}
}
