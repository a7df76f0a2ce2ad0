package switchboard

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

type attached struct {
	c   *Client
	err error
}

// attachAsync runs Attach while the test plays the node.
func attachAsync(t *testing.T, f *fakeNode, o Options) <-chan attached {
	t.Helper()
	out := make(chan attached, 1)
	go func() {
		c, err := Attach(context.Background(), fakeTarget, f.options(o))
		if c != nil {
			t.Cleanup(func() { _ = c.Close() })
		}
		out <- attached{c, err}
	}()
	return out
}

func must(t *testing.T, ch <-chan attached) *Client {
	t.Helper()
	select {
	case a := <-ch:
		if a.err != nil {
			t.Fatalf("Attach: %v", a.err)
		}
		return a.c
	case <-time.After(5 * time.Second):
		t.Fatal("Attach did not return")
		return nil
	}
}

// start attaches, answers Registered with token "tok", and returns both ends.
func start(t *testing.T, o Options) (*fakeNode, *fakeStream, *Client, *gatewayv1.Register) {
	t.Helper()
	f := newFakeNode(t)
	ch := attachAsync(t, f, o)
	s := f.next()
	reg := s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	return f, s, must(t, ch), reg
}

func TestAttachRegistersAndDeliversTypedEvents(t *testing.T) {
	_, s, c, reg := start(t, Options{Name: "app", Channels: []ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100, OverflowPolicy: OverflowDropOldest}}})
	if reg.GetReactorName() != "app" || len(reg.GetChannels()) != 1 || reg.GetChannels()[0].GetId() != 0x70 ||
		reg.GetChannels()[0].GetPriority() != 5 || reg.GetChannels()[0].GetSendQueueCapacity() != 100 ||
		reg.GetChannels()[0].GetOverflowPolicy() != gatewayv1.OverflowPolicy_OVERFLOW_POLICY_DROP_OLDEST {
		t.Fatalf("Register = %v", reg)
	}
	if reg.GetSessionToken() != "" {
		t.Fatalf("first Register carries token %q", reg.GetSessionToken())
	}
	if got := reg.GetInitialCredit(); got.GetMessages() != DefaultCreditWindowMessages || got.GetBytes() != DefaultCreditWindowBytes {
		t.Fatalf("initial credit = %v, want the default window", got)
	}
	if c.NodeInfo().ID != "node-a" || c.NodeInfo().Network != "testnet" {
		t.Fatalf("NodeInfo = %+v", c.NodeInfo())
	}
	s.events(evStart(1), evInit(2, "p1", "c1"), evAdd(3, "p1", "c1"), evRecv(4, "p1", "c1", []byte("hi")), evRemove(5, "p1", "c1", "bad"))
	if _, ok := take(t, c).(Start); !ok {
		t.Fatal("want Start")
	}
	ip := take(t, c).(InitPeer)
	if ip.Peer != (Peer{ID: "p1", ConnectionID: "c1"}) || !ip.Info.Outbound || ip.Info.Peer != ip.Peer || ip.Seq() != 2 {
		t.Fatalf("InitPeer = %+v", ip)
	}
	if ap := take(t, c).(AddPeer); ap.Peer.ConnectionID != "c1" {
		t.Fatalf("AddPeer = %+v", ap)
	}
	rc := take(t, c).(Receive)
	if rc.ChannelID != 0x70 || string(rc.Message) != "hi" || rc.Peer.ID != "p1" || rc.Seq() != 4 {
		t.Fatalf("Receive = %+v", rc)
	}
	if rm := take(t, c).(RemovePeer); rm.Reason != "bad" {
		t.Fatalf("RemovePeer = %+v", rm)
	}
}

func TestAttachRefusalIsATypedErrorAndNotRetried(t *testing.T) {
	f := newFakeNode(t)
	ch := attachAsync(t, f, Options{})
	s := f.next()
	s.register()
	s.fail(status.Error(codes.AlreadyExists, `reactor "app" is attached on another stream`), "ERROR_REASON_UNSPECIFIED")
	a := <-ch
	var ae *AttachError
	if !errors.As(a.err, &ae) || ae.Code != codes.AlreadyExists || status.Code(a.err) != codes.AlreadyExists {
		t.Fatalf("err = %v, want an AttachError with AlreadyExists", a.err)
	}
	select {
	case <-f.streams:
		t.Fatal("a refused first attach was retried")
	case <-time.After(50 * time.Millisecond):
	}
}

