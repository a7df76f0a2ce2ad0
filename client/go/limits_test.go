package switchboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// startWithLimits attaches to a fake node that tells limits in Registered.
func startWithLimits(t *testing.T, o Options, l *gatewayv1.Limits) (*fakeStream, *Client) {
	t.Helper()
	f := newFakeNode(t)
	ch := attachAsync(t, f, o)
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1, Limits: l})
	return s, must(t, ch)
}

func TestLimitsFromRegisteredFallBackPerFieldForAnOlderNode(t *testing.T) {
	if got := limitsFrom(nil, 1<<30); got != fallbackLimits {
		t.Fatalf("no Limits: %+v, want the fallback %+v", got, fallbackLimits)
	}
	got := limitsFrom(&gatewayv1.Limits{MaxBatchCommands: 8, MaxMessageBytes: 4096}, 1<<30)
	want := fallbackLimits
	want.maxBatchCommands, want.maxMessageBytes = 8, 4096
	if got != want {
		t.Fatalf("partial Limits: %+v, want %+v", got, want)
	}
	// The client's own channel limit still caps the largest message.
	if got := limitsFrom(&gatewayv1.Limits{MaxMessageBytes: 1 << 30}, 1<<20); got.maxMessageBytes != 1<<20 {
		t.Fatalf("maxMessageBytes %d, want Options.MaxMessageBytes (1 MiB)", got.maxMessageBytes)
	}
}

func TestANodeSendingSmallerLimitsIsObeyed(t *testing.T) {
	const n = 11
	tap := &streamTap{}
	s, c := startWithLimits(t, Options{MaxInflightCommands: n, DialOptions: []grpc.DialOption{tap.dialOption()}},
		&gatewayv1.Limits{MaxBatchCommands: 4, MaxBatchPayloadBytes: 1 << 20, MaxControlRequestBytes: 512, MaxMessageBytes: 4096})
	t.Cleanup(tap.release)
	ctx := context.Background()

	// Batches of at most the node's 4 commands.
	errc := make(chan error, n)
	held := tap.hold()
	go func() { errc <- c.MarkPeerAsGood(ctx, Peer{ID: "p"}) }()
	waitHeld(t, held)
	for i := 1; i < n; i++ {
		go func() { errc <- c.MarkPeerAsGood(ctx, Peer{ID: fmt.Sprintf("p%d", i)}) }()
	}
	waitQueued(t, c, n-1)
	tap.release()
	cmds, counts := readCommands(s, n)
	if want := []int{1, 4, 4, 2}; !slices.Equal(counts, want) {
		t.Fatalf("commands per stream message %v, want %v", counts, want)
	}
	rs := make([]*gatewayv1.CommandResult, 0, n)
	for _, cmd := range cmds {
		rs = append(rs, doneResult(cmd.GetRequestId()))
	}
	s.results(rs...)
	for range n {
		if err := outcome(t, errc); err != nil {
			t.Fatal(err)
		}
	}

	// 600 bytes fit the fallback's 64 KiB but not this node's 512 for a command without a payload.
	var ce *CommandError
	if err := c.SetPeerData(ctx, Peer{ID: "p"}, "k", make([]byte, 600)); !errors.As(err, &ce) || ce.Code != codes.InvalidArgument || ce.Reason != ReasonInvalidField {
		t.Fatalf("SetPeerData of 600 bytes: %v, want InvalidArgument/INVALID_FIELD", err)
	}
	// 5000 bytes fit Options.MaxMessageBytes (110 MiB) but not the node's 4096.
	if _, err := c.TrySend(ctx, Peer{ID: "p"}, 0x70, make([]byte, 5000)); !errors.As(err, &ce) || ce.Reason != ReasonMessageTooLarge {
		t.Fatalf("TrySend of 5000 bytes: %v, want MESSAGE_TOO_LARGE", err)
	}
	s.quiet(50 * time.Millisecond)

	// Payload commands batch up to the node's largest message, not past it.
	done := make(chan error, 4)
	held = tap.hold()
	go func() { _, err := c.TrySend(ctx, Peer{ID: "p"}, 0x70, make([]byte, 10)); done <- err }()
	waitHeld(t, held)
	for range 3 {
		go func() { _, err := c.TrySend(ctx, Peer{ID: "p"}, 0x70, make([]byte, 1500)); done <- err }()
	}
	waitQueued(t, c, 3)
	tap.release()
	_, counts = readCommands(s, 4)
	if want := []int{1, 2, 1}; !slices.Equal(counts, want) {
		t.Fatalf("payload commands per stream message %v, want %v (two of 1500 bytes fit 4096, three do not)", counts, want)
	}
}

func TestACommandThatWaitedForAReattachIsCheckedAgainstTheNewNodesLimits(t *testing.T) {
	f := newFakeNode(t)
	ch := attachAsync(t, f, Options{})
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1, Limits: &gatewayv1.Limits{MaxMessageBytes: 1 << 20}})
	c := must(t, ch)
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next() // re-attaching: the command waits for Registered
	s2.register()
	errc := make(chan error, 1)
	go func() {
		_, err := c.Send(context.Background(), Peer{ID: "p"}, 0x70, make([]byte, 8<<10))
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	// The node that answers now takes messages of at most 4 KiB.
	s2.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1, Limits: &gatewayv1.Limits{MaxMessageBytes: 4096}})
	var ce *CommandError
	select {
	case err := <-errc:
		if !errors.As(err, &ce) || ce.Reason != ReasonMessageTooLarge {
			t.Fatalf("Send = %v, want MESSAGE_TOO_LARGE against the new node's 4 KiB", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Send was not refused: it went to the node that takes 4 KiB")
	}
	s2.quiet(100 * time.Millisecond) // and it was not sent
}
