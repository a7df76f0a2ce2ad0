package switchboard

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// reasonMetadataKey is the trailer in which the node names an ErrorReason.
const reasonMetadataKey = "switchboard-error-reason"

// Client is a reactor attached to a node: it receives the reactor's events
// on Events and sends commands (Send, Broadcast, StopPeerForError, ...).
// It re-attaches by itself when the stream fails. All methods are safe for
// concurrent use.
type Client struct {
	opts Options
	log  *slog.Logger
	conn *grpc.ClientConn
	api  gatewayv1.ReactorGatewayServiceClient

	// target is the node's address as given to Attach, for messages.
	target string
	// unreachable reports attempts that found the node unreachable (used by
	// Attach, then by supervise: one goroutine at a time).
	unreachable *unreachable

	// ctx is the client's lifetime: Attach's context, cancelled by Close.
	ctx    context.Context
	cancel context.CancelFunc
	// events is unbuffered: a completed send is an event the application took.
	events chan Event
	// wake (capacity 1) tells the delivery goroutine that something changed.
	wake chan struct{}
	// slots bounds the commands awaiting results.
	slots  chan struct{}
	nextID atomic.Uint64
	wg     sync.WaitGroup
	done   chan struct{}

	mu sync.Mutex
	in inbox
	// att is the current stream, nil while re-attaching.
	att *attachment
	// attChanged is closed (and replaced) whenever att changes or the client finishes.
	attChanged chan struct{}
	token      string
	nodeInfo   NodeInfo
	// limits are what the node accepts, from the latest Registered.
	limits   limits
	finished bool
	closed   bool // Close was called
	err      error
}

// attachment is one Attach stream that has been answered with Registered.
type attachment struct {
	stream gatewayv1.ReactorGatewayService_AttachClient
	cancel context.CancelFunc
	// out is what waits to be written; Client.write is the stream's only
	// sender after Register (gRPC allows one sender at a time).
	out *outbox
	// pending maps request IDs to their result; nil once the stream broke (guarded by Client.mu).
	pending map[uint64]chan *gatewayv1.CommandResult
	// broken is closed when the stream has ended.
	broken chan struct{}
}

// bearerToken sends "authorization: Bearer <token>" with each call. Without
// TLS it is sent in the clear, which nodes allow on loopback and unix sockets only.
type bearerToken struct {
	token  string
	secure bool
}

func (b bearerToken) GetRequestMetadata(context.Context, ...string) (map[string]string, error) {
	return map[string]string{"authorization": "Bearer " + b.token}, nil
}

func (b bearerToken) RequireTransportSecurity() bool { return b.secure }

