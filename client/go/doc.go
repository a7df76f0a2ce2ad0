// Package switchboard is the Go SDK for Switchboard reactors: programs that
// attach to a Switchboard node's reactor gateway (one bidirectional gRPC
// stream, switchboard.gateway.v1.ReactorGatewayService/Attach) and become
// reactors of its Switch, as CometBFT's in-process reactors are.
//
// The import path ends in /go; the package is named switchboard:
//
//	import switchboard "github.com/switchboard-p2p/switchboard/client/go"
//
// # Two styles
//
// The channel style: Attach registers the reactor and returns a *Client
// whose Events channel delivers typed events (Start, InitPeer, AddPeer,
// Receive, RemovePeer, Stop, and the SDK's Session) and whose methods are
// the commands (Send, TrySend, Broadcast, StopPeerForError, ...):
//
//	c, err := switchboard.Attach(ctx, "127.0.0.1:26670", switchboard.Options{
//		Name:     "app",
//		Channels: []switchboard.ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100}},
//	})
//	for ev := range c.Events() {
//		switch e := ev.(type) {
//		case switchboard.Receive:
//			c.Send(ctx, e.Peer, 0x70, reply(e.Message))
//		}
//	}
//
// The callback style, for porting CometBFT reactors: implement Reactor
// (embed BaseReactor) and call Run, which calls InitPeer, AddPeer, Receive,
// RemovePeer, OnStart and OnStop in the reactor grammar's order.
//
// Events are a channel rather than a Go 1.23 iterator (range-over-func):
// the module supports Go 1.22, and a channel composes with select, so a
// reactor can wait on its events, its timers and ctx.Done in one loop (the
// blocksync example asks its peers for their status every second that way).
// The channel is unbuffered: an event counts as taken when the receive
// completes, which is what flow control is built on.
//
// # Flow control
//
// The node sends events only against credit (messages and payload bytes).
// The client grants Options.CreditWindow (default 256 events, 16 MiB) when
// it registers and afterwards returns credit only for events the
// application has taken from Events, in batches of a quarter window; it
// acknowledges the same events (both leave with the next RequestBatch, see
// Batching). So the node never has more than the window
// outstanding beyond what the application consumed, the SDK buffers at most
// the window, and a slow application slows the node's delivery down to the
// channel's OverflowPolicy on the node (BLOCK by default: the peer's
// connection stops being read). A single message larger than the byte
// window still passes: the node lets an event overdraw the byte credit.
//
// # Batching
//
// Every gRPC stream message costs the client and the node far more than its
// bytes, so the client does not write acknowledgements, credit and commands
// one by one. Each stream has one writer goroutine; commands (from any
// goroutine) and the acknowledgement and credit owed are queued for it, and
// each time it writes it takes everything queued into one RequestBatch:
// the acknowledgement (the highest owed), the credit (grants add up), then
// the commands in the order they were queued. The node applies them in
// that order, exactly as if they had been sent one by one. Commands issued
// while the previous message is being written, or by many goroutines at
// once, therefore share a message. The client registers with batch_results,
// and the node answers commands that complete together in one ResultBatch;
// each result reaches its own caller as a lone result would.
//
// To benefit, issue commands concurrently (goroutines, or a fan-out with a
// sync.WaitGroup), or use SendAsync: a loop that waits for each Send to
// return has only one command to send at a time. SendAsync returns once the
// command is queued for the stream and reports the outcome to a callback, so
// one goroutine keeps many messages on their way, in the order of its calls
// (the node keeps that order per peer and channel, a Send waiting for queue
// room included); bound how many it keeps in flight yourself (each holds a
// command slot until its result).
//
// Limits: the node tells its limits in Registered (gateway.proto's Limits)
// and the client keeps to them; a node older than them is held to what
// nodes enforced before (1024 commands, 1 MiB, 64 KiB, 110 MiB). A
// RequestBatch carries at most the node's max_batch_commands (1024) and
// stops taking commands once they reach its max_batch_payload_bytes (1 MiB)
// encoded, or its largest message; what is left goes in the next message. A
// batch holding any command other than Send, TrySend or Broadcast stays
// within the node's max_control_request_bytes (64 KiB), the most it decodes
// for such requests. A single command that cannot fit (larger than the
// node's max_message_bytes or Options.MaxMessageBytes, or another command
// larger than max_control_request_bytes) fails with a *CommandError
// (InvalidArgument) without being sent. Commands take
// one of Options.MaxInflightCommands slots (default 1024, the node's limit
// per stream) before they are queued and keep it until their result comes,
// so at most that many wait to be written; when all are taken, further
// commands wait for a slot until their context ends. A command whose
// context ends before the writer took it is not sent at all.
//
// This needs a node that understands RequestBatch (gateway.proto's
// AttachRequest.batch); an older node ends the stream with InvalidArgument.
//
// # Reconnection
//
// When the stream fails (the node restarts, the connection drops), the
// client re-attaches with exponential backoff (Options.Backoff) and its
// session token. Inside the node's resume window the session resumes:
// events not acknowledged are sent again with their sequence numbers and
// the client drops the ones it already has, so the application sees every
// event once, in order; a Session{Resumed: true} event marks the re-attach.
// Outside the window the node starts a fresh session: the client delivers
// Session{Resumed: false, RefusedReason: ...}, then Start and a snapshot
// (InitPeer and AddPeer per connected peer): forget every peer on it. Run
// does that for you (RemovePeer with ErrSessionReset, no second OnStart).
// Commands wait while the client re-attaches; one still queued when the
// stream failed is sent on the next stream; one that had been written and
// whose result was lost with the stream fails with ErrResultLost and is not
// repeated.
//
// The client ends (Events closes, Done closes, Err says why) when the node
// stops (after Stop; Err is nil), on Close, when Attach's context ends, or
// when the node refuses a re-attach (an *AttachError).
//
// # Errors
//
// A refused registration is an *AttachError and a refused command a
// *CommandError, each with a gRPC code (status.Code works on both) and an
// ErrorReason. An *AttachError's Error() is written for the person running
// the reactor: the reactor, the node, the node's words and, when the SDK
// knows, what to do (Hint), e.g. that the reactor's name is taken on that
// node. While the node cannot be reached, the client says so through
// Options.Logger at Warn (see UnreachableWarningInterval); without a Logger
// those warnings go to slog.Default(). The package switchboardtest provides an in-memory node for
// unit tests of reactors.
package switchboard
