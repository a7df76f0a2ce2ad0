// Command ping-pong is a reactor on channel 0x70 in the callback style
// (switchboard.Run): it pings every peer when the peer is added (and every
// --interval after, if set), answers pings with pongs, and prints each
// round-trip time as a JSON line on stdout:
//
//	{"event":"rtt","peer":"<node id>","connection":"<id>","nonce":1,"rtt_ms":1.234}
//
// Run it against a node started with --grpc.reactors ping-pong:
//
//	go run ./ping-pong --grpc 127.0.0.1:26670
package main

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	"github.com/switchboard-p2p/switchboard/examples/go/internal/cli"
)

// Channel is the ping-pong channel.
const Channel = 0x70

// Messages are 17 bytes: kind, nonce (uint64), the pinger's send time (Unix
// nanoseconds, int64), big-endian. A pong echoes the ping's nonce and time,
// so the pinger measures the round trip on its own clock.
const (
	kindPing = 1
	kindPong = 2
	msgLen   = 17
)

func encode(kind byte, nonce uint64, sentUnixNano int64) []byte {
	b := make([]byte, msgLen)
	b[0] = kind
	binary.BigEndian.PutUint64(b[1:], nonce)
	binary.BigEndian.PutUint64(b[9:], uint64(sentUnixNano))
	return b
}

func decode(b []byte) (kind byte, nonce uint64, sentUnixNano int64, err error) {
	if len(b) != msgLen || (b[0] != kindPing && b[0] != kindPong) {
		return 0, 0, 0, fmt.Errorf("malformed ping-pong message (%d bytes)", len(b))
	}
	return b[0], binary.BigEndian.Uint64(b[1:]), int64(binary.BigEndian.Uint64(b[9:])), nil
}

// rttLine is one line of output.
type rttLine struct {
	Event      string  `json:"event"`
	Peer       string  `json:"peer"`
	Connection string  `json:"connection"`
	Nonce      uint64  `json:"nonce"`
	RTTMs      float64 `json:"rtt_ms"`
}

// pingPong is the reactor. Run calls its methods one at a time; the
// interval pingers run beside them, so the shared state has a lock.
type pingPong struct {
	switchboard.BaseReactor
	ctx      context.Context
	interval time.Duration
	log      *slog.Logger
	nonce    atomic.Uint64

	outMu sync.Mutex
	out   *json.Encoder

	mu      sync.Mutex
	pingers map[string]context.CancelFunc // by connection ID
}

func (p *pingPong) GetChannels() []switchboard.ChannelDescriptor {
	return []switchboard.ChannelDescriptor{{ID: Channel, Priority: 5, SendQueueCapacity: 100}}
}

func (p *pingPong) ping(peer switchboard.Peer) {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	msg := encode(kindPing, p.nonce.Add(1), time.Now().UnixNano())
	if ok, err := p.Client.Send(ctx, peer, Channel, msg); err != nil || !ok {
		p.log.Warn("ping not sent", "peer", peer.ID, "queued", ok, "err", err)
	}
}

func (p *pingPong) AddPeer(peer switchboard.Peer) {
	p.log.Info("peer added", "peer", peer.ID, "connection", peer.ConnectionID)
	p.ping(peer)
	if p.interval <= 0 {
		return
	}
	ctx, cancel := context.WithCancel(p.ctx)
	p.mu.Lock()
	p.pingers[peer.ConnectionID] = cancel
	p.mu.Unlock()
	go func() {
		t := time.NewTicker(p.interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.ping(peer)
			case <-ctx.Done():
				return
			}
		}
	}()
}

func (p *pingPong) RemovePeer(peer switchboard.Peer, reason error) {
	p.log.Info("peer removed", "peer", peer.ID, "connection", peer.ConnectionID, "reason", reason)
	p.mu.Lock()
	defer p.mu.Unlock()
	if cancel := p.pingers[peer.ConnectionID]; cancel != nil {
		cancel()
		delete(p.pingers, peer.ConnectionID)
	}
}

func (p *pingPong) Receive(e switchboard.Receive) {
	kind, nonce, sent, err := decode(e.Message)
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	if err != nil {
		p.log.Warn("stopping a peer that sent garbage", "peer", e.Peer.ID, "err", err)
		_ = p.Client.StopPeerForError(ctx, e.Peer, err.Error())
		return
	}
	switch kind {
	case kindPing:
		if ok, err := p.Client.Send(ctx, e.Peer, Channel, encode(kindPong, nonce, sent)); err != nil || !ok {
			p.log.Warn("pong not sent", "peer", e.Peer.ID, "queued", ok, "err", err)
		}
	case kindPong:
		rtt := time.Since(time.Unix(0, sent))
		p.outMu.Lock()
		_ = p.out.Encode(rttLine{Event: "rtt", Peer: e.Peer.ID, Connection: e.Peer.ConnectionID, Nonce: nonce, RTTMs: float64(rtt.Microseconds()) / 1000})
		p.outMu.Unlock()
	}
}

func (p *pingPong) OnStop() { p.log.Info("node stopped") }

func main() {
	fs := flag.NewFlagSet("ping-pong", flag.ExitOnError)
	conn := cli.Register(fs, "ping-pong")
	interval := fs.Duration("interval", 0, "ping every peer this often too (0: only when it is added)")
	_ = fs.Parse(os.Args[1:])

	log := cli.Logger()
	ctx, stop := cli.SignalContext()
	defer stop()
	opts, err := conn.Options(switchboard.Options{}, log)
	if err != nil {
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	r := &pingPong{ctx: ctx, interval: *interval, log: log, out: json.NewEncoder(os.Stdout), pingers: map[string]context.CancelFunc{}}
	err = switchboard.Run(ctx, conn.GRPC, r, opts)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("ping-pong ended", "err", err)
		os.Exit(1)
	}
}