// Attach connects to the node's reactor gateway at target ("host:port",
// "tcp://host:port" or "unix:///path"), registers the reactor and returns
// once the node has answered. A refusal is returned as an *AttachError
// (status.Code(err) gives its code: AlreadyExists, InvalidArgument,
// FailedPrecondition, ...); while the node is unreachable (Unavailable) Attach
// retries with backoff until ctx ends, and says so through Options.Logger at
// Warn (at the first failed attempt, then every UnreachableWarningInterval).
// An *AttachError's Error() names the reactor, the node and, when the SDK
// knows, what to do (Hint): e.g. that the name is taken on that node.
//
// ctx bounds the client's whole life: when it ends, the client closes as by
// Close. Later stream failures are handled by re-attaching (see Options).
func Attach(ctx context.Context, target string, opts Options) (*Client, error) {
	o, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	dial := []grpc.DialOption{
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(o.MaxMessageBytes), grpc.MaxCallSendMsgSize(o.MaxMessageBytes)),
		// Reconnect the channel at the pace of our own re-attach backoff
		// (gRPC's default starts at 1 s and grows to 120 s).
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: o.Backoff.Initial, Multiplier: o.Backoff.Multiplier, Jitter: o.Backoff.Jitter, MaxDelay: o.Backoff.Max},
			MinConnectTimeout: 5 * time.Second,
		}),
	}
	if o.TLS != nil {
		dial = append(dial, grpc.WithTransportCredentials(credentials.NewTLS(o.TLS)))
	} else {
		dial = append(dial, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if o.Token != "" {
		dial = append(dial, grpc.WithPerRPCCredentials(bearerToken{token: o.Token, secure: o.TLS != nil}))
	}
	dial = append(dial, o.DialOptions...)
	conn, err := grpc.NewClient(strings.TrimPrefix(target, "tcp://"), dial...)
	if err != nil {
		return nil, fmt.Errorf("switchboard: %w", err)
	}
	lifetime, cancel := context.WithCancel(ctx)
	c := &Client{
		opts:       o,
		log:        o.Logger.With("reactor", o.Name),
		target:     strings.TrimPrefix(target, "tcp://"),
		conn:       conn,
		api:        gatewayv1.NewReactorGatewayServiceClient(conn),
		ctx:        lifetime,
		cancel:     cancel,
		events:     make(chan Event),
		wake:       make(chan struct{}, 1),
		slots:      make(chan struct{}, o.MaxInflightCommands),
		done:       make(chan struct{}),
		in:         newInbox(o.CreditWindow),
		limits:     limitsFrom(nil, o.MaxMessageBytes),
		attChanged: make(chan struct{}),
	}
	c.unreachable = newUnreachable(c.log, o.Name, c.target, UnreachableWarningInterval, o.clock)
	bo := newBackoffTimer(o.Backoff)
	var att *attachment
	for {
		att, err = c.attachOnce()
		if err == nil {
			break
		}
		if ctx.Err() != nil || !retryable(err, true) {
			cancel()
			_ = conn.Close()
			if ctx.Err() != nil && err != nil {
				return nil, fmt.Errorf("switchboard: attach: %w (last attempt: %v)", ctx.Err(), err)
			}
			return nil, err
		}
		d := bo.wait()
		c.unreachable.failed(err, d)
		if !sleep(lifetime, d) {
			cancel()
			_ = conn.Close()
			return nil, fmt.Errorf("switchboard: attach: %w (last attempt: %v)", ctx.Err(), err)
		}
	}
	c.wg.Add(2)
	go c.supervise(att)
	go c.deliver()
	go func() {
		c.wg.Wait()
		_ = c.conn.Close()
		close(c.done)
	}()
	return c, nil
}

// Events delivers the reactor's events in order. It is closed when the
// client has finished: after Stop (the node stopped), after Close, when
// Attach's context ended, or on a fatal error (see Err). Events the
// application has not taken are not acknowledged and earn no credit; take
// them promptly (or the node applies the channels' OverflowPolicy).
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed once the client has finished and released its connection.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err says why the client finished, once Done is closed: nil after the
// node's Stop or Close, the context's error when Attach's context ended,
// an *AttachError when re-attaching was refused, or an error wrapping
// ErrProtocol.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// NodeInfo is the node's description from the latest Registered.
func (c *Client) NodeInfo() NodeInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodeInfo
}

// Stats returns the flow-control counters.
func (c *Client) Stats() FlowStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.in.stats
}

// Close ends the stream and the client, discarding events not yet taken,
// and waits until its goroutines have returned. Commands in progress fail
// with ErrClosed or ErrResultLost. Close is idempotent and returns nil.
func (c *Client) Close() error {
	c.mu.Lock()
	if !c.finished {
		c.closed = true
	}
	c.mu.Unlock()
	c.cancel()
	<-c.done
	return nil
}

// attachOnce opens a stream, registers, and waits for Registered.
func (c *Client) attachOnce() (*attachment, error) {
	sctx, scancel := context.WithCancel(c.ctx)
	stream, err := c.api.Attach(sctx)
	if err != nil {
		scancel()
		return nil, c.refusal(c.streamError(nil, err))
	}
	c.mu.Lock()
	credit := c.in.beginStream()
	token := c.token
	if c.opts.DisableResume {
		token = ""
	}
	c.mu.Unlock()
	reg := &gatewayv1.Register{
		ReactorName:   c.opts.Name,
		Channels:      channelsToAPI(c.opts.Channels),
		SessionToken:  token,
		InitialCredit: &gatewayv1.Credit{Messages: credit.Messages, Bytes: credit.Bytes},
		// Results may come several to a ResultBatch.
		BatchResults: true,
	}
	// A failed Send means the stream is over; Recv tells why.
	_ = stream.Send(&gatewayv1.AttachRequest{Msg: &gatewayv1.AttachRequest_Register{Register: reg}})
	resp, err := stream.Recv()
	if err != nil {
		scancel()
		if errors.Is(err, io.EOF) && c.ctx.Err() == nil {
			// Still io.EOF underneath: a re-attach tries again (a stopping node does this).
			return nil, fmt.Errorf("switchboard: the node ended the stream without answering Register: %w", io.EOF)
		}
		return nil, c.refusal(c.streamError(stream, err))
	}
	registered := resp.GetRegistered()
	if registered == nil {
		scancel()
		return nil, fmt.Errorf("%w: first message is %T, not Registered", ErrProtocol, resp.GetMsg())
	}
	c.unreachable.reached()
	att := &attachment{
		stream:  stream,
		cancel:  scancel,
		out:     newOutbox(limitsFrom(registered.GetLimits(), c.opts.MaxMessageBytes)),
		pending: map[uint64]chan *gatewayv1.CommandResult{},
		broken:  make(chan struct{}),
	}
	if err := c.onRegistered(att, registered, token); err != nil {
		scancel()
		return nil, err
	}
	// The writer ends when the stream has ended: detach (which always
	// follows, from supervise) closes broken.
	c.wg.Add(1)
	go c.write(att)
	c.flushControl()
	return att, nil
}

