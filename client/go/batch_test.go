package switchboard

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// streamTap watches a client's streams from outside the SDK, with a gRPC
// interceptor: it records every RequestBatch written and counts the results
// received, and can hold a write back so that the test decides what is
// queued meanwhile.
type streamTap struct {
	mu sync.Mutex
	// gate, when set, holds the next batch write until it is closed;
	// holding is closed once a write waits at it.
	gate, holding chan struct{}
	// toRelease is the gate release closes.
	toRelease chan struct{}
	batches   []*gatewayv1.RequestBatch
	// resultMsgs counts the stream messages carrying results, results the results.
	resultMsgs, results int
}

func (w *streamTap) dialOption() grpc.DialOption {
	return grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &tappedStream{ClientStream: s, w: w}, nil
	})
}

type tappedStream struct {
	grpc.ClientStream
	w *streamTap
}

func (s *tappedStream) SendMsg(m any) error {
	w := s.w
	b := m.(*gatewayv1.AttachRequest).GetBatch()
	if b != nil {
		w.mu.Lock()
		gate, holding := w.gate, w.holding
		w.gate = nil
		w.mu.Unlock()
		if gate != nil {
			close(holding)
			<-gate
		}
		w.mu.Lock()
		w.batches = append(w.batches, b)
		w.mu.Unlock()
	}
	return s.ClientStream.SendMsg(m)
}

func (s *tappedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if resp, ok := m.(*gatewayv1.AttachResponse); ok && err == nil {
		w := s.w
		w.mu.Lock()
		switch {
		case resp.GetResult() != nil:
			w.resultMsgs++
			w.results++
		case resp.GetResults() != nil:
			w.resultMsgs++
			w.results += len(resp.GetResults().GetResults())
		}
		w.mu.Unlock()
	}
	return err
}

// hold makes the next batch write wait until release; it returns a channel
// closed once that write is waiting.
func (w *streamTap) hold() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.gate, w.holding = make(chan struct{}), make(chan struct{})
	w.toRelease = w.gate
	return w.holding
}

// release lets the held write go.
func (w *streamTap) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.toRelease != nil {
		close(w.toRelease)
		w.toRelease = nil
	}
}