func TestAttachCarriesTheReasonTrailer(t *testing.T) {
	f := newFakeNode(t)
	ch := attachAsync(t, f, Options{})
	s := f.next()
	s.register()
	s.fail(status.Error(codes.FailedPrecondition, "the node has started"), "ERROR_REASON_NODE_NOT_RUNNING")
	var ae *AttachError
	if a := <-ch; !errors.As(a.err, &ae) || ae.Reason != ReasonNodeNotRunning {
		t.Fatalf("err = %v, want reason NODE_NOT_RUNNING", a.err)
	}
}

func TestAttachRetriesWhileUnavailable(t *testing.T) {
	f := newFakeNode(t)
	ch := attachAsync(t, f, Options{})
	s := f.next()
	s.register()
	s.fail(status.Error(codes.Unavailable, "starting"), "")
	s = f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	must(t, ch)
}

func TestAttachGivesUpWhenTheContextEnds(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	// Nothing listens here: every attempt is Unavailable.
	_, err := Attach(ctx, "127.0.0.1:1", Options{Name: "app", Channels: []ChannelDescriptor{{ID: 1, Priority: 1}}, Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 20 * time.Millisecond}})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want DeadlineExceeded", err)
	}
}

func TestOptionsAreValidated(t *testing.T) {
	for _, tc := range []struct {
		o     Options
		field string
	}{
		{Options{Channels: []ChannelDescriptor{{ID: 1, Priority: 1}}}, "Name"},
		{Options{Name: "x"}, "Channels"},
		{Options{Name: "x", Channels: []ChannelDescriptor{{ID: 1, Priority: -1}}}, "Channels[0]"},
		{Options{Name: "x", Channels: []ChannelDescriptor{{ID: 1, Priority: 1}}, Backoff: Backoff{Multiplier: 0.5}}, "Backoff.Multiplier"},
	} {
		_, err := Attach(context.Background(), "127.0.0.1:1", tc.o)
		var oe *OptionsError
		if !errors.As(err, &oe) || oe.Field != tc.field {
			t.Errorf("%+v: err = %v, want an OptionsError for %s", tc.o, err, tc.field)
		}
	}
}