// onRegistered starts or resumes the session and makes att current.
func (c *Client) onRegistered(att *attachment, r *gatewayv1.Registered, token string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	first := c.in.stats.FreshSessions == 0
	c.in.stats.Streams++
	if r.GetResumed() {
		if first || token == "" || r.GetSessionToken() != token {
			return fmt.Errorf("%w: resumed a session that was not asked for", ErrProtocol)
		}
		if err := c.in.resumed(r.GetNextEventSeq()); err != nil {
			return err
		}
		c.log.Info("session resumed", "next_event_seq", r.GetNextEventSeq())
		c.in.announce(Session{Resumed: true})
	} else {
		if r.GetNextEventSeq() == 0 {
			return fmt.Errorf("%w: Registered.next_event_seq is 0", ErrProtocol)
		}
		c.in.freshSession(r.GetNextEventSeq())
		if !first {
			c.log.Info("fresh session", "resume_refused_reason", r.GetResumeRefusedReason())
			c.in.announce(Session{Resumed: false, RefusedReason: r.GetResumeRefusedReason()})
		}
	}
	c.token = r.GetSessionToken()
	c.nodeInfo = nodeInfoFromAPI(r.GetNodeInfo())
	c.limits = att.out.lim
	c.att = att
	close(c.attChanged)
	c.attChanged = make(chan struct{})
	c.signal()
	return nil
}

// refusal names the reactor, the node and what to do in an *AttachError
// that ended a registration; other errors pass unchanged.
func (c *Client) refusal(err error) error {
	var ae *AttachError
	if errors.As(err, &ae) {
		ae.Reactor, ae.Target = c.opts.Name, c.target
		ae.Hint = attachHint(ae.Code, ae.Message, c.opts.Name, c.target)
	}
	return err
}

