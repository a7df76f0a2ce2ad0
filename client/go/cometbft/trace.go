package cometbft

import (
	"bufio"
	"encoding/json"
	"io"
	"sync"
	"time"
)

// traceFlushInterval bounds how stale a trace file may be while the node runs.
const traceFlushInterval = time.Second

// Tracer writes the calls the host makes on hosted reactors, one JSON object
// per line, in each reactor's call order:
//
//	{"reactor":"MEMPOOL","kind":"GetChannels","channelIds":[48]}
//	{"reactor":"MEMPOOL","kind":"InitPeer","peerId":"…","connection":"…"}
//	{"reactor":"MEMPOOL","kind":"Receive","peerId":"…","connection":"…","channelId":48}
//
// The kinds are the reactor grammar's (GetChannels, SetSwitch, OnStart,
// InitPeer, AddPeer, Receive, RemovePeer, OnStop), the shape the project's
// grammar checkers read. A nil *Tracer traces nothing.
type Tracer struct {
	mu   sync.Mutex
	w    *bufio.Writer
	err  error
	stop chan struct{}
	once sync.Once
}

type traceLine struct {
	Reactor    string `json:"reactor"`
	Kind       string `json:"kind"`
	PeerID     string `json:"peerId,omitempty"`
	Connection string `json:"connection,omitempty"`
	ChannelID  *int   `json:"channelId,omitempty"`
	ChannelIDs []int  `json:"channelIds,omitempty"`
}

// NewTracer writes to w, buffered, flushing at least every second.
func NewTracer(w io.Writer) *Tracer {
	t := &Tracer{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{})}
	go func() {
		tick := time.NewTicker(traceFlushInterval)
		defer tick.Stop()
		for {
			select {
			case <-tick.C:
				t.Flush()
			case <-t.stop:
				return
			}
		}
	}()
	return t
}

func (t *Tracer) write(l traceLine) {
	if t == nil {
		return
	}
	b, err := json.Marshal(l)
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil && t.err == nil {
		b = append(b, '\n')
		_, t.err = t.w.Write(b)
	}
}

func (t *Tracer) lifecycle(reactor, kind string) { t.write(traceLine{Reactor: reactor, Kind: kind}) }

func (t *Tracer) channels(reactor string, ids []byte) {
	l := traceLine{Reactor: reactor, Kind: "GetChannels", ChannelIDs: make([]int, 0, len(ids))}
	for _, id := range ids {
		l.ChannelIDs = append(l.ChannelIDs, int(id))
	}
	t.write(l)
}

func (t *Tracer) peer(reactor, kind string, p *peer) {
	t.write(traceLine{Reactor: reactor, Kind: kind, PeerID: p.sb.ID, Connection: p.sb.ConnectionID})
}

func (t *Tracer) receive(reactor string, p *peer, ch byte) {
	id := int(ch)
	t.write(traceLine{Reactor: reactor, Kind: "Receive", PeerID: p.sb.ID, Connection: p.sb.ConnectionID, ChannelID: &id})
}

// Flush writes out what is buffered; it reports the first write error.
func (t *Tracer) Flush() error {
	if t == nil {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err == nil {
		t.err = t.w.Flush()
	}
	return t.err
}

// Close flushes and stops the periodic flush.
func (t *Tracer) Close() error {
	if t == nil {
		return nil
	}
	t.once.Do(func() { close(t.stop) })
	return t.Flush()
}
