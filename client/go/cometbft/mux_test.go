package cometbft

import (
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/cometbft/cometbft/p2p"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
)

// The host's own state machine, without a gateway: events are handed to it
// as each reactor's dispatch goroutine would (pending removals first, then
// the event), so a test decides exactly how far each stream lags.

type muxHarness struct {
	t        *testing.T
	h        *Host
	sw       *p2p.Switch
	reactors map[string]*recordingReactor
	byName   map[string]*reactor

	mu    sync.Mutex
	stops map[string][]string // connection → reasons the host sent to the node
}

func newMuxHarness(t *testing.T, names ...string) *muxHarness {
	m := &muxHarness{t: t, reactors: map[string]*recordingReactor{}, byName: map[string]*reactor{}, stops: map[string][]string{}}
	rs := map[string]p2p.Reactor{}
	for i, name := range names {
		r := newRecordingReactor(name, byte(0x30+i))
		m.reactors[name] = r
		rs[name] = r
	}
	m.sw = newSwitch(t, rs)
	h, err := New(m.sw, Options{Target: "unused"})
	if err != nil {
		t.Fatal(err)
	}
	h.stopFn = func(_ *reactor, p *peer, reason interface{}) {
		m.mu.Lock()
		m.stops[p.sb.ConnectionID] = append(m.stops[p.sb.ConnectionID], fmt.Sprint(reason))
		m.mu.Unlock()
	}
	for _, w := range h.reactors {
		m.byName[w.name] = w
	}
	m.h = h
	return m
}

// deliver hands one event to reactor name's dispatch.
func (m *muxHarness) deliver(name string, ev switchboard.Event) {
	w := m.byName[name]
	m.h.applyRemovals(w)
	m.h.handle(w, ev)
}

func (m *muxHarness) drain() {
	for _, w := range m.byName {
		m.h.applyRemovals(w)
	}
}

// nodeEvent is one event of the node's script; ch is set for a Receive.
type nodeEvent struct {
	kind, peer, conn string
	ch               byte
	tx               string
}

func (e nodeEvent) sdk() switchboard.Event {
	p := switchboard.Peer{ID: e.peer, ConnectionID: e.conn}
	switch e.kind {
	case "InitPeer":
		return switchboard.InitPeer{Peer: p, Info: peerInfo(e.peer, e.conn)}
	case "AddPeer":
		return switchboard.AddPeer{Peer: p}
	case "Receive":
		return switchboard.Receive{Peer: p, ChannelID: e.ch, Message: marshalTxs(e.tx)}
	default:
		return switchboard.RemovePeer{Peer: p, Reason: "node: " + e.kind}
	}
}

// randomScript is what a node tells its reactors over time: connections of
// a few node IDs (a reconnect is a new connection, never two open at once
// for one ID), each InitPeer, Receives, maybe AddPeer, Receives, RemovePeer.
// Some Receives carry "stop:" transactions that make the reactor stop the peer.
func randomScript(rng *rand.Rand, channels []byte) []nodeEvent {
	ids := []string{strings.Repeat("1", 40), strings.Repeat("2", 40), strings.Repeat("3", 40)}
	type live struct {
		conn  string
		added bool
	}
	open := map[string]*live{}
	var script []nodeEvent
	next := 0
	for step := 0; step < 120 || len(open) > 0; step++ {
		id := ids[rng.Intn(len(ids))]
		l := open[id]
		switch {
		case l == nil && step < 120:
			next++
			l = &live{conn: fmt.Sprintf("%s#%d", id[:4], next)}
			open[id] = l
			script = append(script, nodeEvent{kind: "InitPeer", peer: id, conn: l.conn})
		case l == nil:
			continue
		case !l.added && rng.Intn(4) == 0:
			l.added = true
			script = append(script, nodeEvent{kind: "AddPeer", peer: id, conn: l.conn})
		case rng.Intn(8) == 0 || step >= 120:
			delete(open, id)
			script = append(script, nodeEvent{kind: "RemovePeer", peer: id, conn: l.conn})
		default:
			tx := fmt.Sprintf("tx%d", step)
			if rng.Intn(25) == 0 {
				tx = fmt.Sprintf("stop:bad%d", step)
			}
			script = append(script, nodeEvent{kind: "Receive", peer: id, conn: l.conn, ch: channels[rng.Intn(len(channels))], tx: tx})
		}
	}
	return script
}

