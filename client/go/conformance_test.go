package switchboard

// The reactor SDK conformance scenarios (client/conformance/SCENARIOS.md),
// each against real Switchboard nodes started with the CLI. Test names
// carry the scenario IDs.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

const appChannel = 0x70

// pair starts A and B, attaches "app" to both and waits until A (which has
// B as a persistent peer) and B are connected.
type pairSetup struct {
	a, b   *testNode
	ca, cb *Client
	ra, rb *recorder
	// aToB is B as A's reactor knows it; bToA is A as B's reactor knows it.
	aToB, bToA InitPeer
}

func connectedPair(t *testing.T, optsA, optsB Options, bFlags ...string) *pairSetup {
	t.Helper()
	b := startNode(t, "b", nodeConfig{extra: bFlags})
	a := startNode(t, "a", nodeConfig{persistentPeers: []*testNode{b}})
	p := &pairSetup{a: a, b: b}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.ca, _ = tryAttach(t, a.grpc, optsA) }()
	go func() { defer wg.Done(); p.cb, _ = tryAttach(t, b.grpc, optsB) }()
	wg.Wait()
	if p.ca == nil || p.cb == nil {
		t.Fatal("attaching to A or B failed")
	}
	p.ra, p.rb = record(p.ca), record(p.cb)
	p.aToB = p.waitPeer(t, p.ra, b.id)
	p.bToA = p.waitPeer(t, p.rb, a.id)
	return p
}

// waitPeer waits for InitPeer and AddPeer of peer id and returns the InitPeer.
func (p *pairSetup) waitPeer(t *testing.T, r *recorder, id string) InitPeer {
	t.Helper()
	var init InitPeer
	r.waitFor(t, "InitPeer and AddPeer of "+id[:8], func(evs []Event) bool {
		for _, e := range evs {
			if ip, ok := e.(InitPeer); ok && ip.Peer.ID == id {
				init = ip
			}
			if ap, ok := e.(AddPeer); ok && init.Peer.ID == id && ap.Peer == init.Peer {
				return true
			}
		}
		return false
	})
	return init
}

func ctxT(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestR1Register(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{})
	c := attachTo(t, a.grpc, appOptions())
	if info := c.NodeInfo(); info.ID != a.id || info.Network != testNetwork {
		t.Fatalf("Registered NodeInfo = %+v, want ID %s network %s", info, a.id, testNetwork)
	}
	r := record(c)
	evs := r.waitFor(t, "the first event", func(evs []Event) bool { return len(evs) > 0 })
	if _, ok := evs[0].(Start); !ok || evs[0].Seq() != 1 {
		t.Fatalf("first event %s (seq %d), want Start (seq 1)", eventKind(evs[0]), evs[0].Seq())
	}
	// The node started with the reactor's channel advertised.
	if info := c.NodeInfo(); !bytes.Equal(info.Channels, []byte{appChannel}) {
		t.Fatalf("channels advertised %x, want 70", info.Channels)
	}
}

func TestR2NameAttachedElsewhere(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{})
	attachTo(t, a.grpc, appOptions())
	_, err := tryAttach(t, a.grpc, appOptions())
	var ae *AttachError
	if !errors.As(err, &ae) || ae.Code != codes.AlreadyExists || status.Code(err) != codes.AlreadyExists {
		t.Fatalf("second Attach of app: %v, want ALREADY_EXISTS", err)
	}
	// For the person running it: which name, which node, what to do.
	want := `switchboard: reactor "app": the node at ` + strings.TrimPrefix(a.grpc, "tcp://") + ` refused it: AlreadyExists: reactor "app" is attached on another stream: ` +
		`the name "app" is taken on that node (by another process, or by another Client in this one): stop that reactor, or give this one another name`
	if err.Error() != want {
		t.Fatalf("second Attach of app:\n%v\nwant\n%s", err, want)
	}
}

func TestR3ChannelOwnedByAnotherReactor(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{reactors: "app,other"})
	attachTo(t, a.grpc, appOptions())
	other := appOptions()
	other.Name = "other"
	_, err := tryAttach(t, a.grpc, other)
	var ae *AttachError
	if !errors.As(err, &ae) || ae.Code != codes.AlreadyExists || !strings.Contains(ae.Message, `"app"`) {
		t.Fatalf("other registering 0x70: %v, want ALREADY_EXISTS naming app", err)
	}
	if !strings.HasSuffix(err.Error(), ": another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor") {
		t.Fatalf("other registering 0x70: %v, want what to do about the channel", err)
	}
}

