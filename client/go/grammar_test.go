package switchboard

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

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

// TestGrammarFixtures runs CheckTrace over the conformance kit's fixtures,
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
			err := CheckTrace(evs, f.Complete)
			switch f.Verdict {
			case "accept":
				if err != nil {
					t.Fatalf("rejected: %v", err)
				}
			case "reject":
				ge, ok := err.(*TraceError)
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