// commandCounts lists, per batch written that carried commands, how many.
func (w *streamTap) commandCounts() []int {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []int
	for _, b := range w.batches {
		if n := len(b.GetCommands()); n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// waitHeld waits until the held write waits at the gate.
func waitHeld(t *testing.T, holding <-chan struct{}) {
	t.Helper()
	select {
	case <-holding:
	case <-time.After(5 * time.Second):
		t.Fatal("no batch write reached the gate")
	}
}

// waitQueued waits until n commands wait in the current stream's outbox.
func waitQueued(t *testing.T, c *Client, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.mu.Lock()
		att := c.att
		c.mu.Unlock()
		got := 0
		if att != nil {
			got = att.out.queued()
		}
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d commands queued, want %d", got, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func doneResult(id uint64) *gatewayv1.CommandResult {
	return &gatewayv1.CommandResult{RequestId: id, Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}}
}

// outcome waits for a command's error (nil for success).
func outcome(t *testing.T, errc <-chan error) error {
	t.Helper()
	select {
	case err := <-errc:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("a command did not complete")
		return nil
	}
}

// readCommands reads batches until n commands came; it returns them and
// the number of commands per batch.
func readCommands(s *fakeStream, n int) ([]*gatewayv1.Command, []int) {
	s.t.Helper()
	var cmds []*gatewayv1.Command
	var counts []int
	for len(cmds) < n {
		b := s.batch()
		counts = append(counts, len(b.GetCommands()))
		cmds = append(cmds, b.GetCommands()...)
	}
	return cmds, counts
}

func TestCommandsQueuedTogetherLeaveInBatchesOfAtMost1024AndResultsReachTheirCallers(t *testing.T) {
	const n = 3000
	tap := &streamTap{}
	_, s, c, reg := start(t, Options{MaxInflightCommands: n, DialOptions: []grpc.DialOption{tap.dialOption()}})
	// Registered after start registered Close: cleanups run last first, so a held write is let go before Close waits for the writer.
	t.Cleanup(tap.release)
	if !reg.GetBatchResults() {
		t.Fatal("Register.batch_results is not set")
	}
	type outcome struct {
		i     int
		value []byte
		found bool
		err   error
	}
	out := make(chan outcome, n)
	ask := func(i int) {
		v, ok, err := c.GetPeerData(context.Background(), Peer{ID: "p"}, fmt.Sprintf("k%d", i))
		out <- outcome{i, v, ok, err}
	}
	held := tap.hold()
	go ask(0)
	waitHeld(t, held)
	for i := 1; i < n; i++ {
		go ask(i)
	}
	waitQueued(t, c, n-1)
	tap.release()

	// One message for the command written alone, then the 2999 queued
	// meanwhile, at most 1024 to a batch.
	cmds, counts := readCommands(s, n)
	if want := []int{1, 1024, 1024, 951}; !slices.Equal(counts, want) {
		t.Fatalf("commands per stream message %v, want %v", counts, want)
	}
	key := map[uint64]int{}
	for _, cmd := range cmds {
		var i int
		if _, err := fmt.Sscanf(cmd.GetGetPeerData().GetKey(), "k%d", &i); err != nil {
			t.Fatalf("command %v", cmd)
		}
		if _, dup := key[cmd.GetRequestId()]; dup {
			t.Fatalf("request ID %d sent twice", cmd.GetRequestId())
		}
		key[cmd.GetRequestId()] = i
	}
	if len(key) != n {
		t.Fatalf("%d distinct commands, want %d", len(key), n)
	}

	// The node answers out of order, several results to a message, errors
	// mixed with successes: every third key fails, every third is not set.
	answer := func(cmd *gatewayv1.Command) *gatewayv1.CommandResult {
		i := key[cmd.GetRequestId()]
		r := &gatewayv1.CommandResult{RequestId: cmd.GetRequestId()}
		switch i % 3 {
		case 0:
			r.Error = &gatewayv1.CommandError{Code: int32(codes.NotFound), Reason: gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER, Message: fmt.Sprintf("no peer for k%d", i)}
		case 1:
			r.Kind = &gatewayv1.CommandResult_PeerData{PeerData: &gatewayv1.PeerDataResult{Found: true, Value: []byte(fmt.Sprintf("v%d", i))}}
		default:
			r.Kind = &gatewayv1.CommandResult_PeerData{PeerData: &gatewayv1.PeerDataResult{}}
		}
		return r
	}
	var rs []*gatewayv1.CommandResult
	for j := len(cmds) - 1; j >= 0; j-- {
		rs = append(rs, answer(cmds[j]))
	}
	s.result(rs[0]) // a lone CommandResult among the batches
	for len(rs) > 1 {
		k := min(700, len(rs)-1)
		s.results(rs[1 : 1+k]...)
		rs = append(rs[:1], rs[1+k:]...)
	}
	for range n {
		var o outcome
		select {
		case o = <-out:
		case <-time.After(10 * time.Second):
			t.Fatal("a caller did not get its result")
		}
		var ce *CommandError
		switch o.i % 3 {
		case 0:
			if !errors.As(o.err, &ce) || ce.Code != codes.NotFound || ce.Message != fmt.Sprintf("no peer for k%d", o.i) {
				t.Fatalf("GetPeerData(k%d) = %q %v %v, want its own NotFound", o.i, o.value, o.found, o.err)
			}
		case 1:
			if o.err != nil || !o.found || string(o.value) != fmt.Sprintf("v%d", o.i) {
				t.Fatalf("GetPeerData(k%d) = %q %v %v, want v%d", o.i, o.value, o.found, o.err, o.i)
			}
		default:
			if o.err != nil || o.found || o.value != nil {
				t.Fatalf("GetPeerData(k%d) = %q %v %v, want not found", o.i, o.value, o.found, o.err)
			}
		}
	}
	s.quiet(50 * time.Millisecond)
}

func TestAckCreditAndCommandsShareOneStreamMessage(t *testing.T) {
	tap := &streamTap{}
	_, s, c, _ := start(t, Options{CreditWindow: Credit{Messages: 8, Bytes: 1 << 20}, DialOptions: []grpc.DialOption{tap.dialOption()}})
	// Registered after start registered Close: cleanups run last first, so a held write is let go before Close waits for the writer.
	t.Cleanup(tap.release)
	s.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"))
	errc := make(chan error, 3)
	held := tap.hold()
	go func() { _, err := c.NumPeers(context.Background()); errc <- err }()
	waitHeld(t, held)
	// Two events taken: a quarter window is owed while the writer is busy.
	take(t, c)
	take(t, c)
	deadline := time.Now().Add(5 * time.Second)
	for {
		c.mu.Lock()
		out := c.att.out
		c.mu.Unlock()
		out.mu.Lock()
		owed := out.ack
		out.mu.Unlock()
		if owed == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("ack owed %d, want 2", owed)
		}
		time.Sleep(time.Millisecond)
	}
	go func() { errc <- c.MarkPeerAsGood(context.Background(), Peer{ID: "p"}) }()
	waitQueued(t, c, 1)
	go func() { errc <- c.StopPeerGracefully(context.Background(), Peer{ID: "p"}) }()
	waitQueued(t, c, 2)
	tap.release()
	first := s.command()
	if first.GetNumPeers() == nil {
		t.Fatalf("first command %v, want NumPeers", first)
	}
	b := s.batch()
	if b.GetAck().GetEventSeq() != 2 || b.GetCredit().GetMessages() != 2 || len(b.GetCommands()) != 2 ||
		b.GetCommands()[0].GetMarkPeerAsGood() == nil || b.GetCommands()[1].GetStopPeerGracefully() == nil {
		t.Fatalf("second message %v, want ack 2, credit 2 and the two commands in order", b)
	}
	s.results(doneResult(b.GetCommands()[1].GetRequestId()), doneResult(b.GetCommands()[0].GetRequestId()),
		&gatewayv1.CommandResult{RequestId: first.GetRequestId(), Kind: &gatewayv1.CommandResult_NumPeers{NumPeers: &gatewayv1.PeerCounts{}}})
	for range 3 {
		if err := outcome(t, errc); err != nil {
			t.Fatal(err)
		}
	}
	s.quiet(50 * time.Millisecond)
}

