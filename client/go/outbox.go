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

// Batching limits. Every stream message the client writes after Register
// is one RequestBatch: the acknowledgement, the credit and the commands
// owed at that moment.
const (
	// maxBatchCommands is the protocol's limit on the commands of one
	// RequestBatch (gateway.proto); more queued commands go in further batches.
	maxBatchCommands = 1024
	// maxBatchBytes stops a batch from taking more commands once their
	// encoding reaches 1 MiB: the cost per stream message is amortised long
	// before, and a larger message would only hold back the commands behind
	// it and make the node decode more at once. A single command larger than
	// this goes alone, up to Options.MaxMessageBytes.
	maxBatchBytes = 1 << 20
	// batchOverheadBytes is what a RequestBatch adds around its commands,
	// at most: the AttachRequest tag and length (11 bytes), an Ack (13) and a
	// Credit (19), rounded up.
	batchOverheadBytes = 64
	// maxControlRequestBytes is the node's limit on a request that is not
	// made large by message payloads (the gateway's MAX_CONTROL_MESSAGE_BYTES,
	// server/docs/LIMITS.md): it decodes a larger one only if its commands
	// are all send, try_send or broadcast, and otherwise ends the stream. So
	// a batch holding any other command stays within it.
	maxControlRequestBytes = 64 << 10
)

// outgoing is one command on its way to the node.
type outgoing struct {
	cmd *gatewayv1.Command
	// wireBytes is the command's encoding inside a RequestBatch (tag and length included).
	wireBytes int
	// payload: a send, try_send or broadcast, which may make a request
	// larger than maxControlRequestBytes.
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
}

func newOutbox() *outbox {
	return &outbox{wake: make(chan struct{}, 1), queue: list.New()}
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
// credit and the oldest queued commands, at most maxBatchCommands of them
// and, beyond the first, within budgetBytes, and within
// maxControlRequestBytes unless they are all payload commands. Nil when
// nothing is owed.
func (o *outbox) next(budgetBytes int) *gatewayv1.AttachRequest {
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
	n := min(o.queue.Len(), maxBatchCommands)
	if n > 0 {
		b.Commands = make([]*gatewayv1.Command, 0, n)
	}
	used, allPayload := 0, true
	for e := o.queue.Front(); e != nil && len(b.Commands) < maxBatchCommands; e = o.queue.Front() {
		g := e.Value.(*outgoing)
		if len(b.Commands) > 0 {
			if used+g.wireBytes > budgetBytes {
				break
			}
			if !(allPayload && g.payload) && used+g.wireBytes+batchOverheadBytes > maxControlRequestBytes {
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

// batchBudget is how many bytes of commands a batch takes beyond its first.
func (c *Client) batchBudget() int {
	return min(maxBatchBytes, c.opts.MaxMessageBytes-batchOverheadBytes)
}

// tooLarge says why g cannot be sent at all, even alone in a batch; nil if it can.
func (c *Client) tooLarge(g *outgoing) error {
	switch {
	case g.wireBytes+batchOverheadBytes > c.opts.MaxMessageBytes:
		return &CommandError{Code: codes.InvalidArgument, Reason: ReasonMessageTooLarge, Message: fmt.Sprintf(
			"the command takes %d bytes encoded, more than Options.MaxMessageBytes (%d) allows; it was not sent", g.wireBytes, c.opts.MaxMessageBytes)}
	case !g.payload && g.wireBytes+batchOverheadBytes > maxControlRequestBytes:
		return &CommandError{Code: codes.InvalidArgument, Reason: ReasonInvalidField, Message: fmt.Sprintf(
			"the command takes %d bytes encoded; the node accepts at most %d for commands other than send, try_send and broadcast; it was not sent", g.wireBytes, maxControlRequestBytes)}
	}
	return nil
}

// write is att's only sender after Register: it drains the outbox into
// RequestBatch messages until the stream ends. A failed write means the
// stream is over; it cancels the stream so that the supervisor re-attaches.
func (c *Client) write(att *attachment) {
	defer c.wg.Done()
	defer att.out.close()
	budget := c.batchBudget()
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
			req := att.out.next(budget)
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