func TestR4BadDescriptor(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{})
	// Channel 300 cannot be written with the SDK (ChannelDescriptor.ID is a
	// byte), so this part speaks the protocol with the generated client.
	conn, err := grpc.NewClient(a.grpc, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var st *status.Status
	deadline := time.Now().Add(20 * time.Second)
	for {
		stream, err := gatewayv1.NewReactorGatewayServiceClient(conn).Attach(ctxT(t), grpc.WaitForReady(true))
		if err != nil {
			t.Fatal(err)
		}
		_ = stream.Send(&gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Register{Register: &gatewayv1.Register{
			ReactorName: "app", Channels: []*gatewayv1.ChannelDescriptor{{Id: 300, Priority: 5}},
		}}})
		_, err = stream.Recv()
		st = status.Convert(err)
		if st.Code() != codes.Unavailable || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "register.channels[0].id") {
		t.Fatalf("channel 300: %v, want INVALID_ARGUMENT naming register.channels[0].id", st)
	}
	// Through the SDK: a descriptor the node refuses comes back as an
	// *AttachError with the node's code and field.
	bad := appOptions()
	bad.Channels[0].Priority = 0
	_, err = tryAttach(t, a.grpc, bad)
	var ae *AttachError
	if !errors.As(err, &ae) || ae.Code != codes.InvalidArgument || !strings.Contains(ae.Message, "register.channels[0].priority") {
		t.Fatalf("priority 0 through the SDK: %v, want INVALID_ARGUMENT naming register.channels[0].priority", err)
	}
}

func TestR5RegistrationAfterStart(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{})
	r := record(attachTo(t, a.grpc, appOptions()))
	r.waitFor(t, "Start", has[Start](1))
	late := appOptions()
	late.Name = "late"
	late.Channels[0].ID = 0x71
	_, err := tryAttach(t, a.grpc, late)
	if status.Code(err) != codes.FailedPrecondition {
		t.Fatalf("registering after start: %v, want FAILED_PRECONDITION", err)
	}
}