func TestBatchesStayWithinTheNodesSizeLimits(t *testing.T) {
	tap := &streamTap{}
	_, s, c, _ := start(t, Options{DialOptions: []grpc.DialOption{tap.dialOption()}})
	// Registered after start registered Close: cleanups run last first, so a held write is let go before Close waits for the writer.
	t.Cleanup(tap.release)
	ctx := context.Background()
	errc := make(chan error, 16)
	held := tap.hold()
	go func() { _, err := c.NumPeers(ctx); errc <- err }()
	waitHeld(t, held)
	// Queued in this order: four 300 kB sends, then a small SetPeerData,
	// then seven SetPeerData of 10 kB.
	queued := 0
	for range 4 {
		go func() { _, err := c.TrySend(ctx, Peer{ID: "p"}, 0x70, bytes.Repeat([]byte{1}, 300_000)); errc <- err }()
		queued++
		waitQueued(t, c, queued)
	}
	go func() { errc <- c.SetPeerData(ctx, Peer{ID: "p"}, "small", []byte("x")) }()
	queued++
	waitQueued(t, c, queued)
	for range 7 {
		go func() { errc <- c.SetPeerData(ctx, Peer{ID: "p"}, "big", bytes.Repeat([]byte{2}, 10_000)) }()
		queued++
		waitQueued(t, c, queued)
	}
	tap.release()
	// Sends fill a batch up to 1 MiB (three of 300 kB); a batch with any other
	// command stays within the node's 64 KiB for such requests (so the fourth
	// send leaves without the small SetPeerData, which takes six big ones).
	cmds, counts := readCommands(s, 1+queued)
	if want := []int{1, 3, 1, 7, 1}; !slices.Equal(counts, want) {
		t.Fatalf("commands per stream message %v, want %v", counts, want)
	}
	tap.mu.Lock()
	for _, b := range tap.batches {
		size := proto.Size(&gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Batch{Batch: b}})
		onlyPayload := true
		for _, cmd := range b.GetCommands() {
			onlyPayload = onlyPayload && cmd.GetTrySend() != nil
		}
		if !onlyPayload && size > fallbackLimits.maxControlRequestBytes || size > fallbackLimits.maxBatchBytes+batchOverheadBytes && len(b.GetCommands()) > 1 {
			t.Errorf("a batch of %d commands takes %d bytes", len(b.GetCommands()), size)
		}
	}
	tap.mu.Unlock()
	for _, cmd := range cmds {
		r := doneResult(cmd.GetRequestId())
		if cmd.GetTrySend() != nil || cmd.GetNumPeers() != nil {
			r.Kind = &gatewayv1.CommandResult_Send{Send: &gatewayv1.SendResult{Queued: true}}
		}
		if cmd.GetNumPeers() != nil {
			r.Kind = &gatewayv1.CommandResult_NumPeers{NumPeers: &gatewayv1.PeerCounts{}}
		}
		s.results(r)
	}
	for range len(cmds) {
		if err := outcome(t, errc); err != nil {
			t.Fatal(err)
		}
	}
}