// streamError turns the end of a stream into an error: the status with
// its reason, or the client's own context error.
func (c *Client) streamError(stream grpc.ClientStream, err error) error {
	if c.ctx.Err() != nil {
		return c.ctx.Err()
	}
	if errors.Is(err, io.EOF) {
		return io.EOF
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	reason := ""
	if stream != nil {
		if v := stream.Trailer().Get(reasonMetadataKey); len(v) > 0 {
			reason = v[0]
		}
	}
	return attachErrorFromStatus(st, reason)
}

// retryable says whether attaching again may help after err. The first
// attach retries only an unreachable node; a re-attach also retries what a
// live node may say while it notices the old stream is gone.
func retryable(err error, first bool) bool {
	if errors.Is(err, io.EOF) {
		return !first
	}
	var ae *AttachError
	if !errors.As(err, &ae) {
		return false
	}
	if ae.Code == codes.Unavailable {
		return true
	}
	if first {
		return false
	}
	switch ae.Code {
	case codes.AlreadyExists, codes.ResourceExhausted, codes.Aborted, codes.Internal, codes.Unknown, codes.DeadlineExceeded, codes.Canceled:
		return true
	}
	return false
}

// supervise reads the current stream and re-attaches when it fails.
func (c *Client) supervise(att *attachment) {
	defer c.wg.Done()
	bo := newBackoffTimer(c.opts.Backoff)
	for {
		err := c.receive(att)
		c.detach(att)
		c.mu.Lock()
		stopped := c.in.stopSeen
		c.mu.Unlock()
		switch {
		case stopped:
			c.log.Info("node stopped")
			c.finish(nil)
			return
		case c.ctx.Err() != nil:
			c.finish(c.ctx.Err())
			return
		case !retryable(err, false):
			c.log.Warn("stream failed", "err", err)
			c.finish(err)
			return
		}
		c.log.Info("stream lost, re-attaching", "err", err)
		wait := bo.wait()
		for {
			if !sleep(c.ctx, wait) {
				c.finish(c.ctx.Err())
				return
			}
			att, err = c.attachOnce()
			if err == nil {
				bo.reset()
				break
			}
			if c.ctx.Err() != nil {
				c.finish(c.ctx.Err())
				return
			}
			if !retryable(err, false) {
				c.log.Warn("re-attach refused", "err", err)
				c.finish(err)
				return
			}
			wait = bo.wait()
			if isUnavailable(err) {
				c.unreachable.failed(err, wait)
			}
			c.log.Info("re-attach failed, retrying", "err", err)
		}
	}
}

// receive reads att until it ends.
func (c *Client) receive(att *attachment) error {
	for {
		resp, err := att.stream.Recv()
		if err != nil {
			return c.streamError(att.stream, err)
		}
		switch m := resp.GetMsg().(type) {
		case *gatewayv1.AttachResponse_Events:
			if err := c.onEvents(m.Events.GetEvents()); err != nil {
				att.cancel()
				return err
			}
		case *gatewayv1.AttachResponse_Result:
			c.onResults(att, m.Result)
		case *gatewayv1.AttachResponse_Results:
			c.onResults(att, m.Results.GetResults()...)
		case *gatewayv1.AttachResponse_Registered:
			att.cancel()
			return fmt.Errorf("%w: a second Registered on one stream", ErrProtocol)
		default:
			// A message newer than this SDK: ignored.
		}
	}
}

func (c *Client) onEvents(events []*gatewayv1.Event) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range events {
		if err := c.in.add(e); err != nil {
			return err
		}
	}
	c.signal()
	return nil
}

// onResults hands each result to the command waiting for it; a result
// nobody waits for (its command was cancelled) is dropped.
func (c *Client) onResults(att *attachment, results ...*gatewayv1.CommandResult) {
	waiters := make([]chan *gatewayv1.CommandResult, len(results))
	c.mu.Lock()
	for i, r := range results {
		waiters[i] = att.pending[r.GetRequestId()]
		delete(att.pending, r.GetRequestId())
	}
	c.mu.Unlock()
	for i, ch := range waiters {
		if ch != nil {
			ch <- results[i] // capacity 1, one result per request
		}
	}
}

// detach forgets a stream that ended; commands awaiting its results fail.
func (c *Client) detach(att *attachment) {
	att.cancel()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.att == att {
		c.att = nil
		close(c.attChanged)
		c.attChanged = make(chan struct{})
	}
	att.pending = nil
	close(att.broken)
}

// finish marks the client finished: no more events arrive; the delivery
// goroutine hands over what is buffered (unless the context ended) and
// closes Events.
func (c *Client) finish(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.finished {
		return
	}
	c.finished = true
	if c.closed {
		err = nil
	}
	c.err = err
	close(c.attChanged)
	c.attChanged = make(chan struct{})
	c.signal()
}

// signal wakes the delivery goroutine (c.mu held or not).
func (c *Client) signal() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// deliver hands buffered events to the application one at a time and
// sends the acknowledgements and credit they earn.
func (c *Client) deliver() {
	defer c.wg.Done()
	defer close(c.events)
	defer c.cancel() // once Events is closed nothing else needs the connection
	for {
		c.flushControl()
		c.mu.Lock()
		ev, ok := c.in.front()
		finished := c.finished
		c.mu.Unlock()
		if !ok {
			if finished {
				return
			}
			select {
			case <-c.wake:
			case <-c.ctx.Done():
				return
			}
			continue
		}
		select {
		case c.events <- ev:
			c.mu.Lock()
			c.in.take()
			c.mu.Unlock()
		case <-c.wake:
		case <-c.ctx.Done():
			return
		}
	}
}

// flushControl hands the acknowledgement and credit owed, if enough is
// owed, to the current stream's writer, which sends them with the next batch.
func (c *Client) flushControl() {
	c.mu.Lock()
	att := c.att
	if att == nil {
		c.mu.Unlock()
		return
	}
	ctl, ok := c.in.flush()
	c.mu.Unlock()
	if ok {
		// On a stream that is ending this is dropped: the next stream starts its own books.
		att.out.control(ctl)
	}
}