func TestE1EventOrder(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	if p.aToB.Peer.ConnectionID == "" || !p.aToB.Info.Outbound || p.aToB.Info.NodeInfo.ID != p.b.id {
		t.Fatalf("A's InitPeer = %+v, want B, outbound, with a connection ID", p.aToB)
	}
	if p.bToA.Info.Outbound || p.bToA.Peer.ID != p.a.id {
		t.Fatalf("B's InitPeer = %+v, want A, inbound", p.bToA)
	}
	for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		evs := r.snapshot()
		if len(evs) < 3 || eventKind(evs[0]) != "Start" || eventKind(evs[1]) != "InitPeer" || eventKind(evs[2]) != "AddPeer" {
			t.Errorf("%s's events %s, want Start InitPeer AddPeer", name, describeTrace(evs))
		}
		if err := CheckTrace(evs, false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestE2Receive(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	if ok, err := p.ca.Send(ctxT(t), p.aToB.Peer, appChannel, []byte("hello")); err != nil || !ok {
		t.Fatalf("Send = %v, %v", ok, err)
	}
	evs := p.rb.waitFor(t, "Receive", has[Receive](1))
	rc, _ := first[Receive](evs)
	if rc.Peer.ID != p.a.id || rc.Peer != p.bToA.Peer || rc.ChannelID != appChannel || string(rc.Message) != "hello" {
		t.Fatalf("Receive = %+v, want A's peer, channel 0x70, hello", rc)
	}
	if err := CheckTrace(p.rb.snapshot(), false); err != nil {
		t.Fatal(err)
	}
}

func TestC1SendTrySend(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	ctx := ctxT(t)
	if ok, err := p.ca.Send(ctx, p.aToB.Peer, appChannel, []byte("send")); err != nil || !ok {
		t.Fatalf("Send = %v, %v; want queued", ok, err)
	}
	if ok, err := p.ca.TrySend(ctx, p.aToB.Peer, appChannel, []byte("try")); err != nil || !ok {
		t.Fatalf("TrySend = %v, %v; want queued", ok, err)
	}
	// By node ID alone, too.
	if ok, err := p.ca.TrySend(ctx, Peer{ID: p.b.id}, appChannel, []byte("by id")); err != nil || !ok {
		t.Fatalf("TrySend by ID = %v, %v; want queued", ok, err)
	}
	evs := p.rb.waitFor(t, "3 Receives", has[Receive](3))
	var got []string
	for _, e := range evs {
		if r, ok := e.(Receive); ok {
			got = append(got, string(r.Message))
		}
	}
	if strings.Join(got, ",") != "send,try,by id" {
		t.Fatalf("B received %v", got)
	}
}

func TestC2Broadcast(t *testing.T) {
	t.Parallel()
	b := startNode(t, "b", nodeConfig{})
	c := startNode(t, "c", nodeConfig{})
	a := startNode(t, "a", nodeConfig{persistentPeers: []*testNode{b, c}})
	var ca, cb, cc *Client
	var wg sync.WaitGroup
	for _, x := range []struct {
		n *testNode
		c **Client
	}{{a, &ca}, {b, &cb}, {c, &cc}} {
		wg.Add(1)
		go func() { defer wg.Done(); *x.c, _ = tryAttach(t, x.n.grpc, appOptions()) }()
	}
	wg.Wait()
	if ca == nil || cb == nil || cc == nil {
		t.Fatal("attaching failed")
	}
	ra, rb, rc := record(ca), record(cb), record(cc)
	ra.waitFor(t, "two AddPeers", has[AddPeer](2))
	res, err := ca.Broadcast(ctxT(t), appChannel, []byte("to all"))
	if err != nil {
		t.Fatal(err)
	}
	peers := map[string]bool{}
	for _, r := range res {
		if !r.Queued {
			t.Errorf("not queued for %s", r.PeerID)
		}
		peers[r.PeerID] = true
	}
	if len(res) != 2 || !peers[b.id] || !peers[c.id] {
		t.Fatalf("Broadcast results %+v, want one each for B and C", res)
	}
	for name, r := range map[string]*recorder{"B": rb, "C": rc} {
		evs := r.waitFor(t, name+" Receive", has[Receive](1))
		if m, _ := first[Receive](evs); string(m.Message) != "to all" || m.Peer.ID != a.id {
			t.Errorf("%s received %+v", name, m)
		}
	}
}

func TestC3CommandErrors(t *testing.T) {
	t.Parallel()
	small := appOptions()
	small.Channels[0].RecvMessageCapacity = 1024
	p := connectedPair(t, small, appOptions())
	ctx := ctxT(t)
	expect := func(what string, err error, code codes.Code, reason ErrorReason) {
		t.Helper()
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
			t.Errorf("%s: %v, want %s / %s", what, err, code, reason)
		}
	}
	_, err := p.ca.Send(ctx, Peer{ID: strings.Repeat("00", 20)}, appChannel, []byte("x"))
	expect("unknown peer", err, codes.NotFound, ReasonUnknownPeer)
	_, err = p.ca.TrySend(ctx, p.aToB.Peer, 0x71, []byte("x"))
	expect("unregistered channel", err, codes.FailedPrecondition, ReasonChannelNotRegistered)
	_, err = p.ca.Send(ctx, p.aToB.Peer, appChannel, make([]byte, 1025))
	expect("message over the channel's capacity", err, codes.InvalidArgument, ReasonMessageTooLarge)
	// The stream is still usable.
	if n, err := p.ca.NumPeers(ctx); err != nil || n.Outbound != 1 {
		t.Fatalf("NumPeers after errors = %+v, %v", n, err)
	}
	if ok, err := p.ca.Send(ctx, p.aToB.Peer, appChannel, []byte("still here")); err != nil || !ok {
		t.Fatalf("Send after errors = %v, %v", ok, err)
	}
	p.rb.waitFor(t, "Receive", has[Receive](1))
	if st := p.ca.Stats(); st.Streams != 1 {
		t.Fatalf("the client re-attached (%d streams): the errors ended the stream", st.Streams)
	}
}

func TestC4StopPeer(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	ctx := ctxT(t)
	if err := p.ca.StopPeerForError(ctx, p.aToB.Peer, "bad block", NoReconnect()); err != nil {
		t.Fatal(err)
	}
	evs := p.ra.waitFor(t, "A's RemovePeer", has[RemovePeer](1))
	if rm, _ := first[RemovePeer](evs); rm.Peer != p.aToB.Peer || rm.Reason != "bad block" {
		t.Fatalf("A's RemovePeer = %+v, want B's connection with reason bad block", rm)
	}
	evs = p.rb.waitFor(t, "B's RemovePeer", has[RemovePeer](1))
	if rm, _ := first[RemovePeer](evs); rm.Peer != p.bToA.Peer {
		t.Fatalf("B's RemovePeer = %+v", rm)
	}
	_, err := p.ca.TrySend(ctx, p.aToB.Peer, appChannel, []byte("x"))
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Reason != ReasonPeerRemoved {
		t.Fatalf("command on the removed connection: %v, want PEER_REMOVED", err)
	}
	for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		if err := CheckTrace(r.snapshot(), false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestC8FlushingStop(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	ctx := ctxT(t)
	// 20 x 64 KiB leave A in ~0.26 s at the node's default send rate
	// (5,120,000 B/s): a stop that did not flush would cut most of it off.
	sent := make([][]byte, 20)
	for i := range sent {
		sent[i] = bytes.Repeat([]byte{byte(i + 1)}, 64*1024)
		if ok, err := p.ca.Send(ctx, p.aToB.Peer, appChannel, sent[i]); err != nil || !ok {
			t.Fatalf("Send %d = %v, %v", i, ok, err)
		}
	}
	if err := p.ca.FlushStopPeer(ctx, p.aToB.Peer); err != nil {
		t.Fatal(err)
	}
	evs := p.ra.waitFor(t, "A's RemovePeer", has[RemovePeer](1))
	if rm, _ := first[RemovePeer](evs); rm.Peer != p.aToB.Peer || rm.Reason != "" {
		t.Fatalf("A's RemovePeer = %+v, want B's connection without a reason", rm)
	}
	evs = p.rb.waitFor(t, "B's RemovePeer", has[RemovePeer](1))
	// Every message, whole and in order, and all of them before B's RemovePeer.
	var got [][]byte
	for _, e := range evs {
		switch v := e.(type) {
		case Receive:
			got = append(got, v.Message)
		case RemovePeer:
			if len(got) != len(sent) {
				t.Fatalf("B saw RemovePeer after %d of %d messages", len(got), len(sent))
			}
		}
	}
	for i := range sent {
		if !bytes.Equal(got[i], sent[i]) {
			t.Fatalf("message %d differs", i)
		}
	}
	for name, r := range map[string]*recorder{"A": p.ra, "B": p.rb} {
		if err := CheckTrace(r.snapshot(), false); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestC5PeerDataAndQueries(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	ctx := ctxT(t)
	if err := p.ca.SetPeerData(ctx, p.aToB.Peer, "height", []byte("42")); err != nil {
		t.Fatal(err)
	}
	v, found, err := p.ca.GetPeerData(ctx, p.aToB.Peer, "height")
	if err != nil || !found || string(v) != "42" {
		t.Fatalf("GetPeerData = %q, %v, %v", v, found, err)
	}
	if _, found, err := p.ca.GetPeerData(ctx, p.aToB.Peer, "nope"); err != nil || found {
		t.Fatalf("GetPeerData of a missing key = found %v, %v", found, err)
	}
	peers, err := p.ca.ListPeers(ctx)
	if err != nil || len(peers) != 1 || peers[0].Peer != p.aToB.Peer || !peers[0].Outbound || peers[0].NodeInfo.ID != p.b.id {
		t.Fatalf("ListPeers = %+v, %v", peers, err)
	}
	if n, err := p.ca.NumPeers(ctx); err != nil || n != (PeerCounts{Outbound: 1}) {
		t.Fatalf("NumPeers = %+v, %v", n, err)
	}
	st, err := p.ca.GetPeer(ctx, p.b.id)
	if err != nil || st.Peer != p.aToB.Peer || !st.Outbound || st.NodeInfo.Moniker != "b" {
		t.Fatalf("GetPeer = %+v, %v", st, err)
	}
	hasApp := false
	for _, ch := range st.Channels {
		hasApp = hasApp || ch.ID == appChannel
	}
	if !hasApp {
		t.Fatalf("GetPeer channels %+v lack 0x70", st.Channels)
	}
	if err := p.ca.MarkPeerAsGood(ctx, p.aToB.Peer); err != nil {
		t.Fatal(err)
	}
}

func TestC6Dial(t *testing.T) {
	t.Parallel()
	a := startNode(t, "a", nodeConfig{})
	b := startNode(t, "b", nodeConfig{})
	ca := attachTo(t, a.grpc, appOptions())
	rb := record(attachTo(t, b.grpc, appOptions()))
	ra := record(ca)
	rb.waitFor(t, "B's Start", has[Start](1))
	ra.waitFor(t, "A's Start", has[Start](1))
	if err := ca.DialPeers(ctxT(t), []string{b.addr()}); err != nil {
		t.Fatal(err)
	}
	evs := ra.waitFor(t, "A's AddPeer", has[AddPeer](1))
	if ip, _ := first[InitPeer](evs); ip.Peer.ID != b.id || !ip.Info.Outbound {
		t.Fatalf("A's InitPeer = %+v, want B, outbound", ip)
	}
	evs = rb.waitFor(t, "B's AddPeer", has[AddPeer](1))
	if ip, _ := first[InitPeer](evs); ip.Peer.ID != a.id {
		t.Fatalf("B's InitPeer = %+v, want A", ip)
	}
}

func TestC7ManyCommandsAtOnce(t *testing.T) {
	t.Parallel()
	const total = 2000
	tap := &sendTap{sends: map[string]int{}}
	optsA := appOptions()
	optsA.DialOptions = []grpc.DialOption{tap.dialOption()}
	p := connectedPair(t, optsA, appOptions())
	t.Cleanup(tap.release)
	ctx := ctxT(t)
	sent := make([]string, total)
	for i := range sent {
		sent[i] = fmt.Sprintf("c7-%d", i)
	}
	// Each Send runs in a goroutine of its own and none waits for another's
	// result. Goroutines have no order of their own, so the next Send starts
	// once the previous one is queued (it waits in A's outbox or is being
	// written), as calls made one after another in TypeScript or Python are.
	// A's first write is held until every command slot is taken, so that the
	// outbox fills up as it does when the calls come all at once.
	// More than the node takes per batch and in progress (1024 each): a batch
	// or a stream over either limit gets its commands refused, so every Send
	// must report queued.
	errs := make([]error, total)
	var wg sync.WaitGroup
	tap.hold()
	for i, m := range sent {
		if i == DefaultMaxInflightCommands {
			tap.release()
		}
		wg.Add(1)
		done := make(chan struct{})
		go func() {
			defer wg.Done()
			defer close(done)
			ok, err := p.ca.Send(ctx, p.aToB.Peer, appChannel, []byte(m))
			if err == nil && !ok {
				err = errors.New("not queued")
			}
			errs[i] = err
		}()
		tap.waitQueued(t, p.ca, m, done)
	}
	wg.Wait()
	failed := 0
	for i, err := range errs {
		if err != nil {
			if failed++; failed <= 3 {
				t.Errorf("Send %d: %v", i, err)
			}
		}
	}
	if failed > 0 {
		t.Fatalf("%d of %d Sends failed", failed, total)
	}
	p.rb.waitFor(t, "2000 Receives", has[Receive](total))
	time.Sleep(50 * time.Millisecond) // anything extra would arrive now
	var got []string
	for _, e := range p.rb.snapshot() {
		if r, ok := e.(Receive); ok {
			if r.Peer != p.bToA.Peer || r.ChannelID != appChannel {
				t.Fatalf("Receive from %+v on %#x, want A's connection on 0x70", r.Peer, r.ChannelID)
			}
			got = append(got, string(r.Message))
		}
	}
	// All, in order, once each.
	if len(got) != total {
		t.Fatalf("B received %d messages, want %d", len(got), total)
	}
	for i := range got {
		if got[i] != sent[i] {
			t.Fatalf("B's message %d is %s where %s was due", i, got[i], sent[i])
		}
	}
	tap.mu.Lock()
	batches := tap.batches
	tap.mu.Unlock()
	for _, n := range batches {
		if n > fallbackLimits.maxBatchCommands {
			t.Errorf("a batch of %d commands, over the node's %d", n, fallbackLimits.maxBatchCommands)
		}
	}
	if st := p.ca.Stats(); st.Streams != 1 {
		t.Fatalf("A's client re-attached (%d streams)", st.Streams)
	}
}

// sendTap watches what a client writes, with a gRPC interceptor: the
// messages of its Sends and the commands per stream message. While held,
// writes wait (already counted) until release.
type sendTap struct {
	mu sync.Mutex
	// sends counts the Sends written (or being written) per message.
	sends map[string]int
	// batches lists the commands of each stream message that carried any.
	batches []int
	gate    chan struct{}
}

func (w *sendTap) dialOption() grpc.DialOption {
	return grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &sendTapStream{ClientStream: s, w: w}, nil
	})
}

type sendTapStream struct {
	grpc.ClientStream
	w *sendTap
}

func (s *sendTapStream) SendMsg(m any) error {
	w := s.w
	var cmds []*gatewayv1.Command
	if req, ok := m.(*gatewayv1.AttachRequest); ok {
		if cmd := req.GetCommand(); cmd != nil {
			cmds = append(cmds, cmd)
		} else {
			cmds = req.GetBatch().GetCommands()
		}
	}
	w.mu.Lock()
	if len(cmds) > 0 {
		w.batches = append(w.batches, len(cmds))
	}
	for _, cmd := range cmds {
		if snd := cmd.GetSend(); snd != nil {
			w.sends[string(snd.GetMessage())]++
		}
	}
	gate := w.gate
	w.mu.Unlock()
	if gate != nil {
		<-gate
	}
	return s.ClientStream.SendMsg(m)
}

// hold makes writes wait from now until release.
func (w *sendTap) hold() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gate == nil {
		w.gate = make(chan struct{})
	}
}

// release lets held writes go.
func (w *sendTap) release() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.gate != nil {
		close(w.gate)
		w.gate = nil
	}
}

// waitQueued waits until c has queued the Send of msg (it waits in the
// outbox, or is being written), or done is closed (the Send ended first).
func (w *sendTap) waitQueued(t *testing.T, c *Client, msg string, done <-chan struct{}) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		w.mu.Lock()
		written := w.sends[msg] > 0
		w.mu.Unlock()
		if written || inOutbox(c, msg) {
			return
		}
		select {
		case <-done:
			return
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the Send of %s was not queued", msg)
		}
		time.Sleep(20 * time.Microsecond)
	}
}

