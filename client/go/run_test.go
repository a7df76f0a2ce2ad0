package switchboard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// callRecorder is a Reactor that writes down its calls.
type callRecorder struct {
	BaseReactor
	mu    sync.Mutex
	calls []string
}

func (r *callRecorder) GetChannels() []ChannelDescriptor {
	return []ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100}}
}
func (r *callRecorder) log(s string)        { r.mu.Lock(); r.calls = append(r.calls, s); r.mu.Unlock() }
func (r *callRecorder) OnStart() error      { r.log("OnStart"); return nil }
func (r *callRecorder) OnStop()             { r.log("OnStop") }
func (r *callRecorder) InitPeer(p PeerInfo) { r.log("InitPeer " + p.ConnectionID) }
func (r *callRecorder) AddPeer(p Peer)      { r.log("AddPeer " + p.ConnectionID) }
func (r *callRecorder) Receive(e Receive)   { r.log("Receive " + string(e.Message)) }
func (r *callRecorder) RemovePeer(p Peer, reason error) {
	why := "nil"
	switch {
	case errors.Is(reason, ErrSessionReset):
		why = "reset"
	case reason != nil:
		why = reason.Error()
	}
	r.log(fmt.Sprintf("RemovePeer %s %s", p.ConnectionID, why))
}
func (r *callRecorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func (r *callRecorder) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		if got := r.snapshot(); len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("reactor calls %v, want %d", r.snapshot(), n)
	return nil
}

func TestRunCallsTheReactorInGrammarOrderAcrossASessionReset(t *testing.T) {
	f := newFakeNode(t)
	r := &callRecorder{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), fakeTarget, r, f.options(Options{Name: "app"})) }()
	s := f.next()
	if reg := s.register(); len(reg.GetChannels()) != 1 || reg.GetChannels()[0].GetId() != 0x70 {
		t.Fatalf("channels from GetChannels: %v", reg.GetChannels())
	}
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	s.events(evStart(1), evInit(2, "p", "c1"), evAdd(3, "p", "c1"), evRecv(4, "p", "c1", []byte("x")))
	r.waitFor(t, 4)
	if r.Client == nil {
		t.Fatal("SetClient was not called")
	}
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	s2 := f.next()
	s2.register()
	s2.registered(&gatewayv1.Registered{SessionToken: "tok2", ResumeRefusedReason: "expired", NextEventSeq: 1})
	s2.events(evStart(1), evInit(2, "p", "c1"), evAdd(3, "p", "c1"), evRemove(4, "p", "c1", "bye"), evStop(5))
	s2.fail(nil, "")
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"OnStart", "InitPeer c1", "AddPeer c1", "Receive x", "RemovePeer c1 reset", "InitPeer c1", "AddPeer c1", "RemovePeer c1 bye", "OnStop"}
	if got := r.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("calls\n %v\nwant\n %v", got, want)
	}
}

func TestRunStopsTheReactorWhenTheContextEnds(t *testing.T) {
	f := newFakeNode(t)
	r := &callRecorder{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, fakeTarget, r, f.options(Options{Name: "app"})) }()
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	s.events(evStart(1), evInit(2, "p", "c1"))
	r.waitFor(t, 2)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run = %v", err)
	}
	want := []string{"OnStart", "InitPeer c1", "RemovePeer c1 " + ErrNodeGone.Error(), "OnStop"}
	if got := r.snapshot(); !slices.Equal(got, want) {
		t.Fatalf("calls %v, want %v", got, want)
	}
}

type failingStart struct{ callRecorder }

func (f *failingStart) OnStart() error { return errors.New("no database") }

func TestRunReturnsTheOnStartError(t *testing.T) {
	f := newFakeNode(t)
	r := &failingStart{}
	done := make(chan error, 1)
	go func() { done <- Run(context.Background(), fakeTarget, r, f.options(Options{Name: "app"})) }()
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	s.events(evStart(1))
	if err := <-done; err == nil || err.Error() != "switchboard: OnStart: no database" {
		t.Fatalf("Run = %v", err)
	}
	if got := r.snapshot(); len(got) != 0 {
		t.Fatalf("OnStop called after a failed OnStart: %v", got)
	}
}
