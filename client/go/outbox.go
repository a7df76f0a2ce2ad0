package switchboard

import (
	"container/list"
	"fmt"
	"runtime"
	"sync"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// Batching. Every stream message the client writes after Register is one
// RequestBatch: the acknowledgement, the credit and the commands owed at that
// moment, within the limits the node told in Registered.

// batchOverheadBytes is what a RequestBatch adds around its commands, at
// most: the AttachRequest tag and length (11 bytes), an Ack (13) and a
// Credit (19), rounded up.
const batchOverheadBytes = 64

// limits are what the node accepts on a stream: Registered.limits, each
// field the node left unset taken from fallbackLimits.
type limits struct {
	// maxBatchCommands: the commands of one RequestBatch; the node runs
	// none of a batch with more. More queued commands go in further batches.
	maxBatchCommands int
	// maxBatchBytes: a batch takes no more commands once their encoding
	// reaches this (the node's max_batch_payload_bytes): a larger message
	// would only hold back the commands behind it. A single command larger
	// than this goes alone, up to maxMessageBytes.
	maxBatchBytes int
	// maxControlRequestBytes: the node decodes a larger request only if
	// its commands are all send, try_send or broadcast, and otherwise ends
	// the stream; so a batch holding any other command stays within it.
	maxControlRequestBytes int
	// maxMessageBytes: the largest request the node receives, and no more
	// than Options.MaxMessageBytes (the client's own channel limit).
	maxMessageBytes int
}

// fallbackLimits are what nodes enforced before they told their limits in
// Registered: used only for a node that tells none.
var fallbackLimits = limits{
	maxBatchCommands:       1024,
	maxBatchBytes:          1 << 20,
	maxControlRequestBytes: 64 << 10,
	maxMessageBytes:        110 << 20,
}

// limitsFrom reads the limits a Registered told (nil from a node older
// than them), within the client's own largest message ownMax.
func limitsFrom(told *gatewayv1.Limits, ownMax int) limits {
	pick := func(v uint32, fallback int) int {
		if v == 0 {
			return fallback
		}
		return int(v)
	}
	return limits{
		maxBatchCommands:       pick(told.GetMaxBatchCommands(), fallbackLimits.maxBatchCommands),
		maxBatchBytes:          pick(told.GetMaxBatchPayloadBytes(), fallbackLimits.maxBatchBytes),
		maxControlRequestBytes: pick(told.GetMaxControlRequestBytes(), fallbackLimits.maxControlRequestBytes),
		maxMessageBytes:        min(pick(told.GetMaxMessageBytes(), fallbackLimits.maxMessageBytes), ownMax),
	}
}

// batchBudget is how many bytes of commands a batch takes beyond its first.
func (l limits) batchBudget() int {
	return min(l.maxBatchBytes, l.maxMessageBytes-batchOverheadBytes)
}

// outgoing is one command on its way to the node.
type outgoing struct {
	cmd *gatewayv1.Command
	// wireBytes is the command's encoding inside a RequestBatch (tag and length included).
	wireBytes int
	// payload: a send, try_send or broadcast, which may make a request
	// larger than the node's maxControlRequestBytes.
	payload bool
	// elem is its place in the outbox queue; nil once the writer took it
	// (or it was withdrawn). Guarded by outbox.mu.
	elem *list.Element
}

// newOutgoing prepares cmd (its request ID set) for an outbox.
func newOutgoing(cmd *gatewayv1.Command) *outgoing {
	g := &outgoing{cmd: cmd, wireBytes: protowire.SizeTag(3) + protowire.SizeBytes(proto.Size(cmd))}
	switch cmd.GetKind().(type) {
	case *gatewayv1.Command_Send, *gatewayv1.Command_TrySend, *gatewayv1.Command_Broadcast:
		g.payload = true
	}
	return g
}

// outbox holds what the client has to send on one stream; one goroutine
// (Client.write) drains it into RequestBatch messages, so that what piles up
// while a message is being written leaves together in the next one.
//
// Bounds: commands are queued only while holding one of the client's
// Options.MaxInflightCommands slots, so the queue holds at most that many
// (callers wait for a slot when all are taken, until their context ends);
// the acknowledgement and the credit owed are one merged value each.
type outbox struct {
	mu sync.Mutex
	// wake (capacity 1) tells the writer there is something to send.
	wake chan struct{}
	// ack is the highest event sequence number to acknowledge (0: none).
	ack uint64
	// credit is the credit granted and not yet written; grants add up.
	credit Credit
	// queue holds *outgoing commands in the order they were queued.
	queue *list.List
	// closed is set when the writer stopped: nothing more leaves.
	closed bool
	// lim is what the stream's node accepts (fixed per stream).
	lim limits
}

func newOutbox(lim limits) *outbox {
	return &outbox{wake: make(chan struct{}, 1), queue: list.New(), lim: lim}
}

func (o *outbox) signal() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// control adds an acknowledgement and a credit grant to the next batch. On
// a closed outbox it does nothing: credit does not carry over to the next
// stream, which starts its own books.
func (o *outbox) control(ctl control) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return
	}
	o.ack = max(o.ack, ctl.ack)
	o.credit.Messages += ctl.credit.Messages
	o.credit.Bytes += ctl.credit.Bytes
	o.signal()
}