func TestCreditIsEarnedOnlyByTakenEvents(t *testing.T) {
	const window = 8
	_, s, c, reg := start(t, Options{CreditWindow: Credit{Messages: window, Bytes: 1 << 20}})
	granted := uint64(reg.GetInitialCredit().GetMessages())
	if granted != window {
		t.Fatalf("initial credit %d, want %d", granted, window)
	}
	evs := []*gatewayv1.Event{evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c")}
	for i := uint64(4); i <= window; i++ {
		evs = append(evs, evRecv(i, "p", "c", []byte{byte(i)}))
	}
	s.events(evs...)
	// Nothing taken: nothing earned, nothing acknowledged.
	s.quiet(100 * time.Millisecond)
	take(t, c)
	s.quiet(50 * time.Millisecond) // one taken: below a quarter window
	take(t, c)
	// The acknowledgement and the credit leave together, in one batch.
	b := s.batch()
	if ack := b.GetAck(); ack.GetEventSeq() != 2 {
		t.Fatalf("ack = %v, want 2 (the events taken)", ack)
	}
	credit := b.GetCredit()
	if credit.GetMessages() != 2 || len(b.GetCommands()) != 0 {
		t.Fatalf("batch = %v, want a credit of 2 messages and no command", b)
	}
	granted += uint64(credit.GetMessages())
	if granted > window+2 {
		t.Fatalf("granted %d > window %d + taken 2", granted, window)
	}
	// Taking the rest earns the rest, never more.
	for i := 3; i <= window; i++ {
		take(t, c)
	}
	total := uint64(0)
	for total < window-2 {
		total += uint64(s.batch().GetCredit().GetMessages())
	}
	if total != window-2 {
		t.Fatalf("credit after taking everything = %d, want %d", total, window-2)
	}
	s.quiet(50 * time.Millisecond)
	if st := c.Stats(); st.CreditMessages != 2*window || st.EventsTaken != window {
		t.Fatalf("stats = %+v", st)
	}
}

func TestALargeMessageOverdrawsAndIsPaidBack(t *testing.T) {
	_, s, c, reg := start(t, Options{CreditWindow: Credit{Messages: 4, Bytes: 100}})
	if reg.GetInitialCredit().GetBytes() != 100 {
		t.Fatalf("initial bytes = %d", reg.GetInitialCredit().GetBytes())
	}
	big := bytes.Repeat([]byte{7}, 1000)
	s.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"), evRecv(4, "p", "c", big))
	for i := 0; i < 3; i++ {
		take(t, c)
	}
	// Three events with no payload: a message credit flush, no bytes.
	for s.batch().GetCredit() == nil {
	}
	if got := take(t, c).(Receive); len(got.Message) != 1000 {
		t.Fatalf("message of %d bytes", len(got.Message))
	}
	var bytesGranted uint64
	for bytesGranted == 0 {
		bytesGranted = s.batch().GetCredit().GetBytes()
	}
	if bytesGranted != 1000 {
		t.Fatalf("bytes granted after a 1000-byte message = %d, want 1000 (window restored)", bytesGranted)
	}
}

func TestCommandsReturnTypedResultsAndErrors(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	ctx := context.Background()
	type sent struct {
		ok  bool
		err error
	}
	out := make(chan sent, 1)
	go func() {
		ok, err := c.Send(ctx, Peer{ID: "p1"}, 0x70, []byte("x"))
		out <- sent{ok, err}
	}()
	cmd := s.command()
	if cmd.GetSend().GetPeerId() != "p1" || cmd.GetSend().GetChannelId() != 0x70 || cmd.GetSend().GetTimeoutMs() != 0 {
		t.Fatalf("command = %v", cmd)
	}
	s.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Kind: &gatewayv1.CommandResult_Send{Send: &gatewayv1.SendResult{Queued: true}}})
	if r := <-out; !r.ok || r.err != nil {
		t.Fatalf("Send = %v, %v", r.ok, r.err)
	}

	go func() {
		ok, err := c.TrySend(ctx, Peer{ID: "nope"}, 0x70, []byte("x"))
		out <- sent{ok, err}
	}()
	cmd = s.command()
	s.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Error: &gatewayv1.CommandError{
		Code: int32(codes.NotFound), Message: "try_send.peer_id: no connected peer nope", Reason: gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER,
	}})
	r := <-out
	var ce *CommandError
	if !errors.As(r.err, &ce) || ce.Code != codes.NotFound || ce.Reason != ReasonUnknownPeer || status.Code(r.err) != codes.NotFound {
		t.Fatalf("TrySend err = %v, want NotFound/UNKNOWN_PEER", r.err)
	}

	// The stream lives on.
	nres := make(chan PeerCounts, 1)
	go func() {
		n, err := c.NumPeers(ctx)
		if err != nil {
			t.Error(err)
		}
		nres <- n
	}()
	cmd = s.command()
	s.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Kind: &gatewayv1.CommandResult_NumPeers{NumPeers: &gatewayv1.PeerCounts{Outbound: 2, Inbound: 1}}})
	if n := <-nres; n != (PeerCounts{Outbound: 2, Inbound: 1}) {
		t.Fatalf("NumPeers = %+v", n)
	}
}

func TestSendTimeoutFollowsTheContextDeadline(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	go func() { _, _ = c.Send(ctx, Peer{ID: "p"}, 0x70, nil) }()
	ms := s.command().GetSend().GetTimeoutMs()
	if ms < 1500 || ms > 2000 {
		t.Fatalf("timeout_ms = %d, want about 2000", ms)
	}
}

func TestAResultOfTheWrongKindIsAProtocolError(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	errc := make(chan error, 1)
	go func() { _, err := c.ListPeers(context.Background()); errc <- err }()
	cmd := s.command()
	s.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}})
	if err := <-errc; !errors.Is(err, ErrProtocol) {
		t.Fatalf("err = %v", err)
	}
}