// Each hosted reactor sees, per connection, a word of the reactor grammar
// (InitPeer *Receive [AddPeer *Receive] RemovePeer), whatever the lag
// between the reactors' streams and whichever reactor stops a peer; no
// Receive is lost, repeated or reordered unless its peer was stopped; each
// stopped connection is stopped once on the node; and nothing is left over.
func TestEveryReactorSeesAWordAcrossLaggingStreams(t *testing.T) {
	for seed := int64(1); seed <= 60; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { checkLaggingStreams(t, seed) })
	}
}

func checkLaggingStreams(t *testing.T, seed int64) {
	rng := rand.New(rand.NewSource(seed))
	names := []string{"A", "B", "C"}
	m := newMuxHarness(t, names...)
	chOf := map[string]byte{}
	nameOf := map[byte]string{}
	for _, n := range names {
		chOf[n] = m.reactors[n].ch
		nameOf[m.reactors[n].ch] = n
	}
	script := randomScript(rng, []byte{chOf["A"], chOf["B"], chOf["C"]})

	// Each stream's share of the script, delivered with random lag.
	queues := map[string][]nodeEvent{}
	for _, e := range script {
		for _, n := range names {
			if e.kind != "Receive" || nameOf[e.ch] == n {
				queues[n] = append(queues[n], e)
			}
		}
	}
	externalStops := map[string]bool{}
	for {
		var ready []string
		for _, n := range names {
			if len(queues[n]) > 0 {
				ready = append(ready, n)
			}
		}
		if len(ready) == 0 {
			break
		}
		n := ready[rng.Intn(len(ready))]
		e := queues[n][0]
		queues[n] = queues[n][1:]
		m.deliver(n, e.sdk())
		if rng.Intn(40) == 0 {
			// Another goroutine of a reactor (consensus' gossip, say) stops a peer.
			if p := m.sw.Peers().List(); len(p) > 0 {
				hp := p[rng.Intn(len(p))].(*peer)
				externalStops[hp.sb.ConnectionID] = true
				m.sw.StopPeerForError(hp, "external")
			}
		}
	}
	m.drain()

	stopped := map[string]bool{} // connections stopped by a hosted reactor
	for _, e := range script {
		if e.kind == "Receive" && strings.HasPrefix(e.tx, "stop:") {
			stopped[e.conn] = true
		}
	}
	for c := range externalStops {
		stopped[c] = true
	}
	for _, n := range names {
		checkWords(t, n, m.reactors[n].taken(), script, chOf[n], stopped)
	}
	m.mu.Lock()
	for c, reasons := range m.stops {
		if len(reasons) != 1 {
			t.Errorf("connection %s stopped on the node %d times (%v), want once", c, len(reasons), reasons)
		}
		if !stopped[c] {
			t.Errorf("connection %s stopped on the node though no reactor stopped it", c)
		}
	}
	m.mu.Unlock()
	if n := len(m.h.conns); n != 0 {
		t.Errorf("%d connections left in the host after every RemovePeer", n)
	}
	if n := m.sw.Peers().Size(); n != 0 {
		t.Errorf("%d peers left in the hosted Switch", n)
	}
}