// push queues a command; false if the writer has stopped (the stream is ending).
func (o *outbox) push(g *outgoing) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closed {
		return false
	}
	g.elem = o.queue.PushBack(g)
	o.signal()
	return true
}

// withdraw takes a command back if the writer has not taken it yet, and
// reports whether it did: true means the command never left, false that it
// was written (or was being written when the stream failed).
func (o *outbox) withdraw(g *outgoing) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if g.elem == nil {
		return false
	}
	o.queue.Remove(g.elem)
	g.elem = nil
	return true
}

// queued counts the commands waiting for the writer.
func (o *outbox) queued() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.queue.Len()
}

// close stops the outbox: push fails from now on.
func (o *outbox) close() {
	o.mu.Lock()
	o.closed = true
	o.mu.Unlock()
}

// next takes what is owed into one RequestBatch: the acknowledgement, the
// credit and the oldest queued commands, at most the node's
// maxBatchCommands of them and, beyond the first, within its batch budget,
// and within its maxControlRequestBytes unless they are all payload
// commands. Nil when nothing is owed.
func (o *outbox) next() *gatewayv1.AttachRequest {
	o.mu.Lock()
	defer o.mu.Unlock()
	b := &gatewayv1.RequestBatch{}
	if o.ack > 0 {
		b.Ack = &gatewayv1.Ack{EventSeq: o.ack}
		o.ack = 0
	}
	if o.credit != (Credit{}) {
		b.Credit = &gatewayv1.Credit{Messages: o.credit.Messages, Bytes: o.credit.Bytes}
		o.credit = Credit{}
	}
	lim := o.lim
	budgetBytes := lim.batchBudget()
	n := min(o.queue.Len(), lim.maxBatchCommands)
	if n > 0 {
		b.Commands = make([]*gatewayv1.Command, 0, n)
	}
	used, allPayload := 0, true
	for e := o.queue.Front(); e != nil && len(b.Commands) < lim.maxBatchCommands; e = o.queue.Front() {
		g := e.Value.(*outgoing)
		if len(b.Commands) > 0 {
			if used+g.wireBytes > budgetBytes {
				break
			}
			if !(allPayload && g.payload) && used+g.wireBytes+batchOverheadBytes > lim.maxControlRequestBytes {
				break
			}
		}
		used += g.wireBytes
		allPayload = allPayload && g.payload
		b.Commands = append(b.Commands, g.cmd)
		o.queue.Remove(e)
		g.elem = nil
	}
	if b.Ack == nil && b.Credit == nil && len(b.Commands) == 0 {
		return nil
	}
	return &gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Batch{Batch: b}}
}

// tooLarge says why g cannot be sent at all, even alone in a batch, to the
// node the client is attached to (its limits from the latest Registered);
// nil if it can.
func (c *Client) tooLarge(g *outgoing) error {
	c.mu.Lock()
	lim := c.limits
	c.mu.Unlock()
	switch {
	case g.wireBytes+batchOverheadBytes > lim.maxMessageBytes:
		return &CommandError{Code: codes.InvalidArgument, Reason: ReasonMessageTooLarge, Message: fmt.Sprintf(
			"the command takes %d bytes encoded, more than the %d bytes of the largest message (the node's grpc.max_message_bytes, or Options.MaxMessageBytes if smaller); it was not sent", g.wireBytes, lim.maxMessageBytes)}
	case !g.payload && g.wireBytes+batchOverheadBytes > lim.maxControlRequestBytes:
		return &CommandError{Code: codes.InvalidArgument, Reason: ReasonInvalidField, Message: fmt.Sprintf(
			"the command takes %d bytes encoded; the node accepts at most %d for commands other than send, try_send and broadcast; it was not sent", g.wireBytes, lim.maxControlRequestBytes)}
	}
	return nil
}

// write is att's only sender after Register: it drains the outbox into
// RequestBatch messages until the stream ends. A failed write means the
// stream is over; it cancels the stream so that the supervisor re-attaches.
func (c *Client) write(att *attachment) {
	defer c.wg.Done()
	defer att.out.close()
	for {
		select {
		case <-att.out.wake:
		case <-att.broken:
			return
		}
		// Let goroutines that are already runnable (a loop of concurrent
		// sends) queue their commands first, so they leave together.
		runtime.Gosched()
		for {
			req := att.out.next()
			if req == nil {
				break
			}
			if err := att.stream.Send(req); err != nil {
				att.cancel()
				return
			}
		}
	}
}
