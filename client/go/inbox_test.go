package switchboard

import (
	"math/rand"
	"testing"
	"time"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// simNode plays a node that honours credit exactly as the gateway does:
// it sends while it has at least one message and one byte of credit, and
// an event may overdraw the bytes by its own size.
type simNode struct {
	msgs, bytes int64
	nextSeq     uint64
}

// TestInboxKeepsTheCreditInvariant drives the books with random sends,
// takes and flushes, and checks after every step that the node's credit,
// the buffer and the credit owed add up to the window, that nothing is
// granted beyond what was taken plus the window, and that the node never
// stalls while the application waits.
func TestInboxKeepsTheCreditInvariant(t *testing.T) {
	seed := time.Now().UnixNano()
	rng := rand.New(rand.NewSource(seed))
	for round := 0; round < 200; round++ {
		w := Credit{Messages: uint32(1 + rng.Intn(64)), Bytes: uint64(1 + rng.Intn(4096))}
		b := newInbox(w)
		initial := b.beginStream()
		b.freshSession(1)
		node := simNode{msgs: int64(initial.Messages), bytes: int64(initial.Bytes), nextSeq: 1}
		var granted, takenMsgs, grantedBytes, takenBytes int64 = int64(initial.Messages), 0, int64(initial.Bytes), 0
		check := func(step string) {
			t.Helper()
			if got := node.msgs + b.bufMsgs + b.owedMsgs; got != int64(w.Messages) {
				t.Fatalf("seed %d round %d %s: node %d + buffered %d + owed %d != window %d", seed, round, step, node.msgs, b.bufMsgs, b.owedMsgs, w.Messages)
			}
			if got := node.bytes + b.bufBytes + b.owedBytes; got != int64(w.Bytes) {
				t.Fatalf("seed %d round %d %s: bytes node %d + buffered %d + owed %d != window %d", seed, round, step, node.bytes, b.bufBytes, b.owedBytes, w.Bytes)
			}
			if granted > takenMsgs+int64(w.Messages) || grantedBytes > takenBytes+int64(w.Bytes) {
				t.Fatalf("seed %d round %d %s: granted %d msgs/%d bytes beyond taken %d/%d + window", seed, round, step, granted, grantedBytes, takenMsgs, takenBytes)
			}
		}
		for step := 0; step < 500; step++ {
			switch rng.Intn(3) {
			case 0: // the node sends if it may
				if node.msgs >= 1 && node.bytes >= 1 {
					size := rng.Intn(int(w.Bytes)/2 + 2)
					if rng.Intn(20) == 0 {
						size = int(w.Bytes) * 2 // larger than the window: overdraws
					}
					if err := b.add(evRecv(node.nextSeq, "p", "c", make([]byte, size))); err != nil {
						t.Fatal(err)
					}
					node.nextSeq++
					node.msgs--
					node.bytes -= int64(size)
				}
			case 1: // the application takes one
				if _, ok := b.front(); ok {
					takenBytes += b.q[b.head].size
					b.take()
					takenMsgs++
				}
			case 2:
			}
			if ctl, ok := b.flush(); ok {
				node.msgs += int64(ctl.credit.Messages)
				node.bytes += int64(ctl.credit.Bytes)
				granted += int64(ctl.credit.Messages)
				grantedBytes += int64(ctl.credit.Bytes)
				if ctl.ack > b.lastTaken {
					t.Fatalf("acked %d beyond the last taken %d", ctl.ack, b.lastTaken)
				}
			}
			check("step")
			// Liveness: an empty buffer and a stalled node cannot both hold.
			if _, buffered := b.front(); !buffered && (node.msgs < 1 || node.bytes < 1) {
				t.Fatalf("seed %d round %d: stalled with an empty buffer (node %d msgs, %d bytes)", seed, round, node.msgs, node.bytes)
			}
		}
	}
}

func TestInboxResumeLeavesBufferedEventsOutOfTheCredit(t *testing.T) {
	b := newInbox(Credit{Messages: 10, Bytes: 1000})
	b.beginStream()
	b.freshSession(1)
	for i := uint64(1); i <= 4; i++ {
		if err := b.add(evRecv(i, "p", "c", make([]byte, 100))); err != nil {
			t.Fatal(err)
		}
	}
	b.take()
	// New stream: 3 events (300 bytes) still buffered.
	if c := b.beginStream(); c != (Credit{Messages: 7, Bytes: 700}) {
		t.Fatalf("credit %+v, want 7 messages, 700 bytes", c)
	}
	if err := b.resumed(2); err != nil {
		t.Fatal(err)
	}
	if err := b.resumed(6); err == nil {
		t.Fatal("a resume past the last event received must be refused")
	}
	// Events 2..4 come again: discarded, their credit owed back at once.
	for i := uint64(2); i <= 4; i++ {
		_ = b.add(evRecv(i, "p", "c", make([]byte, 100)))
	}
	if b.stats.Duplicates != 3 || b.owedMsgs != 3 || b.owedBytes != 300 || b.bufMsgs != 3 {
		t.Fatalf("after duplicates: %+v owed %d/%d buffered %d", b.stats, b.owedMsgs, b.owedBytes, b.bufMsgs)
	}
}

func TestInboxSkipsUnknownEventKindsInOrder(t *testing.T) {
	b := newInbox(Credit{Messages: 4, Bytes: 100})
	b.beginStream()
	b.freshSession(1)
	_ = b.add(evStart(1))
	if err := b.add(&gatewayv1.Event{Seq: 2, Kind: nil}); err == nil {
		t.Fatal("an event without a kind must be refused")
	}
}

func TestBackoffGrowsToItsCapAndResets(t *testing.T) {
	bo := newBackoffTimer(Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Multiplier: 2})
	var got []time.Duration
	for i := 0; i < 5; i++ {
		got = append(got, bo.wait())
	}
	want := []time.Duration{10, 20, 40, 40, 40}
	for i := range want {
		if got[i] != want[i]*time.Millisecond {
			t.Fatalf("waits %v, want %v ms", got, want)
		}
	}
	bo.reset()
	if d := bo.wait(); d != 10*time.Millisecond {
		t.Fatalf("after reset %v", d)
	}
}
