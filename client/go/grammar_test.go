package switchboard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// grammarError is a trace that is not (a prefix of) a word of the reactor
// grammar. Index is the first offending event, or len(events) when the trace
// ended before the Stop a complete trace needs.
type grammarError struct {
	Index int
	msg   string
}

func (e *grammarError) Error() string { return e.msg }

// checkGrammar is the check every SDK's conformance suite makes
// (client/conformance/SCENARIOS.md): per peer connection the events are
// InitPeer Receive* [AddPeer Receive*] RemovePeer, all between Start and
// Stop; a connection ID is never empty or reused and always names the peer
// its InitPeer named; a node ID has one open connection at a time. A fresh
// Session (Resumed == false) begins a new word; a resumed one is transparent.
// With complete, Stop must have come. The TypeScript and Python checkers make
// the same checks, and all of them run over client/conformance/
// grammar-traces.json (TestGrammarFixtures), rejecting each bad trace at the
// same event.
func checkGrammar(evs []Event, complete bool) error {
	type conn struct {
		peerID         string
		added, removed bool
	}
	const (
		before = iota
		running
		stopped
	)
	phase := before
	conns := map[string]*conn{}
	openByPeer := map[string]string{}
	for i, ev := range evs {
		at := func(format string, a ...any) error {
			return &grammarError{Index: i, msg: fmt.Sprintf("event %d (%s): %s; events: %s", i, kindOf(ev), fmt.Sprintf(format, a...), describe(evs))}
		}
		if s, ok := ev.(Session); ok {
			if !s.Resumed {
				phase, conns, openByPeer = before, map[string]*conn{}, map[string]string{}
			}
			continue
		}
		if _, ok := ev.(Start); ok {
			if phase != before {
				return at("Start twice, or after Stop")
			}
			phase = running
			continue
		}
		if phase != running {
			return at("outside Start..Stop")
		}
		if _, ok := ev.(Stop); ok {
			for id, c := range conns {
				if !c.removed {
					return at("Stop while connection %q is not removed", id)
				}
			}
			phase = stopped
			continue
		}
		var p Peer
		switch e := ev.(type) {
		case InitPeer:
			p = e.Peer
		case AddPeer:
			p = e.Peer
		case Receive:
			p = e.Peer
		case RemovePeer:
			p = e.Peer
		default:
			return at("unknown event")
		}
		c := conns[p.ConnectionID]
		if _, ok := ev.(InitPeer); ok {
			switch {
			case p.ConnectionID == "":
				return at("empty connection ID (peer %s)", p.ID)
			case c != nil:
				return at("connection %q reused", p.ConnectionID)
			case openByPeer[p.ID] != "":
				return at("peer %s already has open connection %q", p.ID, openByPeer[p.ID])
			}
			conns[p.ConnectionID] = &conn{peerID: p.ID}
			openByPeer[p.ID] = p.ConnectionID
			continue
		}
		switch {
		case c == nil:
			return at("connection %q without InitPeer", p.ConnectionID)
		case c.peerID != p.ID:
			return at("connection %q belongs to %s, not %s", p.ConnectionID, c.peerID, p.ID)
		case c.removed:
			return at("connection %q was already removed", p.ConnectionID)
		}
		switch ev.(type) {
		case AddPeer:
			if c.added {
				return at("AddPeer twice for %q", p.ConnectionID)
			}
			c.added = true
		case RemovePeer:
			c.removed = true
			delete(openByPeer, p.ID)
		}
	}
	if complete && phase != stopped {
		return &grammarError{Index: len(evs), msg: fmt.Sprintf("no Stop; events: %s", describe(evs))}
	}
	return nil
}

// grammarFixture is one trace of client/conformance/grammar-traces.json.
type grammarFixture struct {
	Name     string `json:"name"`
	Verdict  string `json:"verdict"`
	Complete bool   `json:"complete"`
	Index    *int   `json:"index"`
	Why      string `json:"why"`
	Events   []struct {
		Kind       string `json:"kind"`
		Resumed    bool   `json:"resumed"`
		Peer       string `json:"peer"`
		Connection string `json:"connection"`
		Channel    byte   `json:"channel"`
	} `json:"events"`
}

// TestGrammarFixtures runs checkGrammar over the conformance kit's fixtures,
// which the server's, the TypeScript SDK's and the Python SDK's checkers run
// too: each must get the verdict written there, a rejection at the same event.
func TestGrammarFixtures(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "conformance", "grammar-traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Fixtures []grammarFixture `json:"fixtures"`
	}
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Fixtures) < 15 {
		t.Fatalf("only %d fixtures", len(doc.Fixtures))
	}
	for _, f := range doc.Fixtures {
		t.Run(f.Name, func(t *testing.T) {
			evs := make([]Event, 0, len(f.Events))
			for _, e := range f.Events {
				p := Peer{ID: e.Peer, ConnectionID: e.Connection}
				switch e.Kind {
				case "OnStart":
					evs = append(evs, Start{})
				case "OnStop":
					evs = append(evs, Stop{})
				case "Session":
					evs = append(evs, Session{Resumed: e.Resumed})
				case "InitPeer":
					evs = append(evs, InitPeer{Peer: p, Info: PeerInfo{Peer: p}})
				case "AddPeer":
					evs = append(evs, AddPeer{Peer: p})
				case "Receive":
					evs = append(evs, Receive{Peer: p, ChannelID: e.Channel})
				case "RemovePeer":
					evs = append(evs, RemovePeer{Peer: p})
				default:
					t.Fatalf("unknown fixture event kind %q", e.Kind)
				}
			}
			err := checkGrammar(evs, f.Complete)
			switch f.Verdict {
			case "accept":
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
			case "reject":
				ge, ok := err.(*grammarError)
				if !ok || f.Index == nil {
					t.Fatalf("accepted (%s), or the fixture has no index: %v", f.Why, err)
				}
				if ge.Index != *f.Index {
					t.Fatalf("rejected at event %d, the fixture says %d (%s): %v", ge.Index, *f.Index, f.Why, err)
				}
			default:
				t.Fatalf("verdict %q", f.Verdict)
			}
		})
	}
}
