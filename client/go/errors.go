package switchboard

import (
	"errors"
	"fmt"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// ErrorReason says why a command or a registration failed, beyond its gRPC code.
type ErrorReason int32

// The reasons, as in gateway.proto's ErrorReason.
const (
	ReasonUnspecified               = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_UNSPECIFIED)
	ReasonUnknownPeer               = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_UNKNOWN_PEER)
	ReasonPeerRemoved               = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_PEER_REMOVED)
	ReasonChannelNotRegistered      = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_CHANNEL_NOT_REGISTERED)
	ReasonMessageTooLarge           = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_MESSAGE_TOO_LARGE)
	ReasonChannelNotSupportedByPeer = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_CHANNEL_NOT_SUPPORTED_BY_PEER)
	ReasonInvalidAddress            = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_INVALID_ADDRESS)
	ReasonPeerDataFull              = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_PEER_DATA_FULL)
	ReasonInvalidField              = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_INVALID_FIELD)
	ReasonNotRegistered             = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_NOT_REGISTERED)
	ReasonNodeNotRunning            = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_NODE_NOT_RUNNING)
	ReasonTooManyCommands           = ErrorReason(gatewayv1.ErrorReason_ERROR_REASON_TOO_MANY_COMMANDS)
)

// String is the proto name, e.g. "ERROR_REASON_PEER_REMOVED".
func (r ErrorReason) String() string { return gatewayv1.ErrorReason(r).String() }

// CommandError is a command the node refused or could not carry out. The
// stream lives on. Code is a gRPC status code (NotFound, InvalidArgument,
// FailedPrecondition, ResourceExhausted, ...); status.Code(err) returns it.
type CommandError struct {
	Code    codes.Code
	Reason  ErrorReason
	Message string
}

func (e *CommandError) Error() string {
	return fmt.Sprintf("switchboard: command failed: %s (%s): %s", e.Code, e.Reason, e.Message)
}

// GRPCStatus makes status.Code and status.Convert see the command's code.
func (e *CommandError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// AttachError is a registration the node refused: the stream ended with a
// status before (or instead of) Registered. status.Code(err) returns Code.
//
// Its Error() is written for the person running the reactor: the reactor,
// the node, what the node said and, when the SDK knows, what to do (Hint),
// e.g. for a name another reactor holds:
//
//	switchboard: reactor "app": the node at 127.0.0.1:26670 refused it: AlreadyExists: reactor "app" is attached on another stream: the name "app" is taken on that node (by another process, or by another Client in this one): stop that reactor, or give this one another name
type AttachError struct {
	Code    codes.Code
	Reason  ErrorReason // from the status' switchboard-error-reason metadata
	Message string      // the node's own words
	// Reactor and Target name the reactor and the node's address (empty when unknown).
	Reactor string
	Target  string
	// Hint says what to do about it, when the SDK knows ("" otherwise).
	Hint string
}

func (e *AttachError) Error() string {
	var b strings.Builder
	b.WriteString("switchboard: ")
	if e.Reactor == "" {
		b.WriteString("attach refused: ")
	} else {
		where := "the node"
		if e.Target != "" {
			where = "the node at " + e.Target
		}
		if e.Code == codes.Unavailable {
			fmt.Fprintf(&b, "reactor %q: cannot reach %s: ", e.Reactor, where)
		} else {
			fmt.Fprintf(&b, "reactor %q: %s refused it: ", e.Reactor, where)
		}
	}
	b.WriteString(e.Code.String())
	if e.Reason != ReasonUnspecified {
		fmt.Fprintf(&b, " (%s)", e.Reason)
	}
	b.WriteString(": ")
	b.WriteString(e.Message)
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// attachHint says what to do about a refusal (or failure) with code, when
// the SDK knows; message is the node's (it names what is taken).
func attachHint(code codes.Code, message, name, target string) string {
	switch code {
	case codes.AlreadyExists:
		if strings.Contains(message, "channel 0x") {
			return "another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor"
		}
		return fmt.Sprintf("the name %q is taken on that node (by another process, or by another Client in this one): stop that reactor, or give this one another name", name)
	case codes.Unavailable:
		if target == "" {
			target = "the target"
		}
		return fmt.Sprintf("check that the node is running and that %s is its grpc.laddr", target)
	}
	return ""
}

// GRPCStatus makes status.Code and status.Convert see the refusal's code.
func (e *AttachError) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

var (
	// ErrClosed: the client has finished (Close was called, its context
	// ended, the node stopped, or a fatal error occurred); no command can run.
	ErrClosed = errors.New("switchboard: client closed")
	// ErrResultLost: the stream broke after the command was sent and before
	// its result arrived. The node may or may not have carried it out; the
	// SDK does not repeat commands (they are not all idempotent).
	ErrResultLost = errors.New("switchboard: stream lost before the command's result arrived (the command may or may not have run)")
	// ErrNotSent: the stream ended before an asynchronous command was
	// written; it was not sent (SendAsync does not send it on the next
	// stream, which would put it behind commands queued after it).
	ErrNotSent = errors.New("switchboard: stream ended before the command was written; it was not sent")
	// ErrProtocol: the node broke the gateway protocol (a gap in event
	// numbers, an unexpected message). The client ends with this error.
	ErrProtocol = errors.New("switchboard: protocol violation")
	// ErrSessionReset is the reason Run gives RemovePeer for the peers it
	// forgets when a fresh session replaces one that could not be resumed.
	ErrSessionReset = errors.New("switchboard: session reset: the node could not resume the session")
	// ErrNodeGone is the reason Run gives RemovePeer for the peers still
	// connected when the client ends without the node's OnStop.
	ErrNodeGone = errors.New("switchboard: the client ended before the node stopped")
)

// commandErrorFromAPI converts a CommandResult's error.
func commandErrorFromAPI(e *gatewayv1.CommandError) *CommandError {
	return &CommandError{Code: codes.Code(e.GetCode()), Reason: ErrorReason(e.GetReason()), Message: e.GetMessage()}
}

// attachErrorFromStatus converts the status that ended an Attach stream.
func attachErrorFromStatus(st *status.Status, reasonName string) *AttachError {
	reason := ReasonUnspecified
	if v, ok := gatewayv1.ErrorReason_value[reasonName]; ok {
		reason = ErrorReason(v)
	}
	return &AttachError{Code: st.Code(), Reason: reason, Message: st.Message()}
}