// inOutbox reports whether a Send of msg waits in the outbox of c's stream.
func inOutbox(c *Client, msg string) bool {
	c.mu.Lock()
	att := c.att
	c.mu.Unlock()
	if att == nil {
		return false
	}
	att.out.mu.Lock()
	defer att.out.mu.Unlock()
	for e := att.out.queue.Front(); e != nil; e = e.Next() {
		if string(e.Value.(*outgoing).cmd.GetSend().GetMessage()) == msg {
			return true
		}
	}
	return false
}

// creditWatch watches one client's stream from outside the SDK, with a
// gRPC interceptor: what it grants against what the application consumed,
// and what the node sends against what was granted.
type creditWatch struct {
	window Credit
	// consumed and consumedBytes are counted by the application right after
	// each receive from Events.
	consumed, consumedBytes atomic.Int64

	mu                  sync.Mutex
	granted, grantBytes int64
	received            int64
	maxAhead            int64
	problems            []string
}

func (w *creditWatch) dialOption() grpc.DialOption {
	return grpc.WithStreamInterceptor(func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		s, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			return nil, err
		}
		return &watchedStream{ClientStream: s, w: w}, nil
	})
}

type watchedStream struct {
	grpc.ClientStream
	w *creditWatch
}

func (s *watchedStream) SendMsg(m any) error {
	w := s.w
	if req, ok := m.(*gatewayv1.AttachRequest); ok {
		var c *gatewayv1.Credit
		if r := req.GetRegister(); r != nil {
			c = r.GetInitialCredit()
		} else if c = req.GetCredit(); c == nil {
			c = req.GetBatch().GetCredit()
		}
		if c != nil {
			w.mu.Lock()
			w.granted += int64(c.GetMessages())
			w.grantBytes += int64(c.GetBytes())
			// The one event the application has received but not yet
			// counted may have earned this credit: allow it, and its 4 bytes.
			if limit := w.consumed.Load() + 1 + int64(w.window.Messages); w.granted > limit {
				w.problems = append(w.problems, fmt.Sprintf("granted %d messages > consumed+window %d", w.granted, limit))
			}
			if limit := w.consumedBytes.Load() + 4 + int64(w.window.Bytes); w.grantBytes > limit {
				w.problems = append(w.problems, fmt.Sprintf("granted %d bytes > consumed+window %d", w.grantBytes, limit))
			}
			w.mu.Unlock()
		}
	}
	return s.ClientStream.SendMsg(m)
}

