package switchboard

import (
	"fmt"
	"strings"
)

// TraceError is a trace that is not (a prefix of) a word of the reactor
// grammar. Index is the first offending event, or len(events) when the trace
// ended before the Stop a complete trace needs.
type TraceError struct {
	Index int
	msg   string
}

func (e *TraceError) Error() string { return e.msg }

// CheckTrace reports whether events, as a reactor received them, are a word
// of the reactor grammar (a prefix of one, unless complete), or a
// *TraceError naming the first event that breaks it. It is the check every
// SDK's conformance suite makes (client/conformance/SCENARIOS.md), and a
// reactor's own tests may make it on what their reactor saw: per peer
// connection the events are
// InitPeer Receive* [AddPeer Receive*] RemovePeer, all between Start and
// Stop; a connection ID is never empty or reused and always names the peer
// its InitPeer named; a node ID has one open connection at a time. A fresh
// Session (Resumed == false) begins a new word; a resumed one is transparent.
// With complete, Stop must have come. The TypeScript and Python checkers make
// the same checks, and all of them run over client/conformance/
// grammar-traces.json (TestGrammarFixtures), rejecting each bad trace at the
// same event.
func CheckTrace(evs []Event, complete bool) error {
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
			return &TraceError{Index: i, msg: fmt.Sprintf("event %d (%s): %s; events: %s", i, eventKind(ev), fmt.Sprintf(format, a...), describeTrace(evs))}
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
		return &TraceError{Index: len(evs), msg: fmt.Sprintf("no Stop; events: %s", describeTrace(evs))}
	}
	return nil
}

// eventKind names an event's kind, for messages.
func eventKind(ev Event) string {
	switch ev.(type) {
	case Start:
		return "Start"
	case Stop:
		return "Stop"
	case InitPeer:
		return "InitPeer"
	case AddPeer:
		return "AddPeer"
	case Receive:
		return "Receive"
	case RemovePeer:
		return "RemovePeer"
	case Session:
		return "Session"
	}
	return fmt.Sprintf("%T", ev)
}

// describeTrace lists the kinds of evs, for messages.
func describeTrace(evs []Event) string {
	kinds := make([]string, len(evs))
	for i, e := range evs {
		kinds[i] = eventKind(e)
	}
	return "[" + strings.Join(kinds, " ") + "]"
}
