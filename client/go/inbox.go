package switchboard

import (
	"fmt"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// inbox holds the events received from the node and not yet taken by the
// application, and keeps the books of flow control: what the application
// has taken is what earns the node new credit and what gets acknowledged.
//
// Credit. Per stream, with the window W (messages, and likewise bytes):
//
//	node's remaining credit + events buffered here + credit owed = W
//
// Register grants W minus what is buffered; every event the application
// takes (and every duplicate discarded after a resume) moves one message and
// its payload bytes to "owed"; owed credit is granted in batches of a
// quarter window. So the node never has more than W events outstanding
// beyond what the application consumed, this buffer holds at most W events
// (and W bytes plus one message's overdraw), and since a stalled node means
// owed = W - buffered, nothing can deadlock: an empty buffer always owes a
// full window and flushes it. (When stopping, the node sends its last
// events without credit; they are bounded by its own event queue.)
//
// Acknowledgements cover only events the application has taken, so after
// a resume the node sends again exactly what the application has not seen,
// plus events still buffered here, which are discarded by sequence number.
//
// inbox is not safe for concurrent use; Client guards it with its mutex.
type inbox struct {
	windowMsgs, windowBytes int64
	// q[head:] are the buffered events, oldest first.
	q    []queued
	head int
	// bufMsgs and bufBytes count the buffered node events (not Session).
	bufMsgs, bufBytes int64
	// owedMsgs and owedBytes are credit earned and not yet granted; owedBytes
	// is negative while a large message's overdraw is being paid back.
	owedMsgs, owedBytes int64
	// gen numbers sessions; a fresh session restarts sequence numbers.
	gen uint64
	// lastSeq is the last sequence number received in the current session.
	lastSeq uint64
	// lastTaken is the last sequence number of the current session the
	// application took; lastAcked the last one acknowledged.
	lastTaken, lastAcked uint64
	// stopSeen is set once OnStop arrived.
	stopSeen bool
	stats    FlowStats
}

// FlowStats are the client's flow-control counters since Attach.
type FlowStats struct {
	// EventsReceived counts node events received, duplicates included.
	EventsReceived uint64
	// Duplicates counts events received again after a resume and discarded.
	Duplicates uint64
	// EventsTaken counts events the application took from Events (Session included).
	EventsTaken uint64
	// CreditMessages and CreditBytes total the credit granted, initial credit included.
	CreditMessages uint64
	CreditBytes    uint64
	// Streams counts the streams the node answered with Registered (1 +
	// re-attaches); FreshSessions counts the sessions started (1 + refused
	// resumes). CreditMessages includes the initial credit of attempts the
	// node refused.
	Streams       uint64
	FreshSessions uint64
}

type queued struct {
	ev   Event
	gen  uint64
	seq  uint64
	size int64
	node bool // false for the SDK's own Session event
}

// maxBufferedEvents bounds the buffer whatever the node does: credit keeps
// it within the window, except the events a stopping node flushes without
// credit (bounded by its grpc.event_queue_max_messages, 10000 by default).
const maxBufferedEventsBeyondWindow = 100_000

func newInbox(window Credit) inbox {
	return inbox{windowMsgs: int64(window.Messages), windowBytes: int64(window.Bytes)}
}

// beginStream returns the initial credit for a new stream: the window less
// what is buffered. Credit does not carry over from one stream to the next.
func (b *inbox) beginStream() Credit {
	b.owedMsgs = min(0, b.windowMsgs-b.bufMsgs)
	b.owedBytes = min(0, b.windowBytes-b.bufBytes)
	c := Credit{Messages: uint32(max(0, b.windowMsgs-b.bufMsgs)), Bytes: uint64(max(0, b.windowBytes-b.bufBytes))}
	b.stats.CreditMessages += uint64(c.Messages)
	b.stats.CreditBytes += c.Bytes
	return c
}

// freshSession starts numbering anew; events still buffered belong to the
// old session and will not be acknowledged.
func (b *inbox) freshSession(nextSeq uint64) {
	b.stats.FreshSessions++
	b.gen++
	b.lastSeq = nextSeq - 1
	b.lastTaken, b.lastAcked = 0, 0
	b.stopSeen = false
}

// resumed checks the node resumes where this side can go on without a gap.
func (b *inbox) resumed(nextSeq uint64) error {
	if nextSeq == 0 || nextSeq > b.lastSeq+1 {
		return fmt.Errorf("%w: resumed at event %d but the last event received was %d", ErrProtocol, nextSeq, b.lastSeq)
	}
	return nil
}

// add takes one event from the node: a duplicate is discarded (its credit
// is owed back at once), a gap is a protocol violation.
func (b *inbox) add(e *gatewayv1.Event) error {
	b.stats.EventsReceived++
	seq := e.GetSeq()
	if seq <= b.lastSeq {
		b.stats.Duplicates++
		b.owedMsgs++
		b.owedBytes += int64(len(e.GetReceive().GetMessage()))
		return nil
	}
	if seq != b.lastSeq+1 {
		return fmt.Errorf("%w: event %d follows event %d", ErrProtocol, seq, b.lastSeq)
	}
	ev, size, err := eventFromAPI(e)
	if err != nil {
		return err
	}
	b.lastSeq = seq
	if b.bufMsgs >= b.windowMsgs+maxBufferedEventsBeyondWindow {
		return fmt.Errorf("%w: more than %d events buffered: the node ignores credit", ErrProtocol, b.bufMsgs)
	}
	if _, ok := ev.(Stop); ok {
		b.stopSeen = true
	}
	b.q = append(b.q, queued{ev: ev, gen: b.gen, seq: seq, size: int64(size), node: true})
	b.bufMsgs++
	b.bufBytes += int64(size)
	return nil
}

// announce queues the SDK's own Session event after what is buffered.
func (b *inbox) announce(s Session) {
	b.q = append(b.q, queued{ev: s, gen: b.gen})
}

// front is the oldest buffered event. Events of a kind this SDK does not
// know (ev == nil) are passed over: taken, so acknowledged in order.
func (b *inbox) front() (Event, bool) {
	for b.head < len(b.q) && b.q[b.head].ev == nil {
		b.take()
	}
	if b.head == len(b.q) {
		return nil, false
	}
	return b.q[b.head].ev, true
}

// take removes the oldest buffered event: the application has it.
func (b *inbox) take() {
	e := b.q[b.head]
	b.q[b.head] = queued{}
	b.head++
	if b.head == len(b.q) {
		b.q, b.head = b.q[:0], 0
	} else if b.head >= 1024 && b.head*2 >= len(b.q) {
		b.q = append(b.q[:0:0], b.q[b.head:]...)
		b.head = 0
	}
	if e.ev != nil {
		b.stats.EventsTaken++
	}
	if !e.node {
		return
	}
	b.bufMsgs--
	b.bufBytes -= e.size
	b.owedMsgs++
	b.owedBytes += e.size
	if e.gen == b.gen && e.seq > b.lastTaken {
		b.lastTaken = e.seq
	}
}

// control is what to send the node now.
type control struct {
	ack    uint64 // 0: none
	credit Credit // zero: none
}

// flush returns the acknowledgement and credit due once a quarter window
// of credit is owed (in messages or bytes), and books them as sent.
func (b *inbox) flush() (control, bool) {
	if b.owedMsgs < max(1, b.windowMsgs/4) && b.owedBytes < max(1, b.windowBytes/4) {
		return control{}, false
	}
	var c control
	if b.lastTaken > b.lastAcked {
		c.ack = b.lastTaken
		b.lastAcked = b.lastTaken
	}
	if b.owedMsgs > 0 {
		c.credit.Messages = uint32(b.owedMsgs)
		b.owedMsgs = 0
	}
	if b.owedBytes > 0 {
		c.credit.Bytes = uint64(b.owedBytes)
		b.owedBytes = 0
	}
	b.stats.CreditMessages += uint64(c.credit.Messages)
	b.stats.CreditBytes += c.credit.Bytes
	return c, true
}