func TestACommandCancelledByItsContextLeavesTheStreamUsable(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- c.MarkPeerAsGood(ctx, Peer{ID: "p"}) }()
	first := s.command()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	// The late result is dropped; the next command gets its own.
	s.result(&gatewayv1.CommandResult{RequestId: first.GetRequestId(), Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}})
	go func() { errc <- c.StopPeerGracefully(context.Background(), Peer{ID: "p"}) }()
	second := s.command()
	if second.GetRequestId() == first.GetRequestId() {
		t.Fatal("request ID reused")
	}
	s.result(&gatewayv1.CommandResult{RequestId: second.GetRequestId(), Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestFlushStopPeerAsksForAFlushAndStopPeerGracefullyDoesNot(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	for _, flush := range []bool{false, true} {
		errc := make(chan error, 1)
		peer := Peer{ID: "p", ConnectionID: "c"}
		if flush {
			go func() { errc <- c.FlushStopPeer(context.Background(), peer) }()
		} else {
			go func() { errc <- c.StopPeerGracefully(context.Background(), peer) }()
		}
		cmd := s.command()
		stop := cmd.GetStopPeerGracefully()
		if stop == nil || stop.GetPeerId() != "p" || stop.GetConnectionId() != "c" || stop.GetFlush() != flush {
			t.Fatalf("flush %v: command = %v", flush, cmd)
		}
		s.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}})
		if err := <-errc; err != nil {
			t.Fatalf("flush %v: %v", flush, err)
		}
	}
}

func TestAResultLostWithTheStreamIsReportedNotRepeated(t *testing.T) {
	f, s, c, _ := start(t, Options{})
	errc := make(chan error, 1)
	go func() { errc <- c.DialPeers(context.Background(), []string{"id@127.0.0.1:1"}, Persistent()) }()
	cmd := s.command()
	if !cmd.GetDialPeers().GetPersistent() {
		t.Fatal("Persistent() not applied")
	}
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	if err := <-errc; !errors.Is(err, ErrResultLost) {
		t.Fatalf("err = %v, want ErrResultLost", err)
	}
	// The client re-attaches; the command is not sent again.
	s2 := f.next()
	if reg := s2.register(); reg.GetSessionToken() != "tok" {
		t.Fatalf("re-attach token = %q", reg.GetSessionToken())
	}
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	s2.quiet(100 * time.Millisecond)
}

func TestCommandsWaitForTheReattach(t *testing.T) {
	f, s, c, _ := start(t, Options{})
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next() // the client is re-attaching; hold Registered back
	s2.register()
	errc := make(chan error, 1)
	go func() { errc <- c.SetPeerData(context.Background(), Peer{ID: "p"}, "k", []byte("v")) }()
	time.Sleep(50 * time.Millisecond)
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	cmd := s2.command()
	if cmd.GetSetPeerData().GetKey() != "k" {
		t.Fatalf("command = %v", cmd)
	}
	s2.result(&gatewayv1.CommandResult{RequestId: cmd.GetRequestId(), Kind: &gatewayv1.CommandResult_Done{Done: &gatewayv1.Empty{}}})
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
}

func TestResumeDiscardsDuplicatesBySeq(t *testing.T) {
	const window = 16
	f, s, c, _ := start(t, Options{CreditWindow: Credit{Messages: window, Bytes: 1 << 20}})
	s.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"), evRecv(4, "p", "c", []byte("m4")), evRecv(5, "p", "c", []byte("m5")))
	for i := 0; i < 3; i++ {
		take(t, c)
	}
	// The node has no ack (below the flush threshold): it will send 1..5 again.
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next()
	reg := s2.register()
	if reg.GetSessionToken() != "tok" {
		t.Fatalf("token %q", reg.GetSessionToken())
	}
	// Two events are still buffered: the window less those.
	if got := reg.GetInitialCredit().GetMessages(); got != window-2 {
		t.Fatalf("re-attach credit = %d, want %d", got, window-2)
	}
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	s2.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"), evRecv(4, "p", "c", []byte("m4")), evRecv(5, "p", "c", []byte("m5")), evRecv(6, "p", "c", []byte("m6")))
	var got []string
	for len(got) < 4 {
		switch e := take(t, c).(type) {
		case Receive:
			got = append(got, string(e.Message))
		case Session:
			if !e.Resumed {
				t.Fatalf("Session = %+v", e)
			}
			got = append(got, "session")
		default:
			t.Fatalf("unexpected %T (a duplicate?)", e)
		}
	}
	if want := []string{"m4", "m5", "session", "m6"}; !slices.Equal(got, want) {
		t.Fatalf("events %v, want %v", got, want)
	}
	if st := c.Stats(); st.Duplicates != 5 {
		t.Fatalf("duplicates = %d, want 5", st.Duplicates)
	}
}