func TestACommandTooLargeToSendFailsAloneAndTheStreamLivesOn(t *testing.T) {
	_, s, c, _ := start(t, Options{MaxMessageBytes: 1 << 20})
	ctx := context.Background()
	_, err := c.TrySend(ctx, Peer{ID: "p"}, 0x70, make([]byte, 1<<20))
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Code != codes.InvalidArgument || ce.Reason != ReasonMessageTooLarge {
		t.Fatalf("TrySend over MaxMessageBytes: %v, want InvalidArgument/MESSAGE_TOO_LARGE", err)
	}
	// The node would end the stream for any other command over 64 KiB.
	if err := c.SetPeerData(ctx, Peer{ID: "p"}, "k", make([]byte, 70_000)); !errors.As(err, &ce) || ce.Code != codes.InvalidArgument {
		t.Fatalf("SetPeerData of 70 kB: %v, want InvalidArgument", err)
	}
	s.quiet(50 * time.Millisecond)
	errc := make(chan error, 1)
	go func() { errc <- c.MarkPeerAsGood(ctx, Peer{ID: "p"}) }()
	s.results(doneResult(s.command().GetRequestId()))
	if err := outcome(t, errc); err != nil {
		t.Fatal(err)
	}
}

func TestACommandCancelledWhileQueuedIsNeverSent(t *testing.T) {
	tap := &streamTap{}
	_, s, c, _ := start(t, Options{DialOptions: []grpc.DialOption{tap.dialOption()}})
	// Registered after start registered Close: cleanups run last first, so a held write is let go before Close waits for the writer.
	t.Cleanup(tap.release)
	errc := make(chan error, 3)
	held := tap.hold()
	go func() { errc <- c.MarkPeerAsGood(context.Background(), Peer{ID: "first"}) }()
	waitHeld(t, held)
	ctx, cancel := context.WithCancel(context.Background())
	go func() { errc <- c.MarkPeerAsGood(ctx, Peer{ID: "cancelled"}) }()
	waitQueued(t, c, 1)
	cancel()
	if err := outcome(t, errc); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want Canceled", err)
	}
	waitQueued(t, c, 0)
	go func() { errc <- c.MarkPeerAsGood(context.Background(), Peer{ID: "last"}) }()
	waitQueued(t, c, 1)
	tap.release()
	first := s.command()
	last := s.command()
	if first.GetMarkPeerAsGood().GetPeerId() != "first" || last.GetMarkPeerAsGood().GetPeerId() != "last" {
		t.Fatalf("sent %v then %v; the cancelled command must not leave", first, last)
	}
	// A result nobody waits for, in a batch with others, is passed over.
	s.results(doneResult(last.GetRequestId()), doneResult(last.GetRequestId()+1000), doneResult(first.GetRequestId()))
	for range 2 {
		if err := outcome(t, errc); err != nil {
			t.Fatal(err)
		}
	}
}

