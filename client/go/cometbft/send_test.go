package cometbft

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cometbft/cometbft/p2p"
	protomem "github.com/cometbft/cometbft/proto/tendermint/mempool"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	"github.com/switchboard-p2p/switchboard/client/go/switchboardtest"
)

func TestSendWindowBoundsMessagesAndBytes(t *testing.T) {
	ctx := context.Background()
	w := newSendWindow()
	for i := range MaxSendsInFlight {
		if !w.take(ctx, 1, time.Millisecond) {
			t.Fatalf("take %d refused below the message bound", i)
		}
	}
	if w.take(ctx, 1, 20*time.Millisecond) {
		t.Fatal("take beyond MaxSendsInFlight was granted")
	}
	// Room given back wakes a waiting take.
	got := make(chan bool, 1)
	go func() { got <- w.take(ctx, 1, 5*time.Second) }()
	time.Sleep(20 * time.Millisecond)
	w.give(1)
	if !<-got {
		t.Fatal("a take waiting for room was not woken by give")
	}
	for range MaxSendsInFlight {
		w.give(1)
	}

	// Bytes: a second large message waits; one larger than the bound goes alone.
	if !w.take(ctx, MaxSendBytesInFlight-10, time.Millisecond) || w.take(ctx, 11, 20*time.Millisecond) {
		t.Fatal("the byte bound was not applied")
	}
	w.give(MaxSendBytesInFlight - 10)
	if !w.take(ctx, 4*MaxSendBytesInFlight, time.Millisecond) {
		t.Fatal("a message larger than the byte bound was refused on an empty window")
	}
	if w.take(ctx, 1, 20*time.Millisecond) {
		t.Fatal("a message went beside one larger than the byte bound")
	}

	// drain waits for the window to empty.
	drained := make(chan struct{})
	go func() { w.drain(ctx, 5*time.Second); close(drained) }()
	select {
	case <-drained:
		t.Fatal("drain returned with a message in flight")
	case <-time.After(20 * time.Millisecond):
	}
	w.give(4 * MaxSendBytesInFlight)
	<-drained

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	w2 := newSendWindow()
	for range MaxSendsInFlight {
		w2.take(ctx, 1, time.Millisecond)
	}
	if w2.take(cctx, 1, time.Minute) {
		t.Fatal("take granted after its context ended")
	}
}

// hostedPeer attaches a host with one MEMPOOL reactor to node and connects peerA.
func hostedPeer(t *testing.T, node *switchboardtest.Node) (*Host, *recordingReactor, *p2p.Switch, switchboard.Peer, *peer) {
	t.Helper()
	h, r, sw := attachedHost(t, node)
	p := node.Connect(peerA)
	waitFor(t, func() bool { return len(r.taken()) == 2 })
	return h, r, sw, p, sw.Peers().Get(p2p.ID(peerA)).(*peer)
}

// One goroutine's Sends to a peer reach the node in the order of the calls,
// many at a time (Send returns before the node answers).
func TestHostedSendsArriveInTheirOrder(t *testing.T) {
	node := switchboardtest.NewNode("self", "test-chain")
	defer node.Close()
	h, _, _, p, hp := hostedPeer(t, node)
	const n = 1000
	go func() {
		for i := range n {
			if !hp.Send(p2p.Envelope{ChannelID: 0x30, Message: &protomem.Txs{Txs: [][]byte{[]byte(fmt.Sprint(i))}}}) {
				t.Errorf("Send %d not queued", i)
				return
			}
		}
	}()
	for i := range n {
		select {
		case m := <-node.Sent():
			if m.To != p || string(m.Bytes) != string(marshalTxs(fmt.Sprint(i))) {
				t.Fatalf("message %d on the node: %q to %v, want tx %d to %v", i, m.Bytes, m.To, i, p)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("message %d did not reach the node", i)
		}
	}
	waitFor(t, func() bool { return h.Stats().SendsQueued == n })
}

// What the node refuses before queueing is refused by Send at once: a
// channel the peer did not advertise, a message larger than the channel's.
func TestHostedSendRefusesWhatCometBFTsPeerRefuses(t *testing.T) {
	node := switchboardtest.NewNode("self", "test-chain")
	defer node.Close()
	_, _, _, _, hp := hostedPeer(t, node)
	hp.nodeInfo.Channels = []byte{0x31}
	if hp.Send(p2p.Envelope{ChannelID: 0x30, Message: &protomem.Txs{Txs: [][]byte{[]byte("x")}}}) {
		t.Fatal("Send on a channel the peer does not have was accepted")
	}
	hp.nodeInfo.Channels = []byte{0x30}
	big := make([]byte, 2<<20) // the recording reactor's channel takes 1 MiB
	if hp.Send(p2p.Envelope{ChannelID: 0x30, Message: &protomem.Txs{Txs: [][]byte{big}}}) {
		t.Fatal("Send of a message larger than the channel accepts was accepted")
	}
	select {
	case m := <-node.Sent():
		t.Fatalf("the node got %d bytes", len(m.Bytes))
	case <-time.After(50 * time.Millisecond):
	}
}

// A message Send accepted and the node then did not queue stops the peer
// (the reactor believes it sent); one whose peer the node removed does not.
func TestASendTheNodeDidNotQueueStopsThePeer(t *testing.T) {
	node := switchboardtest.NewNode("self", "test-chain")
	defer node.Close()
	h, r, sw, _, hp := hostedPeer(t, node)

	hp.sendFailed(0x30, &switchboard.CommandError{Reason: switchboard.ReasonPeerRemoved})
	hp.sendFailed(0x30, switchboard.ErrClosed)
	time.Sleep(50 * time.Millisecond)
	if sw.Peers().Size() != 1 || h.Stats().SendsLost != 0 {
		t.Fatalf("peer stopped (set size %d, lost %d) for a removal or a closing client", sw.Peers().Size(), h.Stats().SendsLost)
	}

	hp.sendFailed(0x30, switchboard.ErrResultLost)
	waitFor(t, func() bool { return len(r.taken()) == 3 })
	last := r.taken()[2]
	if last.kind != "RemovePeer" || !strings.Contains(fmt.Sprint(last.reason), "was not queued on the Switchboard node") {
		t.Fatalf("call %+v, want RemovePeer naming the lost message", last)
	}
	waitFor(t, func() bool { return sw.Peers().Size() == 0 && h.Stats().SendsLost == 1 })
}
