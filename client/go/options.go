package switchboard

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc"
)

// Defaults, in one place. Each names its unit and says why.
const (
	// DefaultCreditWindowMessages is how many events the node may send ahead
	// of the application: enough to keep a busy reactor's pipeline full
	// across a round trip, small enough to bound the SDK's buffer.
	DefaultCreditWindowMessages = 256
	// DefaultCreditWindowBytes bounds the payload bytes of events received
	// but not yet taken by the application (one message may exceed it: the
	// node lets an event overdraw the byte credit by its own size).
	DefaultCreditWindowBytes = 16 << 20
	// DefaultMaxInflightCommands is the node's own limit of commands in
	// progress per stream (MAX_INFLIGHT_COMMANDS_PER_STREAM); further
	// commands wait for a slot instead of being refused by the node. It also
	// bounds the commands queued for the stream's writer.
	DefaultMaxInflightCommands = 1024
	// DefaultMaxMessageBytes is the largest gRPC message either way: the
	// node's grpc.max_message_bytes default (110 MiB), so that a block of
	// CometBFT's largest size (104857600 bytes) fits.
	DefaultMaxMessageBytes = 110 << 20
	// DefaultBackoffInitial is the first wait before re-attaching.
	DefaultBackoffInitial = 100 * time.Millisecond
	// DefaultBackoffMax caps the wait between attempts: well inside the
	// node's default resume window (30 s), so a session survives a short outage.
	DefaultBackoffMax = 5 * time.Second
	// DefaultBackoffMultiplier grows the wait after each failed attempt.
	DefaultBackoffMultiplier = 2.0
	// DefaultBackoffJitter randomises each wait by ±20% so that many
	// reactors do not re-attach in lock step.
	DefaultBackoffJitter = 0.2
	// UnreachableWarningInterval: while the node cannot be reached, the
	// client logs a warning at the first failed attempt and then at most
	// this often (attempts run every DefaultBackoffMax at most, so about
	// every sixth), so that it is never silent and never floods its log.
	UnreachableWarningInterval = 30 * time.Second
)

// OverflowPolicy is what the node does when a channel's events do not fit
// the reactor's event queue on the node.
type OverflowPolicy int32

const (
	// OverflowDefault leaves the choice to the node (grpc.default_overflow_policy, BLOCK unless configured).
	OverflowDefault OverflowPolicy = 0
	// OverflowBlock stops reading the sending peer's connection until there
	// is room, as when a Go reactor's Receive has not returned.
	OverflowBlock OverflowPolicy = 1
	// OverflowDropNewest drops the message that did not fit.
	OverflowDropNewest OverflowPolicy = 2
	// OverflowDropOldest drops the oldest queued message of the same channel.
	OverflowDropOldest OverflowPolicy = 3
	// OverflowDisconnectPeer disconnects the peer whose message did not fit.
	OverflowDisconnectPeer OverflowPolicy = 4
)

// ChannelDescriptor describes a channel the reactor handles, as CometBFT's
// conn.ChannelDescriptor does. Zero capacities mean the node's defaults.
type ChannelDescriptor struct {
	ID       byte
	Priority int // relative share of the connection's send bandwidth; > 0
	// SendQueueCapacity is the messages queued per peer before Send waits (0: 1).
	SendQueueCapacity int
	// RecvBufferCapacity is the initial reassembly buffer in bytes (0: 4096).
	RecvBufferCapacity int
	// RecvMessageCapacity is the largest message accepted, in bytes (0: 22020096).
	RecvMessageCapacity int
	// OverflowPolicy applies when this channel's events do not fit the
	// reactor's queue on the node.
	OverflowPolicy OverflowPolicy
}

// Credit is an amount of flow-control credit: events and payload bytes.
type Credit struct {
	Messages uint32
	Bytes    uint64
}

// Backoff paces re-attach attempts: Initial, then times Multiplier after
// each failure, at most Max, each randomised by ±Jitter. Zero fields take
// the defaults (DefaultBackoff*).
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64 // 0..1
}