func TestQueuedCommandsGoToTheNextStreamAndAWrittenOneIsLost(t *testing.T) {
	tap := &streamTap{}
	f, s, c, _ := start(t, Options{DialOptions: []grpc.DialOption{tap.dialOption()}})
	// Registered after start registered Close: cleanups run last first, so a held write is let go before Close waits for the writer.
	t.Cleanup(tap.release)
	written := make(chan error, 1)
	queued := make(chan error, 1)
	held := tap.hold()
	go func() { written <- c.MarkPeerAsGood(context.Background(), Peer{ID: "written"}) }()
	waitHeld(t, held)
	go func() { queued <- c.MarkPeerAsGood(context.Background(), Peer{ID: "queued"}) }()
	waitQueued(t, c, 1)
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	// The command the writer had taken may have left: it is not repeated.
	select {
	case err := <-written:
		if !errors.Is(err, ErrResultLost) {
			t.Fatalf("written command: %v, want ErrResultLost", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the written command did not fail with the stream")
	}
	tap.release()
	s2 := f.next()
	s2.register()
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	// The one still queued never left: it goes on the next stream.
	cmd := s2.command()
	if cmd.GetMarkPeerAsGood().GetPeerId() != "queued" {
		t.Fatalf("command on the new stream %v, want the queued one", cmd)
	}
	s2.results(doneResult(cmd.GetRequestId()))
	if err := outcome(t, queued); err != nil {
		t.Fatal(err)
	}
	s2.quiet(50 * time.Millisecond)
}

// TestBatchingAgainstANode runs a burst of commands, successes and errors
// mixed, through a real node: queued together, they leave in one
// RequestBatch; the node answers in ResultBatches; every caller gets its
// own result and the peer receives exactly the messages reported queued.
func TestBatchingAgainstANode(t *testing.T) {
	t.Parallel()
	const n = DefaultMaxInflightCommands
	tap := &streamTap{}
	optsA := appOptions()
	optsA.DialOptions = []grpc.DialOption{tap.dialOption()}
	p := connectedPair(t, optsA, appOptions())
	// Registered after connectedPair registered Close: cleanups run last first.
	t.Cleanup(tap.release)
	ctx := ctxT(t)
	type result struct {
		i      int
		queued bool
		err    error
	}
	out := make(chan result, n)
	run := func(i int) {
		var ok bool
		var err error
		msg := []byte(fmt.Sprintf("m%d", i))
		switch i % 3 {
		case 0:
			ok, err = p.ca.Send(ctx, p.aToB.Peer, appChannel, msg)
		case 1:
			ok, err = p.ca.TrySend(ctx, Peer{ID: strings.Repeat("ab", 20)}, appChannel, msg)
		default:
			ok, err = p.ca.Send(ctx, p.aToB.Peer, appChannel+1, msg)
		}
		out <- result{i, ok, err}
	}
	held := tap.hold()
	go run(0)
	waitHeld(t, held)
	for i := 1; i < n; i++ {
		go run(i)
	}
	waitQueued(t, p.ca, n-1)
	tap.release()

	want := map[string]bool{}
	for range n {
		var r result
		select {
		case r = <-out:
		case <-time.After(20 * time.Second):
			t.Fatal("a command did not complete")
		}
		var ce *CommandError
		switch r.i % 3 {
		case 0:
			if !r.queued || r.err != nil {
				t.Fatalf("Send %d = %v, %v", r.i, r.queued, r.err)
			}
			want[fmt.Sprintf("m%d", r.i)] = true
		case 1:
			if !errors.As(r.err, &ce) || ce.Code != codes.NotFound || ce.Reason != ReasonUnknownPeer {
				t.Fatalf("TrySend %d to an unknown peer = %v, %v", r.i, r.queued, r.err)
			}
		default:
			if !errors.As(r.err, &ce) || ce.Code != codes.FailedPrecondition || ce.Reason != ReasonChannelNotRegistered {
				t.Fatalf("Send %d on an unregistered channel = %v, %v", r.i, r.queued, r.err)
			}
		}
	}
	counts := tap.commandCounts()
	if !slices.Equal(counts, []int{1, n - 1}) {
		t.Fatalf("commands per stream message %v, want [1 %d]", counts, n-1)
	}
	evs := p.rb.waitFor(t, fmt.Sprintf("%d Receives", len(want)), has[Receive](len(want)))
	for _, e := range evs {
		if r, ok := e.(Receive); ok {
			if !want[string(r.Message)] || r.Peer.ID != p.a.id || r.ChannelID != appChannel {
				t.Fatalf("B received %q from %s on 0x%x: not one of the messages A's Sends queued (or twice)", r.Message, r.Peer.ID[:8], r.ChannelID)
			}
			delete(want, string(r.Message))
		}
	}
	tap.mu.Lock()
	defer tap.mu.Unlock()
	if tap.results != n || tap.resultMsgs >= n/2 {
		t.Fatalf("%d results in %d stream messages, want %d in far fewer (ResultBatch)", tap.results, tap.resultMsgs, n)
	}
	t.Logf("%d commands in %d stream messages; %d results in %d", n, len(counts), tap.results, tap.resultMsgs)
}

type asyncOutcome struct {
	queued bool
	err    error
}

func sendAsync(t *testing.T, c *Client, peer, msg string, out chan<- asyncOutcome) {
	t.Helper()
	err := c.SendAsync(context.Background(), Peer{ID: peer}, 0x70, []byte(msg), 0, func(q bool, err error) { out <- asyncOutcome{q, err} })
	if err != nil {
		t.Fatalf("SendAsync(%s): %v", msg, err)
	}
}

func sendResult(id uint64, queued bool) *gatewayv1.CommandResult {
	return &gatewayv1.CommandResult{RequestId: id, Kind: &gatewayv1.CommandResult_Send{Send: &gatewayv1.SendResult{Queued: queued}}}
}

func TestSendAsyncReturnsBeforeItsResultAndKeepsTheCallOrder(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	outs := make([]chan asyncOutcome, 4)
	for i := range outs {
		outs[i] = make(chan asyncOutcome, 1)
		// No result has been sent yet: each call returns as soon as its command is queued.
		sendAsync(t, c, "p", fmt.Sprint(i), outs[i])
	}
	var cmds []*gatewayv1.Command
	for len(cmds) < len(outs) {
		cmds = append(cmds, s.batch().GetCommands()...)
	}
	var ids []uint64
	for i, cmd := range cmds {
		if string(cmd.GetSend().GetMessage()) != fmt.Sprint(i) || cmd.GetSend().GetTimeoutMs() != 0 {
			t.Fatalf("command %d = %v, want message %d in call order and the node's own timeout", i, cmd, i)
		}
		ids = append(ids, cmd.GetRequestId())
	}
	// Results in another order than the commands; each reaches its own callback.
	s.results(sendResult(ids[2], false), sendResult(ids[0], true))
	s.results(&gatewayv1.CommandResult{RequestId: ids[3], Error: &gatewayv1.CommandError{
		Code: int32(codes.NotFound), Reason: gatewayv1.ErrorReason_ERROR_REASON_PEER_REMOVED, Message: "send.connection_id: removed",
	}}, sendResult(ids[1], true))
	want := []bool{true, true, false, false}
	for i, ch := range outs {
		select {
		case o := <-ch:
			if o.queued != want[i] {
				t.Fatalf("send %d: queued = %v, want %v", i, o.queued, want[i])
			}
			var ce *CommandError
			if (i == 3) != errors.As(o.err, &ce) || (i != 3 && o.err != nil) {
				t.Fatalf("send %d: err = %v", i, o.err)
			}
			if i == 3 && ce.Reason != ReasonPeerRemoved {
				t.Fatalf("send 3: reason %v", ce.Reason)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("send %d: no outcome", i)
		}
	}
}

func TestSendAsyncTellsWhetherAStreamThatBrokeTookTheCommand(t *testing.T) {
	tap := &streamTap{}
	f, s, c, _ := start(t, Options{DialOptions: []grpc.DialOption{tap.dialOption()}})
	t.Cleanup(tap.release)
	written := make(chan asyncOutcome, 1)
	unsent := make(chan asyncOutcome, 1)
	held := tap.hold()
	sendAsync(t, c, "p", "written", written)
	waitHeld(t, held)
	sendAsync(t, c, "p", "unsent", unsent)
	waitQueued(t, c, 1)
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	for _, w := range []struct {
		ch   chan asyncOutcome
		want error
	}{{written, ErrResultLost}, {unsent, ErrNotSent}} {
		select {
		case o := <-w.ch:
			if o.queued || !errors.Is(o.err, w.want) {
				t.Fatalf("outcome %+v, want %v", o, w.want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no outcome, want %v", w.want)
		}
	}
	tap.release()
	// Neither is sent on the next stream: a later command would have overtaken it.
	s2 := f.next()
	s2.register()
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	s2.quiet(100 * time.Millisecond)
}

func TestSendAsyncHoldsACommandSlotUntilItsResult(t *testing.T) {
	_, s, c, _ := start(t, Options{MaxInflightCommands: 1})
	first := make(chan asyncOutcome, 1)
	sendAsync(t, c, "p", "first", first)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := c.SendAsync(ctx, Peer{ID: "p"}, 0x70, []byte("second"), 0, func(bool, error) { t.Error("callback of a refused SendAsync") }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SendAsync with every slot taken: %v, want DeadlineExceeded", err)
	}
	cmd := s.command()
	s.result(sendResult(cmd.GetRequestId(), true))
	if o := <-first; !o.queued || o.err != nil {
		t.Fatalf("first: %+v", o)
	}
	second := make(chan asyncOutcome, 1)
	sendAsync(t, c, "p", "second", second) // the slot is free again
	if got := string(s.command().GetSend().GetMessage()); got != "second" {
		t.Fatalf("next command carries %q", got)
	}
}
