package switchboard

import (
	"fmt"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// Event is one reactor call delivered by Client.Events: Start, InitPeer,
// AddPeer, Receive, RemovePeer, Stop, or the SDK's own Session.
//
// Per peer connection the events form a word of CometBFT's reactor grammar
//
//	Start *(InitPeer *Receive [AddPeer *Receive] RemovePeer) Stop
//
// with the words of different connections interleaved. A Session event with
// Resumed == false starts a new word: forget every peer and expect Start and
// the snapshot (InitPeer, AddPeer per connected peer) again.
type Event interface {
	// Seq is the event's sequence number within its session (0 for Session).
	Seq() uint64
	isEvent()
}

// seqNo carries an event's sequence number.
type seqNo uint64

// Seq is the event's sequence number within its session.
func (s seqNo) Seq() uint64 { return uint64(s) }
func (seqNo) isEvent()      {}

// Start is OnStart: the node started its Switch.
type Start struct{ seqNo }

// Stop is OnStop: the node is stopping; no events follow and Events closes.
type Stop struct{ seqNo }

// InitPeer is a new peer connection: do not send to it yet.
type InitPeer struct {
	seqNo
	Peer Peer
	Info PeerInfo // Info.Peer == Peer
}

// AddPeer is the peer connection started: sending to it is allowed.
type AddPeer struct {
	seqNo
	Peer Peer
}

// Receive is a message from a peer on one of the reactor's channels.
type Receive struct {
	seqNo
	Peer      Peer
	ChannelID byte
	Message   []byte
}

// RemovePeer is the peer connection stopped: nothing more comes from it.
type RemovePeer struct {
	seqNo
	Peer Peer
	// Reason is why, empty for a graceful stop.
	Reason string
}

// Session reports a re-attach after the stream failed (never the first
// attach). Resumed == true: the session went on, nothing was lost or
// repeated. Resumed == false: a fresh session began; RefusedReason says why
// the old one could not be resumed (empty when resuming is disabled), and
// Start plus a snapshot of the connected peers follow.
type Session struct {
	Resumed       bool
	RefusedReason string
}

// Seq is 0: Session is the SDK's event, not the node's.
func (Session) Seq() uint64 { return 0 }
func (Session) isEvent()    {}

// eventFromAPI converts a node event; the second result is its payload size
// in bytes, which is what the node charges against the byte credit.
func eventFromAPI(e *gatewayv1.Event) (Event, int, error) {
	s := seqNo(e.GetSeq())
	switch k := e.GetKind().(type) {
	case *gatewayv1.Event_OnStart:
		return Start{s}, 0, nil
	case *gatewayv1.Event_OnStop:
		return Stop{s}, 0, nil
	case *gatewayv1.Event_InitPeer:
		info := peerInfoFromAPI(k.InitPeer.GetPeer())
		return InitPeer{seqNo: s, Peer: info.Peer, Info: info}, 0, nil
	case *gatewayv1.Event_AddPeer:
		return AddPeer{s, Peer{ID: k.AddPeer.GetPeerId(), ConnectionID: k.AddPeer.GetConnectionId()}}, 0, nil
	case *gatewayv1.Event_Receive:
		r := k.Receive
		if r.GetChannelId() > 255 {
			return nil, 0, fmt.Errorf("%w: event %d: channel %d out of range", ErrProtocol, e.GetSeq(), r.GetChannelId())
		}
		return Receive{s, Peer{ID: r.GetPeerId(), ConnectionID: r.GetConnectionId()}, byte(r.GetChannelId()), r.GetMessage()}, len(r.GetMessage()), nil
	case *gatewayv1.Event_RemovePeer:
		r := k.RemovePeer
		return RemovePeer{s, Peer{ID: r.GetPeerId(), ConnectionID: r.GetConnectionId()}, r.GetReason()}, 0, nil
	case nil:
		return nil, 0, fmt.Errorf("%w: event %d has no kind", ErrProtocol, e.GetSeq())
	default:
		// A kind newer than this SDK: skipped (and acknowledged) rather than fatal.
		return nil, 0, nil
	}
}
