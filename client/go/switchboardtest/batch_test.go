package switchboardtest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
	"github.com/switchboard-p2p/switchboard/client/go/switchboardtest"
)

// rawStream opens an Attach stream to node without the SDK and registers
// "app" on channel 0x70 with no initial credit. AlreadyExists (the last
// stream not yet over on the node) is retried.
func rawStream(t *testing.T, node *switchboardtest.Node, batchResults bool) gatewayv1.ReactorGatewayService_AttachClient {
	t.Helper()
	conn, err := grpc.NewClient(switchboardtest.Target, node.Options(switchboard.Options{}).DialOptions...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		// Bounded, so that a test waiting for a message that never comes fails instead of hanging.
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		t.Cleanup(cancel)
		stream, err := gatewayv1.NewReactorGatewayServiceClient(conn).Attach(ctx)
		if err != nil {
			t.Fatal(err)
		}
		err = stream.Send(&gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Register{Register: &gatewayv1.Register{
			ReactorName: "app", Channels: []*gatewayv1.ChannelDescriptor{{Id: 0x70, Priority: 1}},
			InitialCredit: &gatewayv1.Credit{}, BatchResults: batchResults,
		}}})
		if err != nil {
			t.Fatal(err)
		}
		resp, err := stream.Recv()
		if err == nil && resp.GetRegistered() != nil {
			return stream
		}
		if status.Code(err) != codes.AlreadyExists || time.Now().After(deadline) {
			t.Fatalf("Register: %v %v", resp, err)
		}
		cancel()
		time.Sleep(10 * time.Millisecond)
	}
}

func sendBatch(t *testing.T, s gatewayv1.ReactorGatewayService_AttachClient, b *gatewayv1.RequestBatch) {
	t.Helper()
	if err := s.Send(&gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Batch{Batch: b}}); err != nil {
		t.Fatal(err)
	}
}

func trySend(id uint64, peer string, ch uint32, msg string) *gatewayv1.Command {
	return &gatewayv1.Command{RequestId: id, Kind: &gatewayv1.Command_TrySend{TrySend: &gatewayv1.TrySend{PeerId: peer, ChannelId: ch, Message: []byte(msg)}}}
}

func TestNodeRunsRequestBatchesInOrderAndAnswersWithResultBatches(t *testing.T) {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	s := rawStream(t, node, true)
	node.Start()
	node.Connect("peer-1")
	// The credit comes first in the batch, then the commands, in order.
	sendBatch(t, s, &gatewayv1.RequestBatch{
		Credit: &gatewayv1.Credit{Messages: 10, Bytes: 1 << 20},
		Commands: []*gatewayv1.Command{
			trySend(1, "peer-1", 0x70, "a"),
			trySend(2, "nobody", 0x70, "b"),
			trySend(3, "peer-1", 0x71, "c"),
			trySend(4, "peer-1", 0x70, "d"),
			{RequestId: 5, Kind: &gatewayv1.Command_ListPeers{ListPeers: &gatewayv1.ListPeers{}}},
		},
	})
	var events int
	var results []*gatewayv1.ResultBatch
	for events < 3 || len(results) < 1 {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case resp.GetEvents() != nil:
			events += len(resp.GetEvents().GetEvents())
		case resp.GetResults() != nil:
			results = append(results, resp.GetResults())
		default:
			t.Fatalf("unexpected %v", resp)
		}
	}
	rs := results[0].GetResults()
	if len(rs) != 5 {
		t.Fatalf("one ResultBatch of %d results, want the 5 of the batch", len(rs))
	}
	for i, r := range rs {
		if r.GetRequestId() != uint64(i+1) {
			t.Fatalf("result %d answers request %d", i, r.GetRequestId())
		}
	}
	if !rs[0].GetSend().GetQueued() || !rs[3].GetSend().GetQueued() || len(rs[4].GetPeers().GetPeers()) != 1 ||
		rs[1].GetError().GetReason() != gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER ||
		rs[2].GetError().GetReason() != gatewayv1.ErrorReason_ERROR_REASON_CHANNEL_NOT_REGISTERED {
		t.Fatalf("results %v", rs)
	}
	for _, want := range []string{"a", "d"} {
		if m := <-node.Sent(); string(m.Bytes) != want || m.Via != "try_send" {
			t.Fatalf("sent %+v, want %q", m, want)
		}
	}

	// More than 1024 commands: each is refused, the stream lives on.
	over := &gatewayv1.RequestBatch{}
	for i := range 1025 {
		over.Commands = append(over.Commands, trySend(uint64(100+i), "peer-1", 0x70, "x"))
	}
	sendBatch(t, s, over)
	rs = nil
	for _, want := range []int{1024, 1} { // at most 1024 results to a ResultBatch
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if got := len(resp.GetResults().GetResults()); got != want {
			t.Fatalf("a message of %d results, want %d", got, want)
		}
		rs = append(rs, resp.GetResults().GetResults()...)
	}
	for i, r := range rs {
		if r.GetRequestId() != uint64(100+i) || codes.Code(r.GetError().GetCode()) != codes.InvalidArgument ||
			r.GetError().GetReason() != gatewayv1.ErrorReason_ERROR_REASON_INVALID_FIELD {
			t.Fatalf("result %d = %v, want InvalidArgument for request %d", i, r, 100+i)
		}
	}
	select {
	case m := <-node.Sent():
		t.Fatalf("a refused batch sent %+v", m)
	default:
	}
	sendBatch(t, s, &gatewayv1.RequestBatch{Commands: []*gatewayv1.Command{{RequestId: 9, Kind: &gatewayv1.Command_NumPeers{NumPeers: &gatewayv1.NumPeers{}}}}})
	if resp, err := s.Recv(); err != nil || len(resp.GetResults().GetResults()) != 1 || resp.GetResults().GetResults()[0].GetNumPeers().GetOutbound() != 1 {
		t.Fatalf("after the refused batch: %v %v", resp, err)
	}
}

