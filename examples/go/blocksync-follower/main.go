// Command blocksync-follower follows a chain over CometBFT's blocksync
// channel (0x40), in the channel style (Client.Events): it reads a peer's
// StatusResponse, requests blocks from the peer's base (at least 1) upward,
// decodes each BlockResponse and prints one JSON line per block, in height
// order, on stdout:
//
//	{"height":1,"chain_id":"test-chain","time":"2026-11-21T07:13:10.273826809Z","num_txs":0}
//
// (time is RFC 3339 with nanoseconds as Go prints it, in UTC), then keeps
// up with new blocks by asking its peers for their status every second.
//
// Run it against a node started with --grpc.reactors blocksync that is
// connected to CometBFT nodes:
//
//	go run ./blocksync-follower --grpc 127.0.0.1:26670
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	switchboard "github.com/switchboard-p2p/switchboard/client/go"
	blocksyncv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/cometbft/blocksync/v1"
	typesv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/cometbft/types/v1"
	"github.com/switchboard-p2p/switchboard/examples/go/internal/cli"
)

// BlocksyncChannel and its descriptor, as CometBFT's blocksync reactor declares it.
const BlocksyncChannel = 0x40

var channel = switchboard.ChannelDescriptor{
	ID:                  BlocksyncChannel,
	Priority:            5,
	SendQueueCapacity:   1000,
	RecvBufferCapacity:  1024,
	RecvMessageCapacity: 104857605, // a block of the largest size plus framing
}

const (
	// maxInFlight bounds the block requests outstanding (and the blocks held
	// out of order), as CometBFT's pool bounds its requesters.
	maxInFlight = 32
	// requestTimeout: a request unanswered this long is made again.
	requestTimeout = 15 * time.Second
	// statusInterval is how often peers are asked for their height.
	statusInterval = time.Second
	// commandTimeout bounds each command to the node.
	commandTimeout = 5 * time.Second
)

// blockLine is one line of output.
type blockLine struct {
	Height  int64  `json:"height"`
	ChainID string `json:"chain_id"`
	Time    string `json:"time"`
	NumTxs  int    `json:"num_txs"`
}

type peerState struct {
	peer         switchboard.Peer
	added        bool
	base, height int64
	known        bool // a StatusResponse arrived
}

type request struct {
	conn string
	at   time.Time
}

type follower struct {
	ctx  context.Context
	c    *switchboard.Client
	log  *slog.Logger
	out  *json.Encoder
	from int64

	peers     map[string]*peerState // by connection ID
	next      int64                 // next height to print; 0 until a peer's base is known
	requested map[int64]request
	received  map[int64]*typesv1.Block // ahead of next
}