func (s *watchedStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	if resp, ok := m.(*gatewayv1.AttachResponse); ok && err == nil {
		if n := int64(len(resp.GetEvents().GetEvents())); n > 0 {
			w := s.w
			w.mu.Lock()
			w.received += n
			if w.received > w.granted {
				w.problems = append(w.problems, fmt.Sprintf("the node sent %d events with %d granted", w.received, w.granted))
			}
			w.maxAhead = max(w.maxAhead, w.received-w.consumed.Load())
			w.mu.Unlock()
		}
	}
	return err
}

func TestF1CreditAndBackpressure(t *testing.T) {
	t.Parallel()
	const total = 200
	watch := &creditWatch{window: Credit{Messages: 16, Bytes: 1 << 20}}
	slowB := appOptions()
	slowB.CreditWindow = watch.window
	slowB.DialOptions = []grpc.DialOption{watch.dialOption()}

	b := startNode(t, "b", nodeConfig{})
	a := startNode(t, "a", nodeConfig{persistentPeers: []*testNode{b}})
	cb := attachTo(t, b.grpc, slowB)
	// B's application: slow, and counts what it consumed.
	rb := recordWith(cb, func(ev Event) {
		watch.consumed.Add(1)
		if r, ok := ev.(Receive); ok {
			watch.consumedBytes.Add(int64(len(r.Message)))
			time.Sleep(2 * time.Millisecond)
		}
	})
	ca := attachTo(t, a.grpc, appOptions())
	ra := record(ca)
	ab := ra.waitFor(t, "A's AddPeer", has[AddPeer](1))
	toB, _ := first[InitPeer](ab)
	ctx := ctxT(t)
	for i := 0; i < total; i++ {
		msg := binary.BigEndian.AppendUint32(nil, uint32(i))
		if ok, err := ca.Send(ctx, toB.Peer, appChannel, msg); err != nil || !ok {
			t.Fatalf("Send %d = %v, %v", i, ok, err)
		}
	}
	evs := rb.waitFor(t, "200 Receives", has[Receive](total))
	var got []uint32
	for _, e := range evs {
		if r, ok := e.(Receive); ok {
			got = append(got, binary.BigEndian.Uint32(r.Message))
		}
	}
	for i, v := range got {
		if v != uint32(i) {
			t.Fatalf("message %d is %d: not in order, or lost, or repeated (got %d messages)", i, v, len(got))
		}
	}
	time.Sleep(50 * time.Millisecond) // anything extra would arrive now
	if n := count[Receive](rb.snapshot()); n != total {
		t.Fatalf("%d Receives, want %d", n, total)
	}
	watch.mu.Lock()
	defer watch.mu.Unlock()
	if len(watch.problems) > 0 {
		t.Fatalf("credit violations: %v", watch.problems)
	}
	if watch.maxAhead > int64(watch.window.Messages)+1 {
		t.Fatalf("%d events were received ahead of the application, window %d", watch.maxAhead, watch.window.Messages)
	}
	if st := cb.Stats(); st.Streams != 1 || st.Duplicates != 0 {
		t.Fatalf("stats %+v: want one stream, no duplicates", st)
	}
	if err := CheckTrace(rb.snapshot(), false); err != nil {
		t.Fatal(err)
	}
}

