package switchboard

import (
	"context"
	"net"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// fakeNode is a scripted gateway on an in-memory listener: every Attach
// call becomes a fakeStream the test reads from and writes to.
type fakeNode struct {
	gatewayv1.UnimplementedReactorGatewayServiceServer
	t       *testing.T
	lis     *bufconn.Listener
	streams chan *fakeStream
}

type fakeStream struct {
	t    *testing.T
	srv  gatewayv1.ReactorGatewayService_AttachServer
	reqs chan *gatewayv1.AttachRequest // closed when the client's side ends
	end  chan error
}

func newFakeNode(t *testing.T) *fakeNode {
	t.Helper()
	f := &fakeNode{t: t, lis: bufconn.Listen(1 << 20), streams: make(chan *fakeStream, 16)}
	srv := grpc.NewServer()
	gatewayv1.RegisterReactorGatewayServiceServer(srv, f)
	go func() { _ = srv.Serve(f.lis) }()
	t.Cleanup(srv.Stop)
	return f
}

func (f *fakeNode) Attach(srv gatewayv1.ReactorGatewayService_AttachServer) error {
	s := &fakeStream{t: f.t, srv: srv, reqs: make(chan *gatewayv1.AttachRequest, 4096), end: make(chan error, 1)}
	go func() {
		defer close(s.reqs)
		for {
			r, err := srv.Recv()
			if err != nil {
				return
			}
			s.reqs <- r
		}
	}()
	f.streams <- s
	select {
	case err := <-s.end:
		return err
	case <-srv.Context().Done():
		return srv.Context().Err()
	}
}

// options returns Options that dial this fake node.
func (f *fakeNode) options(o Options) Options {
	if o.Name == "" {
		o.Name = "app"
	}
	if len(o.Channels) == 0 {
		o.Channels = []ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100}}
	}
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{Initial: 5 * time.Millisecond, Max: 20 * time.Millisecond}
	}
	o.DialOptions = append(o.DialOptions,
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return f.lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	return o
}

const fakeTarget = "passthrough:///fake"

// next waits for the next Attach call.
func (f *fakeNode) next() *fakeStream {
	f.t.Helper()
	select {
	case s := <-f.streams:
		return s
	case <-time.After(5 * time.Second):
		f.t.Fatal("no Attach call")
		return nil
	}
}

// recv waits for the client's next message.
func (s *fakeStream) recv() *gatewayv1.AttachRequest {
	s.t.Helper()
	select {
	case r, ok := <-s.reqs:
		if !ok {
			s.t.Fatal("the client ended the stream")
		}
		return r
	case <-time.After(5 * time.Second):
		s.t.Fatal("no message from the client")
		return nil
	}
}

// quiet asserts the client sends nothing for d.
func (s *fakeStream) quiet(d time.Duration) {
	s.t.Helper()
	select {
	case r, ok := <-s.reqs:
		if ok {
			s.t.Fatalf("unexpected message from the client: %v", r)
		}
	case <-time.After(d):
	}
}

// batch waits for the client's next message, which must be a RequestBatch
// (everything after Register is).
func (s *fakeStream) batch() *gatewayv1.RequestBatch {
	s.t.Helper()
	r := s.recv()
	b := r.GetBatch()
	if b == nil {
		s.t.Fatalf("the client sent %v, not a RequestBatch", r)
	}
	return b
}

// command waits for the client's next message, which must be a batch of
// exactly one command and nothing else.
func (s *fakeStream) command() *gatewayv1.Command {
	s.t.Helper()
	b := s.batch()
	if len(b.GetCommands()) != 1 || b.GetAck() != nil || b.GetCredit() != nil {
		s.t.Fatalf("want a batch of one command, got %v", b)
	}
	return b.GetCommands()[0]
}

func (s *fakeStream) register() *gatewayv1.Register {
	s.t.Helper()
	r := s.recv().GetRegister()
	if r == nil {
		s.t.Fatal("first message is not Register")
	}
	return r
}

func (s *fakeStream) send(m *gatewayv1.AttachResponse) {
	s.t.Helper()
	if err := s.srv.Send(m); err != nil {
		s.t.Fatalf("send: %v", err)
	}
}

func (s *fakeStream) registered(r *gatewayv1.Registered) {
	s.t.Helper()
	if r.NodeInfo == nil {
		r.NodeInfo = &gatewayv1.NodeInfo{NodeId: "node-a", Network: "testnet"}
	}
	s.send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Registered{Registered: r}})
}

func (s *fakeStream) events(evs ...*gatewayv1.Event) {
	s.t.Helper()
	s.send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Events{Events: &gatewayv1.EventBatch{Events: evs}}})
}

func (s *fakeStream) result(r *gatewayv1.CommandResult) {
	s.t.Helper()
	s.send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Result{Result: r}})
}

func (s *fakeStream) results(rs ...*gatewayv1.CommandResult) {
	s.t.Helper()
	s.send(&gatewayv1.AttachResponse{Msg: &gatewayv1.AttachResponse_Results{Results: &gatewayv1.ResultBatch{Results: rs}}})
}

// fail ends the stream with err (nil: OK), setting the reason trailer.
func (s *fakeStream) fail(err error, reason string) {
	if reason != "" {
		s.srv.SetTrailer(metadata.Pairs(reasonMetadataKey, reason))
	}
	s.end <- err
}

// Event constructors.
func evStart(seq uint64) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_OnStart{OnStart: &gatewayv1.OnStart{}}}
}

func evStop(seq uint64) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_OnStop{OnStop: &gatewayv1.OnStop{}}}
}

func evInit(seq uint64, peer, conn string) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_InitPeer{InitPeer: &gatewayv1.InitPeer{Peer: &gatewayv1.PeerInfo{PeerId: peer, ConnectionId: conn, Outbound: true}}}}
}

func evAdd(seq uint64, peer, conn string) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_AddPeer{AddPeer: &gatewayv1.AddPeer{PeerId: peer, ConnectionId: conn}}}
}

func evRecv(seq uint64, peer, conn string, msg []byte) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_Receive{Receive: &gatewayv1.Receive{PeerId: peer, ConnectionId: conn, ChannelId: 0x70, Message: msg}}}
}

func evRemove(seq uint64, peer, conn, reason string) *gatewayv1.Event {
	return &gatewayv1.Event{Seq: seq, Kind: &gatewayv1.Event_RemovePeer{RemovePeer: &gatewayv1.RemovePeer{PeerId: peer, ConnectionId: conn, Reason: reason}}}
}

// take reads one event from the client within a timeout.
func take(t *testing.T, c *Client) Event {
	t.Helper()
	select {
	case ev, ok := <-c.Events():
		if !ok {
			t.Fatalf("Events closed (Err: %v)", c.Err())
		}
		return ev
	case <-time.After(5 * time.Second):
		t.Fatal("no event")
		return nil
	}
}

// waitClosed waits for Events to close and returns Err.
func waitClosed(t *testing.T, c *Client) error {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case _, ok := <-c.Events():
			if !ok {
				<-c.Done()
				return c.Err()
			}
		case <-deadline:
			t.Fatal("Events did not close")
		}
	}
}