func TestAGapIsAProtocolError(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	s.events(evStart(1), evAdd(3, "p", "c"))
	take(t, c)
	if err := waitClosed(t, c); !errors.Is(err, ErrProtocol) {
		t.Fatalf("Err = %v, want ErrProtocol", err)
	}
}

func TestARefusedResumeStartsAFreshSession(t *testing.T) {
	f, s, c, _ := start(t, Options{CreditWindow: Credit{Messages: 4, Bytes: 1 << 20}})
	s.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"))
	for i := 0; i < 3; i++ {
		take(t, c)
	}
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next()
	s2.register()
	s2.registered(&gatewayv1.Registered{SessionToken: "tok2", ResumeRefusedReason: "unknown or expired session", NextEventSeq: 1})
	s2.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"))
	sess, ok := take(t, c).(Session)
	if !ok || sess.Resumed || sess.RefusedReason != "unknown or expired session" {
		t.Fatalf("want a fresh Session, got %+v", sess)
	}
	if _, ok := take(t, c).(Start); !ok {
		t.Fatal("want Start after the fresh session")
	}
	// Acks count in the new session's numbers (a quarter of this window is
	// one event, so each event taken is acknowledged on its own).
	var acks []uint64
	for i := 0; i < 3; i++ {
		if i > 0 {
			take(t, c)
		}
		acks = append(acks, s2.batch().GetAck().GetEventSeq())
	}
	if acks[0] != 1 || acks[1] != 2 || acks[2] != 3 {
		t.Fatalf("acks %v, want [1 2 3]", acks)
	}
	// The next re-attach uses the new token.
	s2.fail(status.Error(codes.Unavailable, "cut"), "")
	if tok := f.next().register().GetSessionToken(); tok != "tok2" {
		t.Fatalf("token %q, want tok2", tok)
	}
}

func TestDisableResumeReattachesWithoutAToken(t *testing.T) {
	f, s, c, _ := start(t, Options{DisableResume: true})
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next()
	if tok := s2.register().GetSessionToken(); tok != "" {
		t.Fatalf("token %q", tok)
	}
	s2.registered(&gatewayv1.Registered{SessionToken: "tok3", NextEventSeq: 1})
	if sess := take(t, c).(Session); sess.Resumed || sess.RefusedReason != "" {
		t.Fatalf("Session = %+v", sess)
	}
}

func TestARefusedReattachEndsTheClient(t *testing.T) {
	f, s, c, _ := start(t, Options{})
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next()
	s2.register()
	s2.fail(status.Error(codes.FailedPrecondition, "different channels"), "")
	err := waitClosed(t, c)
	var ae *AttachError
	if !errors.As(err, &ae) || ae.Code != codes.FailedPrecondition {
		t.Fatalf("Err = %v", err)
	}
	if err := c.MarkPeerAsGood(context.Background(), Peer{ID: "p"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("command after the end: %v", err)
	}
}

func TestStopEndsTheClientCleanlyAfterDeliveringEverything(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	s.events(evStart(1), evInit(2, "p", "c"), evAdd(3, "p", "c"), evRemove(4, "p", "c", ""), evStop(5))
	s.fail(nil, "")
	var kinds []string
	for ev := range c.Events() {
		kinds = append(kinds, eventKind(ev))
	}
	if want := []string{"Start", "InitPeer", "AddPeer", "RemovePeer", "Stop"}; !slices.Equal(kinds, want) {
		t.Fatalf("events %v, want %v", kinds, want)
	}
	<-c.Done()
	if c.Err() != nil {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestCloseEndsEverything(t *testing.T) {
	_, s, c, _ := start(t, Options{})
	s.events(evStart(1))
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := waitClosed(t, c); err != nil {
		t.Fatalf("Err after Close = %v", err)
	}
	if _, err := c.NumPeers(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("err = %v", err)
	}
	_ = c.Close() // idempotent
}

func TestTheAttachContextBoundsTheClient(t *testing.T) {
	f := newFakeNode(t)
	ctx, cancel := context.WithCancel(context.Background())
	out := make(chan attached, 1)
	go func() {
		c, err := Attach(ctx, fakeTarget, f.options(Options{}))
		out <- attached{c, err}
	}()
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	c := must(t, out)
	cancel()
	if err := waitClosed(t, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("Err = %v, want context.Canceled", err)
	}
}