// Options configure Attach and Run.
type Options struct {
	// Name of the reactor: unique per node; the node's --grpc.reactors
	// lists the names it waits for before starting its Switch. Required.
	Name string
	// Channels the reactor handles; at least one. Run fills them from
	// Reactor.GetChannels when empty.
	Channels []ChannelDescriptor
	// CreditWindow bounds the events (and their payload bytes) the node
	// may send beyond what the application has taken from Events. Zero
	// fields take DefaultCreditWindowMessages / DefaultCreditWindowBytes.
	CreditWindow Credit
	// DisableResume makes every re-attach start a fresh session instead of
	// resuming the last one with its session token. Resuming is on by default.
	DisableResume bool
	// Backoff paces re-attach attempts after the stream fails.
	Backoff Backoff
	// MaxInflightCommands bounds commands awaiting their result, queued
	// for the writer or sent; further commands wait for a slot until their
	// context ends (default DefaultMaxInflightCommands). Above the node's
	// limit (1024 in progress per stream) the node refuses the excess with
	// ResourceExhausted (ReasonTooManyCommands).
	MaxInflightCommands int
	// MaxMessageBytes is the largest gRPC message the client's channel
	// sends or receives (default DefaultMaxMessageBytes). The client sends
	// nothing larger than the node's own limit either (Registered.limits).
	// A command that does not fit in one fails with a *CommandError
	// (InvalidArgument, ReasonMessageTooLarge) without being sent.
	MaxMessageBytes int
	// TLS, when set, secures the connection; nodes listening beyond
	// loopback require it (grpc.tls_cert_file). Nil: plaintext, as for a
	// node on 127.0.0.1 or a unix:// socket.
	TLS *tls.Config
	// Token, when set, is sent with every call as "authorization: Bearer
	// <token>", for nodes with a grpc.credentials_file.
	Token string
	// DialOptions are added after the SDK's own (transport credentials,
	// message size limits, connection backoff), so they may override them.
	DialOptions []grpc.DialOption
	// Logger receives connection and session changes: at Warn what the
	// person running the reactor must know (the node cannot be reached —
	// at the first failed attempt, then every UnreachableWarningInterval,
	// naming the target and the next retry —, the stream failed for good),
	// at Info the rest (the node reached again, re-attaches, sessions).
	// Nil: Warn and above go to slog.Default(), the rest is discarded; pass
	// a Logger with a discarding handler for silence.
	Logger *slog.Logger

	// clock replaces time.Now in the unreachable-node reports (tests).
	clock func() time.Time
}

// OptionsError says which option is invalid.
type OptionsError struct {
	Field   string
	Problem string
}

func (e *OptionsError) Error() string {
	return fmt.Sprintf("switchboard: option %s: %s", e.Field, e.Problem)
}

// withDefaults validates o and fills in the defaults.
func (o Options) withDefaults() (Options, error) {
	if o.Name == "" {
		return o, &OptionsError{"Name", "required"}
	}
	if len(o.Channels) == 0 {
		return o, &OptionsError{"Channels", "at least one channel is required"}
	}
	for i, c := range o.Channels {
		if c.Priority < 0 || c.SendQueueCapacity < 0 || c.RecvBufferCapacity < 0 || c.RecvMessageCapacity < 0 {
			return o, &OptionsError{fmt.Sprintf("Channels[%d]", i), "capacities and priority must not be negative"}
		}
	}
	if o.CreditWindow.Messages == 0 {
		o.CreditWindow.Messages = DefaultCreditWindowMessages
	}
	if o.CreditWindow.Bytes == 0 {
		o.CreditWindow.Bytes = DefaultCreditWindowBytes
	}
	if o.CreditWindow.Bytes > 1<<40 {
		return o, &OptionsError{"CreditWindow.Bytes", "at most 1 TiB"}
	}
	if o.MaxInflightCommands == 0 {
		o.MaxInflightCommands = DefaultMaxInflightCommands
	}
	if o.MaxInflightCommands < 0 {
		return o, &OptionsError{"MaxInflightCommands", "must be positive"}
	}
	if o.MaxMessageBytes == 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.MaxMessageBytes < 0 {
		return o, &OptionsError{"MaxMessageBytes", "must be positive"}
	}
	b := &o.Backoff
	if b.Initial == 0 {
		b.Initial = DefaultBackoffInitial
	}
	if b.Max == 0 {
		b.Max = DefaultBackoffMax
	}
	if b.Multiplier == 0 {
		b.Multiplier = DefaultBackoffMultiplier
	}
	if b.Jitter == 0 {
		b.Jitter = DefaultBackoffJitter
	}
	switch {
	case b.Initial < 0 || b.Max < b.Initial:
		return o, &OptionsError{"Backoff", "need 0 < Initial <= Max"}
	case b.Multiplier < 1:
		return o, &OptionsError{"Backoff.Multiplier", "must be at least 1"}
	case b.Jitter < 0 || b.Jitter > 1:
		return o, &OptionsError{"Backoff.Jitter", "must be within 0..1"}
	}
	if o.Logger == nil {
		o.Logger = slog.New(minLevel{slog.LevelWarn, slog.Default().Handler()})
	}
	if o.clock == nil {
		o.clock = time.Now
	}
	return o, nil
}

// minLevel passes records at min and above to h, and drops the rest.
type minLevel struct {
	min slog.Level
	h   slog.Handler
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.h.Enabled(ctx, l)
}
func (m minLevel) Handle(ctx context.Context, r slog.Record) error { return m.h.Handle(ctx, r) }
func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler           { return minLevel{m.min, m.h.WithAttrs(as)} }
func (m minLevel) WithGroup(g string) slog.Handler                 { return minLevel{m.min, m.h.WithGroup(g)} }