func TestNodeAnswersOneResultPerMessageWithoutBatchResults(t *testing.T) {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	s := rawStream(t, node, false)
	node.Connect("peer-1")
	sendBatch(t, s, &gatewayv1.RequestBatch{Commands: []*gatewayv1.Command{
		trySend(1, "peer-1", 0x70, "a"),
		trySend(2, "nobody", 0x70, "b"),
		{RequestId: 3, Kind: &gatewayv1.Command_NumPeers{NumPeers: &gatewayv1.NumPeers{}}},
	}})
	for id := uint64(1); id <= 3; id++ {
		resp, err := s.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r := resp.GetResult(); r == nil || r.GetRequestId() != id {
			t.Fatalf("got %v, want the CommandResult of request %d alone", resp, id)
		}
	}
}

// countingTap counts, with a gRPC interceptor, the commands and the stream
// messages carrying them that a client writes, and the results and the
// messages carrying them that it reads. hold makes the next write wait
// until release.
type countingTap struct {
	mu                       sync.Mutex
	commands, commandMsgs    int
	results, resultMsgs      int
	gate, holding, toRelease chan struct{}
}

type tapped struct {
	grpc.ClientStream
	w *countingTap
}

func (w *countingTap) dialOption() grpc.DialOption {
	return grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		return &tapped{ClientStream: s, w: w}, err
	})
}

func (s *tapped) SendMsg(m any) error {
	w := s.w
	req := m.(*gatewayv1.AttachRequest)
	n := len(req.GetBatch().GetCommands())
	if req.GetCommand() != nil {
		n = 1
	}
	if n > 0 {
		w.mu.Lock()
		gate, holding := w.gate, w.holding
		w.gate = nil
		w.commands += n
		w.commandMsgs++
		w.mu.Unlock()
		if gate != nil {
			close(holding)
			<-gate
		}
	}
	return s.ClientStream.SendMsg(m)
}

func (s *tapped) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if resp, ok := m.(*gatewayv1.AttachResponse); ok && err == nil {
		n := len(resp.GetResults().GetResults())
		if resp.GetResult() != nil {
			n = 1
		}
		if n > 0 {
			s.w.mu.Lock()
			s.w.results += n
			s.w.resultMsgs++
			s.w.mu.Unlock()
		}
	}
	return err
}

func (w *countingTap) hold() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gate, w.holding = make(chan struct{}), make(chan struct{})
	w.toRelease = w.gate
	return w.holding
}

func (w *countingTap) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.toRelease != nil {
		close(w.toRelease)
		w.toRelease = nil
	}
}

// attachTapped attaches reactor "app" (channel 0x70) to node through a countingTap and drains its events.
// The returned function releases a held write, then closes the client (a held write must not block Close).
func attachTapped(t *testing.T, node *switchboardtest.Node) (*switchboard.Client, *countingTap, func()) {
	t.Helper()
	tap := &countingTap{}
	c, err := switchboard.Attach(context.Background(), switchboardtest.Target, node.Options(switchboard.Options{
		Name:        "app",
		Channels:    []switchboard.ChannelDescriptor{{ID: 0x70, Priority: 1}},
		DialOptions: []grpc.DialOption{tap.dialOption()},
	}))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for range c.Events() {
		}
	}()
	return c, tap, func() {
		tap.release()
		c.Close()
	}
}