func (f *follower) send(peer switchboard.Peer, m *blocksyncv1.BlocksyncMessage) {
	b, err := proto.Marshal(m)
	if err != nil {
		f.log.Error("encode", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(f.ctx, commandTimeout)
	defer cancel()
	if ok, err := f.c.Send(ctx, peer, BlocksyncChannel, b); err != nil || !ok {
		f.log.Warn("blocksync message not sent", "peer", peer.ID, "queued", ok, "err", err)
	}
}

func statusRequest() *blocksyncv1.BlocksyncMessage {
	return &blocksyncv1.BlocksyncMessage{Sum: &blocksyncv1.BlocksyncMessage_StatusRequest{StatusRequest: &blocksyncv1.StatusRequest{}}}
}

// run consumes events until the node stops or ctx ends.
func (f *follower) run() error {
	tick := time.NewTicker(statusInterval)
	defer tick.Stop()
	for {
		select {
		case ev, ok := <-f.c.Events():
			if !ok {
				return f.c.Err()
			}
			f.handle(ev)
		case <-tick.C:
			for _, p := range f.peers {
				if p.added {
					f.send(p.peer, statusRequest())
				}
			}
			for h, r := range f.requested {
				if time.Since(r.at) > requestTimeout {
					delete(f.requested, h) // asked again below
				}
			}
		case <-f.ctx.Done():
			return f.ctx.Err()
		}
		f.fill()
	}
}

func (f *follower) handle(ev switchboard.Event) {
	switch e := ev.(type) {
	case switchboard.Session:
		if !e.Resumed { // a fresh session: the snapshot re-announces the peers
			f.log.Info("fresh session", "reason", e.RefusedReason)
			f.peers = map[string]*peerState{}
			f.requested = map[int64]request{}
		}
	case switchboard.InitPeer:
		f.peers[e.Peer.ConnectionID] = &peerState{peer: e.Peer}
	case switchboard.AddPeer:
		if p := f.peers[e.Peer.ConnectionID]; p != nil {
			p.added = true
			f.log.Info("peer added", "peer", e.Peer.ID)
			f.send(e.Peer, statusRequest())
		}
	case switchboard.RemovePeer:
		delete(f.peers, e.Peer.ConnectionID)
		for h, r := range f.requested {
			if r.conn == e.Peer.ConnectionID {
				delete(f.requested, h)
			}
		}
		f.log.Info("peer removed", "peer", e.Peer.ID, "reason", e.Reason)
	case switchboard.Receive:
		f.receive(e)
	case switchboard.Stop:
		f.log.Info("node stopped")
	}
}

func (f *follower) receive(e switchboard.Receive) {
	p := f.peers[e.Peer.ConnectionID]
	if p == nil {
		return
	}
	var m blocksyncv1.BlocksyncMessage
	if err := proto.Unmarshal(e.Message, &m); err != nil || m.GetSum() == nil {
		f.log.Warn("stopping a peer that sent a malformed blocksync message", "peer", e.Peer.ID, "err", err)
		ctx, cancel := context.WithTimeout(f.ctx, commandTimeout)
		defer cancel()
		_ = f.c.StopPeerForError(ctx, e.Peer, fmt.Sprintf("malformed blocksync message: %v", err))
		return
	}
	switch s := m.GetSum().(type) {
	case *blocksyncv1.BlocksyncMessage_StatusRequest:
		// We store no blocks.
		f.send(e.Peer, &blocksyncv1.BlocksyncMessage{Sum: &blocksyncv1.BlocksyncMessage_StatusResponse{StatusResponse: &blocksyncv1.StatusResponse{}}})
	case *blocksyncv1.BlocksyncMessage_BlockRequest:
		f.send(e.Peer, &blocksyncv1.BlocksyncMessage{Sum: &blocksyncv1.BlocksyncMessage_NoBlockResponse{NoBlockResponse: &blocksyncv1.NoBlockResponse{Height: s.BlockRequest.GetHeight()}}})
	case *blocksyncv1.BlocksyncMessage_StatusResponse:
		p.base, p.height, p.known = s.StatusResponse.GetBase(), s.StatusResponse.GetHeight(), true
		if f.next == 0 && p.height > 0 {
			f.next = max(p.base, 1, f.from)
			f.log.Info("following", "from", f.next, "peer", e.Peer.ID, "peer_base", p.base, "peer_height", p.height)
		}
	case *blocksyncv1.BlocksyncMessage_NoBlockResponse:
		delete(f.requested, s.NoBlockResponse.GetHeight())
	case *blocksyncv1.BlocksyncMessage_BlockResponse:
		b := s.BlockResponse.GetBlock()
		h := b.GetHeader().GetHeight()
		if _, asked := f.requested[h]; !asked || h < f.next {
			return // unsolicited or late
		}
		delete(f.requested, h)
		f.received[h] = b
		f.print()
	}
}

// print writes the blocks that are next in order.
func (f *follower) print() {
	for {
		b, ok := f.received[f.next]
		if !ok {
			return
		}
		delete(f.received, f.next)
		hd := b.GetHeader()
		_ = f.out.Encode(blockLine{
			Height:  hd.GetHeight(),
			ChainID: hd.GetChainId(),
			Time:    hd.GetTime().AsTime().UTC().Format(time.RFC3339Nano),
			NumTxs:  len(b.GetData().GetTxs()),
		})
		f.next++
	}
}

// fill requests the heights after next that no request covers, from a peer
// that has them, up to maxInFlight.
func (f *follower) fill() {
	if f.next == 0 {
		return
	}
	for h := f.next; h < f.next+maxInFlight; h++ {
		if _, asked := f.requested[h]; asked {
			continue
		}
		if _, have := f.received[h]; have {
			continue
		}
		var best *peerState
		for _, p := range f.peers {
			if p.added && p.known && p.base <= h && h <= p.height && (best == nil || p.height > best.height) {
				best = p
			}
		}
		if best == nil {
			return // nobody has it (yet)
		}
		f.requested[h] = request{conn: best.peer.ConnectionID, at: time.Now()}
		f.send(best.peer, &blocksyncv1.BlocksyncMessage{Sum: &blocksyncv1.BlocksyncMessage_BlockRequest{BlockRequest: &blocksyncv1.BlockRequest{Height: h}}})
	}
}

func main() {
	fs := flag.NewFlagSet("blocksync-follower", flag.ExitOnError)
	conn := cli.Register(fs, "blocksync")
	from := fs.Int64("from", 0, "first height to print (default: the peer's base, at least 1)")
	_ = fs.Parse(os.Args[1:])

	log := cli.Logger()
	ctx, stop := cli.SignalContext()
	defer stop()
	opts, err := conn.Options(switchboard.Options{Channels: []switchboard.ChannelDescriptor{channel}}, log)
	if err != nil {
		log.Error("bad flags", "err", err)
		os.Exit(2)
	}
	c, err := switchboard.Attach(ctx, conn.GRPC, opts)
	if err != nil {
		log.Error("attach", "err", err)
		os.Exit(1)
	}
	defer c.Close()
	f := &follower{
		ctx: ctx, c: c, log: log, out: json.NewEncoder(os.Stdout), from: *from,
		peers: map[string]*peerState{}, requested: map[int64]request{}, received: map[int64]*typesv1.Block{},
	}
	if err := f.run(); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("blocksync-follower ended", "err", err)
		os.Exit(1)
	}
}