func TestS1ResumeInsideTheWindow(t *testing.T) {
	t.Parallel()
	const total = 120
	b := startNode(t, "b", nodeConfig{})
	a := startNode(t, "a", nodeConfig{persistentPeers: []*testNode{b}})
	px := newProxy(t, b.grpc)
	optsB := appOptions()
	optsB.CreditWindow = Credit{Messages: 16, Bytes: 1 << 20}
	cb := attachTo(t, px.addr(), optsB)
	rb := recordWith(cb, func(ev Event) {
		if _, ok := ev.(Receive); ok {
			time.Sleep(time.Millisecond) // slow enough to hold unacknowledged events at the cut
		}
	})
	ca := attachTo(t, a.grpc, appOptions())
	ra := record(ca)
	ab := ra.waitFor(t, "A's AddPeer", has[AddPeer](1))
	toB, _ := first[InitPeer](ab)
	ctx := ctxT(t)
	sent := make(chan error, 1)
	go func() {
		for i := 0; i < total; i++ {
			if ok, err := ca.Send(ctx, toB.Peer, appChannel, binary.BigEndian.AppendUint32(nil, uint32(i))); err != nil || !ok {
				sent <- fmt.Errorf("Send %d = %v, %v", i, ok, err)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
		sent <- nil
	}()
	rb.waitFor(t, "40 Receives", has[Receive](40))
	px.cut() // the stream, not the node
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	evs := rb.waitFor(t, "all Receives", has[Receive](total))
	sess, ok := first[Session](evs)
	if !ok || !sess.Resumed {
		t.Fatalf("want Session{Resumed: true} after the cut; events %s", describeTrace(evs))
	}
	// No duplicate and no gap: node events carry consecutive numbers, and
	// the messages arrive in order, once each.
	var seq uint64
	next := uint32(0)
	for _, e := range evs {
		if _, isSession := e.(Session); isSession {
			continue
		}
		if e.Seq() != seq+1 {
			t.Fatalf("event seq %d after %d: a gap or a duplicate", e.Seq(), seq)
		}
		seq = e.Seq()
		if r, ok := e.(Receive); ok {
			if v := binary.BigEndian.Uint32(r.Message); v != next {
				t.Fatalf("message %d where %d was due", v, next)
			}
			next++
		}
	}
	st := cb.Stats()
	if st.Streams != 2 || st.FreshSessions != 1 {
		t.Fatalf("stats %+v: want 2 streams, 1 session", st)
	}
	t.Logf("resumed; %d events sent again and discarded by sequence number", st.Duplicates)
	if err := CheckTrace(evs, false); err != nil {
		t.Fatal(err)
	}
}

func TestS2ResumeOutsideTheWindow(t *testing.T) {
	t.Parallel()
	b := startNode(t, "b", nodeConfig{extra: []string{"--grpc.resume_window", "200ms"}})
	a := startNode(t, "a", nodeConfig{persistentPeers: []*testNode{b}})
	px := newProxy(t, b.grpc)
	cb := attachTo(t, px.addr(), appOptions())
	rb := record(cb)
	ra := record(attachTo(t, a.grpc, appOptions()))
	ra.waitFor(t, "A's AddPeer", has[AddPeer](1))
	before := rb.waitFor(t, "B's AddPeer", has[AddPeer](1))
	oldConn, _ := first[InitPeer](before)

	px.refuse(true)
	px.cut()
	time.Sleep(700 * time.Millisecond) // away longer than the 200 ms window
	px.refuse(false)

	evs := rb.waitFor(t, "the snapshot after a fresh session", func(evs []Event) bool {
		for i, e := range evs {
			if s, ok := e.(Session); ok && !s.Resumed {
				return count[AddPeer](evs[i:]) >= 1
			}
		}
		return false
	})
	var i int
	for i = range evs {
		if _, ok := evs[i].(Session); ok {
			break
		}
	}
	sess := evs[i].(Session)
	if sess.RefusedReason == "" {
		t.Fatal("Session.RefusedReason is empty")
	}
	snap := evs[i+1:]
	if len(snap) < 3 || eventKind(snap[0]) != "Start" || eventKind(snap[1]) != "InitPeer" || eventKind(snap[2]) != "AddPeer" {
		t.Fatalf("after the fresh Session: %s, want Start InitPeer AddPeer", describeTrace(snap))
	}
	if ip := snap[1].(InitPeer); ip.Peer != oldConn.Peer || ip.Info.NodeInfo.ID != a.id {
		t.Fatalf("snapshot InitPeer %+v, want A's connection %+v", ip.Peer, oldConn.Peer)
	}
	if st := cb.Stats(); st.FreshSessions != 2 {
		t.Fatalf("stats %+v: want 2 sessions", st)
	}
	if err := CheckTrace(evs, false); err != nil {
		t.Fatal(err)
	}
}

func TestX1NodeShutdown(t *testing.T) {
	t.Parallel()
	p := connectedPair(t, appOptions(), appOptions())
	p.a.stop()
	p.ra.waitClosed(t)
	<-p.ca.Done()
	if err := p.ca.Err(); err != nil {
		t.Fatalf("the client ended with %v, want nil", err)
	}
	evs := p.ra.snapshot()
	if n := len(evs); n < 2 || eventKind(evs[n-2]) != "RemovePeer" || eventKind(evs[n-1]) != "Stop" {
		t.Fatalf("A's last events %s, want RemovePeer Stop", describeTrace(evs))
	}
	if rm := evs[len(evs)-2].(RemovePeer); rm.Peer != p.aToB.Peer {
		t.Fatalf("RemovePeer %+v, want B's connection", rm.Peer)
	}
	if err := CheckTrace(evs, true); err != nil {
		t.Fatal(err)
	}
	if _, err := p.ca.NumPeers(context.Background()); !errors.Is(err, ErrClosed) {
		t.Fatalf("command after the end: %v, want ErrClosed", err)
	}
}
