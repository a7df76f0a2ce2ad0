package cometbft

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cosmos/gogoproto/proto"

	cfg "github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/conn"
	protomem "github.com/cometbft/cometbft/proto/tendermint/mempool"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	"github.com/switchboard-p2p/switchboard/client/go/switchboardtest"
)

// Node IDs are 40 hex digits.
var (
	peerA = strings.Repeat("a", 40)
	peerB = strings.Repeat("b", 40)
)

// call is one call a recordingReactor got.
type call struct {
	kind, conn string
	peer       string   // the peer's node ID
	txs        []string // Receive: the decoded transactions
	reason     interface{}
}

// recordingReactor is a CometBFT reactor that records its calls. A Receive
// of a transaction "stop:<reason>" makes it stop the peer for an error, as a
// reactor does with a bad message.
type recordingReactor struct {
	p2p.BaseReactor
	ch byte

	mu    sync.Mutex
	calls []call
}

func newRecordingReactor(name string, ch byte) *recordingReactor {
	r := &recordingReactor{ch: ch}
	r.BaseReactor = *p2p.NewBaseReactor(name, r)
	return r
}

func (r *recordingReactor) GetChannels() []*conn.ChannelDescriptor {
	return []*conn.ChannelDescriptor{{ID: r.ch, Priority: 5, SendQueueCapacity: 10, RecvMessageCapacity: 1 << 20, MessageType: &protomem.Message{}}}
}

func (r *recordingReactor) record(c call) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *recordingReactor) InitPeer(p p2p.Peer) p2p.Peer {
	r.record(call{kind: "InitPeer", conn: p.(*peer).sb.ConnectionID, peer: p.(*peer).sb.ID})
	return p
}

func (r *recordingReactor) AddPeer(p p2p.Peer) {
	r.record(call{kind: "AddPeer", conn: p.(*peer).sb.ConnectionID, peer: p.(*peer).sb.ID})
}

func (r *recordingReactor) RemovePeer(p p2p.Peer, reason interface{}) {
	r.record(call{kind: "RemovePeer", conn: p.(*peer).sb.ConnectionID, peer: p.(*peer).sb.ID, reason: reason})
}

func (r *recordingReactor) Receive(e p2p.Envelope) {
	txs, ok := e.Message.(*protomem.Txs)
	c := call{kind: "Receive", conn: e.Src.(*peer).sb.ConnectionID, peer: e.Src.(*peer).sb.ID}
	if ok {
		for _, tx := range txs.Txs {
			c.txs = append(c.txs, string(tx))
		}
	}
	r.record(c)
	for _, tx := range c.txs {
		if reason, stop := strings.CutPrefix(tx, "stop:"); stop {
			r.Switch.StopPeerForError(e.Src, reason)
		}
	}
}

func (r *recordingReactor) taken() []call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]call(nil), r.calls...)
}

// newSwitch is a CometBFT Switch with the given reactors that listens nowhere.
func newSwitch(t *testing.T, reactors map[string]p2p.Reactor) *p2p.Switch {
	t.Helper()
	key := p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	info := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(8, 11, 0), DefaultNodeID: key.ID(), ListenAddr: "127.0.0.1:0",
		Network: "test-chain", Version: "0.38.25", Moniker: "hosted",
	}
	p2pConf := cfg.DefaultP2PConfig()
	sw := p2p.NewSwitch(p2pConf, p2p.NewMultiplexTransport(info, key, p2p.MConnConfig(p2pConf)))
	for name, r := range reactors {
		sw.AddReactor(name, r)
	}
	sw.SetNodeKey(&key)
	sw.SetNodeInfo(info)
	return sw
}

// marshalTxs is a mempool message on the wire: Txs, wrapped.
func marshalTxs(txs ...string) []byte {
	m := &protomem.Txs{}
	for _, tx := range txs {
		m.Txs = append(m.Txs, []byte(tx))
	}
	bz, err := proto.Marshal(m.Wrap())
	if err != nil {
		panic(err)
	}
	return bz
}

func peerInfo(id, conn string) switchboard.PeerInfo {
	return switchboard.PeerInfo{
		Peer: switchboard.Peer{ID: id, ConnectionID: conn}, Outbound: true, Persistent: true,
		RemoteAddress: "127.0.0.1:26656", SocketAddress: id + "@127.0.0.1:26656",
		NodeInfo: switchboard.NodeInfo{ID: id, Network: "test-chain", Channels: []byte{0x30, 0x31, 0x32}},
	}
}