// checkWords checks reactor name's calls against the reactor grammar (the
// SDK's CheckTrace, which every SDK's checker shares fixtures with; a hosted
// reactor's OnStart is CometBFT's own, so the trace starts with Start) and
// each connection's Receives against the script's on its channel.
func checkWords(t *testing.T, name string, calls []call, script []nodeEvent, ch byte, stopped map[string]bool) {
	t.Helper()
	evs := []switchboard.Event{switchboard.Start{}}
	type word struct{ txs []string }
	words := map[string]*word{}
	for _, c := range calls {
		p := switchboard.Peer{ID: c.peer, ConnectionID: c.conn}
		w := words[c.conn]
		if w == nil {
			w = &word{}
			words[c.conn] = w
		}
		switch c.kind {
		case "InitPeer":
			evs = append(evs, switchboard.InitPeer{Peer: p, Info: switchboard.PeerInfo{Peer: p}})
		case "AddPeer":
			evs = append(evs, switchboard.AddPeer{Peer: p})
		case "Receive":
			evs = append(evs, switchboard.Receive{Peer: p, ChannelID: ch})
			w.txs = append(w.txs, c.txs...)
		case "RemovePeer":
			evs = append(evs, switchboard.RemovePeer{Peer: p})
		}
	}
	if err := switchboard.CheckTrace(append(evs, switchboard.Stop{}), true); err != nil {
		t.Fatalf("reactor %s: %v (calls: %+v)", name, err, calls)
	}
	for conn, w := range words {
		var want []string
		for _, e := range script {
			if e.conn == conn && e.kind == "Receive" && e.ch == ch {
				want = append(want, e.tx)
			}
		}
		if stopped[conn] {
			if len(w.txs) > len(want) || !slices.Equal(w.txs, want[:len(w.txs)]) {
				t.Fatalf("reactor %s, stopped connection %s: got %v, want a prefix of %v", name, conn, w.txs, want)
			}
		} else if !slices.Equal(w.txs, want) {
			t.Fatalf("reactor %s, connection %s: got %v, want %v", name, conn, w.txs, want)
		}
	}
	// Every connection the script opened reached this reactor, unless
	// stopped before its InitPeer did.
	for _, e := range script {
		if e.kind == "InitPeer" && words[e.conn] == nil && !stopped[e.conn] {
			t.Fatalf("reactor %s never got connection %s", name, e.conn)
		}
	}
}

// A stream whose session could not be resumed: its reactor loses its peers
// (RemovePeer with ErrSessionReset) and gets them back from the snapshot,
// on the same shared peer; the other reactors notice nothing.
func TestSessionResetRemovesAndReannouncesPeersOfOneReactor(t *testing.T) {
	m := newMuxHarness(t, "A", "B")
	id := strings.Repeat("4", 40)
	for _, n := range []string{"A", "B"} {
		m.deliver(n, nodeEvent{kind: "InitPeer", peer: id, conn: "c1"}.sdk())
		m.deliver(n, nodeEvent{kind: "AddPeer", peer: id, conn: "c1"}.sdk())
	}
	first := m.sw.Peers().Get(p2p.ID(id))
	first.Set("state", "kept")
	m.deliver("A", switchboard.Session{Resumed: false, RefusedReason: "expired"})
	m.deliver("A", nodeEvent{kind: "InitPeer", peer: id, conn: "c1"}.sdk())
	m.deliver("A", nodeEvent{kind: "AddPeer", peer: id, conn: "c1"}.sdk())

	a := m.reactors["A"].taken()
	kinds := make([]string, len(a))
	for i, c := range a {
		kinds[i] = c.kind
	}
	if strings.Join(kinds, " ") != "InitPeer AddPeer RemovePeer InitPeer AddPeer" || a[2].reason != ErrSessionReset {
		t.Fatalf("A got %+v, want InitPeer AddPeer RemovePeer(ErrSessionReset) InitPeer AddPeer", a)
	}
	if len(m.reactors["B"].taken()) != 2 {
		t.Fatalf("B got %+v, want its InitPeer and AddPeer only", m.reactors["B"].taken())
	}
	if p := m.sw.Peers().Get(p2p.ID(id)); p != first || !p.IsRunning() || p.Get("state") != "kept" {
		t.Fatal("the connection's shared peer changed or stopped across one reactor's session reset")
	}
}