func TestConcurrentCommandsShareStreamMessagesAndGetTheirOwnResults(t *testing.T) {
	const n = 1000
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	c, tap, closeClient := attachTapped(t, node)
	defer closeClient()
	node.Start()
	peer := node.Connect("peer-1")
	gone := node.Connect("peer-2")
	node.Disconnect(gone, "")

	// Every fourth command names a removed connection, every fourth an
	// unregistered channel; the others reach the peer.
	type outcome struct {
		i      int
		queued bool
		err    error
	}
	out := make(chan outcome, n)
	send := func(i int) {
		to, ch := peer, byte(0x70)
		switch i % 4 {
		case 1:
			to = gone
		case 2:
			ch = 0x71
		}
		ok, err := c.TrySend(context.Background(), to, ch, []byte(fmt.Sprint(i)))
		out <- outcome{i, ok, err}
	}
	// The first command's write is held while the others are issued, so
	// they are all queued when it goes.
	held := tap.hold()
	go send(0)
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the first command was not written")
	}
	for i := 1; i < n; i++ {
		go send(i)
	}
	time.Sleep(300 * time.Millisecond)
	tap.release()

	delivered := map[string]bool{}
	for range n {
		var o outcome
		select {
		case o = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("a command did not complete")
		}
		var ce *switchboard.CommandError
		switch o.i % 4 {
		case 1:
			if !errors.As(o.err, &ce) || ce.Reason != switchboard.ReasonPeerRemoved {
				t.Fatalf("TrySend %d to a removed connection = %v, %v", o.i, o.queued, o.err)
			}
		case 2:
			if !errors.As(o.err, &ce) || ce.Reason != switchboard.ReasonChannelNotRegistered {
				t.Fatalf("TrySend %d on channel 0x71 = %v, %v", o.i, o.queued, o.err)
			}
		default:
			if !o.queued || o.err != nil {
				t.Fatalf("TrySend %d = %v, %v", o.i, o.queued, o.err)
			}
			delivered[fmt.Sprint(o.i)] = true
		}
	}
	for range len(delivered) {
		m := <-node.Sent()
		if !delivered[string(m.Bytes)] || m.To != peer {
			t.Fatalf("the node sent %+v, not one of the queued messages", m)
		}
		delete(delivered, string(m.Bytes))
	}
	tap.mu.Lock()
	defer tap.mu.Unlock()
	if tap.commands != n || tap.results != n {
		t.Fatalf("%d commands written and %d results read, want %d", tap.commands, tap.results, n)
	}
	// Without batching these would be n messages each way.
	if tap.commandMsgs > 10 || tap.resultMsgs > tap.commandMsgs {
		t.Fatalf("%d commands in %d stream messages, %d results in %d: not batched", n, tap.commandMsgs, n, tap.resultMsgs)
	}
	t.Logf("%d commands in %d stream messages, results in %d", n, tap.commandMsgs, tap.resultMsgs)
}

func TestResultsReadyInABatchLeaveBeforeACommandWaitsForRoomInSent(t *testing.T) {
	node := switchboardtest.NewNode("node-a", "testnet")
	defer node.Close()
	c, tap, closeClient := attachTapped(t, node)
	defer closeClient()
	peer := node.Connect("peer-1")
	ctx := context.Background()
	// Fill Sent.
	var wg sync.WaitGroup
	for range switchboardtest.SentCapacity {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if ok, err := c.TrySend(ctx, peer, 0x70, []byte("fill")); !ok || err != nil {
				t.Errorf("TrySend = %v, %v", ok, err)
			}
		}()
	}
	wg.Wait()
	// One batch: NumPeers, then a TrySend that waits for room in Sent.
	held := tap.hold()
	go func() { _ = c.MarkPeerAsGood(ctx, peer) }()
	select {
	case <-held:
	case <-time.After(5 * time.Second):
		t.Fatal("the first command was not written")
	}
	counted := make(chan error, 1)
	go func() { _, err := c.NumPeers(ctx); counted <- err }()
	time.Sleep(50 * time.Millisecond)
	queued := make(chan error, 1)
	go func() { _, err := c.TrySend(ctx, peer, 0x70, []byte("last")); queued <- err }()
	time.Sleep(50 * time.Millisecond)
	tap.release()
	select {
	case err := <-counted:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("NumPeers's result was held back behind a TrySend waiting for room in Sent")
	}
	select {
	case err := <-queued:
		t.Fatalf("TrySend completed (%v) with Sent full", err)
	default:
	}
	<-node.Sent()
	if err := <-queued; err != nil {
		t.Fatal(err)
	}
}