// attachedHost attaches a host with one MEMPOOL reactor (channel 0x30) to
// node, which is then started; the host lives until the test ends.
func attachedHost(t *testing.T, node *switchboardtest.Node) (*Host, *recordingReactor, *p2p.Switch) {
	t.Helper()
	r := newRecordingReactor("MEMPOOL", 0x30)
	sw := newSwitch(t, map[string]p2p.Reactor{"MEMPOOL": r})
	h, err := New(sw, Options{Target: switchboardtest.Target, Network: "test-chain", SDK: node.Options(switchboard.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := sw.Start(); err != nil {
		t.Fatal(err)
	}
	// The host lives as long as Attach's context.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	if err := h.Attach(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(h.Close)
	node.Start()
	return h, r, sw
}

// Over a gateway: a hosted reactor gets peers and decoded messages, sends
// through its stream, and a message that does not decode stops its peer on
// the node with the decoder's reason, the reactor seeing RemovePeer once.
func TestHostedReactorOverTheGateway(t *testing.T) {
	node := switchboardtest.NewNode("self", "test-chain")
	defer node.Close()
	h, r, sw := attachedHost(t, node)
	p := node.Connect(peerA)
	node.Deliver(p, 0x30, marshalTxs("tx1", "tx2"))
	waitFor(t, func() bool { return len(r.taken()) == 3 })
	got := r.taken()
	if got[0].kind != "InitPeer" || got[1].kind != "AddPeer" || got[2].kind != "Receive" || strings.Join(got[2].txs, ",") != "tx1,tx2" {
		t.Fatalf("calls = %+v, want InitPeer, AddPeer, Receive [tx1 tx2]", got)
	}
	hp := sw.Peers().Get(p2p.ID(peerA))
	if hp == nil || !hp.IsRunning() || hp.IsPersistent() {
		t.Fatalf("peer set has %v (running %v): want the running hosted peer, never persistent to the hosted Switch", hp, hp != nil && hp.IsRunning())
	}

	// Send: wrapped and marshalled as CometBFT's peer does, on the node.
	if !hp.Send(p2p.Envelope{ChannelID: 0x30, Message: &protomem.Txs{Txs: [][]byte{[]byte("out")}}}) {
		t.Fatal("Send was not queued")
	}
	sent := <-node.Sent()
	if sent.ChannelID != 0x30 || string(sent.Bytes) != string(marshalTxs("out")) || sent.To.ConnectionID != p.ConnectionID {
		t.Fatalf("node got %+v, want the wrapped Txs{out} on 0x30 to %v", sent, p)
	}
	if hp.Send(p2p.Envelope{ChannelID: 0x31, Message: &protomem.Txs{}}) {
		t.Fatal("Send on a channel no hosted reactor registered was queued")
	}
	// Send does not wait for the node's answer: the count follows it.
	waitFor(t, func() bool { return h.Stats().SendsQueued == 1 })

	// Bytes that do not decode: the peer is stopped on the node.
	node.Deliver(p, 0x30, []byte{0x0a, 0xff, 0xff})
	waitFor(t, func() bool { return len(r.taken()) == 4 })
	last := r.taken()[3]
	if last.kind != "RemovePeer" || !strings.Contains(fmt.Sprint(last.reason), "unmarshaling") {
		t.Fatalf("last call %+v, want RemovePeer for the decode error", last)
	}
	waitFor(t, func() bool { return sw.Peers().Size() == 0 && h.Stats().DecodeErrors == 1 })
	// The node's own RemovePeer for that connection (it did stop it) must not
	// reach the reactor again: a second peer shows the stream went on.
	q := node.Connect(peerB)
	waitFor(t, func() bool { return len(r.taken()) == 6 })
	for _, c := range r.taken()[4:] {
		if c.conn != q.ConnectionID {
			t.Fatalf("call %+v after the decode error: want only peer-b's InitPeer and AddPeer", c)
		}
	}
}

// A Switchboard node on another network is refused with the flag to fix it.
func TestAttachRefusesAnotherNetwork(t *testing.T) {
	node := switchboardtest.NewNode("self", "other-chain")
	defer node.Close()
	sw := newSwitch(t, map[string]p2p.Reactor{"MEMPOOL": newRecordingReactor("MEMPOOL", 0x30)})
	h, err := New(sw, Options{Target: switchboardtest.Target, Network: "test-chain", SDK: node.Options(switchboard.Options{})})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err = h.Attach(ctx)
	if err == nil || !strings.Contains(err.Error(), `on network "other-chain"`) || !strings.Contains(err.Error(), "--node.network test-chain") {
		t.Fatalf("Attach: %v, want the network mismatch and --node.network test-chain", err)
	}
}

// An unreachable gateway is reported after the connect timeout, naming the
// address and what to start.
func TestAttachReportsAnUnreachableGateway(t *testing.T) {
	sw := newSwitch(t, map[string]p2p.Reactor{"MEMPOOL": newRecordingReactor("MEMPOOL", 0x30)})
	h, err := New(sw, Options{Target: "unix:///nonexistent/switchboard.sock", ConnectTimeout: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	err = h.Attach(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot reach the Switchboard node's gateway at unix:///nonexistent/switchboard.sock") ||
		!strings.Contains(err.Error(), "--grpc.reactors MEMPOOL") {
		t.Fatalf("Attach: %v, want the unreachable gateway named with what to start", err)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met within 10 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
