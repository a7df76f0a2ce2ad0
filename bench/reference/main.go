// Command reference measures CometBFT v0.38's p2p layer, used as a library
// (github.com/cometbft/cometbft/p2p from the Go module proxy), with the same
// scenarios as Switchboard's harness (bench/run.ts): real MultiplexTransport
// over loopback TCP, SecretConnection, MConnection, in-process reactors.
//
// Every subcommand prints one JSON object on stdout:
//
//	reference throughput  -sizes 256,4096 -bytes 67108864 ...
//	reference latency     -sizes 256,4096 -samples 2000 ...
//	reference connections -peers 500 -concurrency 32
//	reference fanout      -peers 50 -sizes 4096 -count 2000
//
// Messages are mempool `Txs` with one tx of `size` bytes (what the mempool
// reactor gossips): the first 8 bytes carry the send time in nanoseconds of
// this process's monotonic clock, so one-way latency is measured in-process.
// Switchboard sends the very same bytes (bench/lib/message.ts).
package main

import (
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cometbft/cometbft/config"
	"github.com/cometbft/cometbft/crypto/ed25519"
	"github.com/cometbft/cometbft/libs/log"
	"github.com/cometbft/cometbft/p2p"
	"github.com/cometbft/cometbft/p2p/conn"
	mempoolproto "github.com/cometbft/cometbft/proto/tendermint/mempool"
)

// benchChannel is the one channel every scenario uses.
const benchChannel = byte(0x40)

// t0 is the origin of every timestamp carried in a payload.
var t0 = time.Now()

func nowNs() int64 { return int64(time.Since(t0)) }

// settings are the knobs both implementations set to the same values.
type settings struct {
	flushMs    int
	rate       int64
	queue      int
	maxPayload int
	recvCap    int
}

func (s *settings) register(fs *flag.FlagSet) {
	fs.IntVar(&s.flushMs, "flush-ms", 10, "flush throttle in ms")
	fs.Int64Var(&s.rate, "rate", 10_000_000_000, "send and receive rate limits in bytes/s")
	fs.IntVar(&s.queue, "queue", 1000, "send queue capacity of the channel, in messages")
	fs.IntVar(&s.maxPayload, "max-payload", 1024, "max packet msg payload size in bytes")
	fs.IntVar(&s.recvCap, "recv-cap", 4<<20, "recv message capacity of the channel in bytes")
}

func p2pConfig(s settings) *config.P2PConfig {
	cfg := config.DefaultP2PConfig()
	cfg.FlushThrottleTimeout = time.Duration(s.flushMs) * time.Millisecond
	cfg.SendRate = s.rate
	cfg.RecvRate = s.rate
	cfg.MaxPacketMsgPayloadSize = s.maxPayload
	cfg.AllowDuplicateIP = true
	cfg.MaxNumInboundPeers = 100_000
	cfg.MaxNumOutboundPeers = 100_000
	cfg.HandshakeTimeout = 3 * time.Second
	cfg.DialTimeout = time.Second
	return cfg
}

// ---------------------------------------------------------------- reactor

type handler func(e p2p.Envelope, tx []byte)

// benchReactor hands every message to the current handler.
type benchReactor struct {
	p2p.BaseReactor
	s       settings
	handler atomic.Pointer[handler]
	peers   chan p2p.Peer
}

func newBenchReactor(s settings) *benchReactor {
	r := &benchReactor{s: s, peers: make(chan p2p.Peer, 1<<16)}
	r.BaseReactor = *p2p.NewBaseReactor("bench", r)
	return r
}

func (r *benchReactor) GetChannels() []*conn.ChannelDescriptor {
	return []*conn.ChannelDescriptor{{
		ID:                  benchChannel,
		Priority:            1,
		SendQueueCapacity:   r.s.queue,
		RecvBufferCapacity:  4096,
		RecvMessageCapacity: r.s.recvCap,
		MessageType:         &mempoolproto.Message{},
	}}
}

func (r *benchReactor) AddPeer(p p2p.Peer) { r.peers <- p }

func (r *benchReactor) Receive(e p2p.Envelope) {
	h := r.handler.Load()
	if h == nil {
		return
	}
	txs, ok := e.Message.(*mempoolproto.Txs)
	if !ok || len(txs.Txs) != 1 {
		panic(fmt.Sprintf("unexpected message %T", e.Message))
	}
	(*h)(e, txs.Txs[0])
}

func (r *benchReactor) setHandler(h handler) { r.handler.Store(&h) }

// ---------------------------------------------------------------- nodes

type node struct {
	sw      *p2p.Switch
	reactor *benchReactor
	addr    *p2p.NetAddress
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// newNode builds and starts a Switch with the bench reactor; it listens on a
// free loopback port when listen is true (dialers do not need to).
func newNode(s settings, name string, listen bool) *node {
	key := p2p.NodeKey{PrivKey: ed25519.GenPrivKey()}
	port := 1
	if listen {
		port = freePort()
	}
	info := p2p.DefaultNodeInfo{
		ProtocolVersion: p2p.NewProtocolVersion(8, 11, 0),
		DefaultNodeID:   key.ID(),
		ListenAddr:      fmt.Sprintf("127.0.0.1:%d", port),
		Network:         "bench",
		Version:         "0.38.25",
		Channels:        []byte{benchChannel},
		Moniker:         name,
		Other:           p2p.DefaultNodeInfoOther{TxIndex: "off"},
	}
	addr, err := p2p.NewNetAddressString(p2p.IDAddressString(key.ID(), info.ListenAddr))
	must(err)
	cfg := p2pConfig(s)
	transport := p2p.NewMultiplexTransport(info, key, p2p.MConnConfig(cfg))
	if listen {
		must(transport.Listen(*addr))
	}
	sw := p2p.NewSwitch(cfg, transport)
	sw.SetLogger(log.NewNopLogger())
	r := newBenchReactor(s)
	sw.AddReactor("bench", r)
	sw.SetNodeInfo(info)
	sw.SetNodeKey(&key)
	must(sw.Start())
	return &node{sw: sw, reactor: r, addr: addr}
}

// connect dials b from a and returns each side's Peer for the other.
func connect(a, b *node) (aToB, bToA p2p.Peer) {
	must(a.sw.DialPeerWithAddress(b.addr))
	return <-a.reactor.peers, <-b.reactor.peers
}

// ---------------------------------------------------------------- messages

func txMessage(tx []byte) p2p.Envelope {
	return p2p.Envelope{ChannelID: benchChannel, Message: &mempoolproto.Txs{Txs: [][]byte{tx}}}
}

func newTx(size int) []byte {
	tx := make([]byte, size)
	for i := range tx {
		tx[i] = byte(i*31 + 7)
	}
	return tx
}

// stamp writes the send time (and a sequence number when there is room).
func stamp(tx []byte, seq uint64) {
	if len(tx) >= 8 {
		binary.LittleEndian.PutUint64(tx, uint64(nowNs()))
	}
	if len(tx) >= 16 {
		binary.LittleEndian.PutUint64(tx[8:], seq)
	}
}

func sentAt(tx []byte) int64 { return int64(binary.LittleEndian.Uint64(tx)) }

// ---------------------------------------------------------------- stats

type percentiles struct {
	P50Us float64 `json:"p50Us"`
	P99Us float64 `json:"p99Us"`
	MaxUs float64 `json:"maxUs"`
}

func summarize(ns []int64) percentiles {
	if len(ns) == 0 {
		return percentiles{}
	}
	s := append([]int64(nil), ns...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	at := func(q float64) float64 {
		i := int(q*float64(len(s)-1) + 0.5)
		return float64(s[i]) / 1e3
	}
	return percentiles{P50Us: at(0.50), P99Us: at(0.99), MaxUs: float64(s[len(s)-1]) / 1e3}
}

// ---------------------------------------------------------------- scenarios

type throughputResult struct {
	SizeBytes     int         `json:"sizeBytes"`
	Messages      int         `json:"messages"`
	Seconds       float64     `json:"seconds"`
	MsgsPerSecond float64     `json:"msgsPerSecond"`
	MBPerSecond   float64     `json:"mbPerSecond"`
	LoadedLatency percentiles `json:"loadedLatency"`
	// CPU time of the process (both nodes) per message, user + system.
	CPUUsPerMessage float64 `json:"cpuUsPerMessage"`
}

// cpuUs is this process's user + system CPU time in µs.
func cpuUs() float64 {
	var ru syscall.Rusage
	must(syscall.Getrusage(syscall.RUSAGE_SELF, &ru))
	return float64(ru.Utime.Sec+ru.Stime.Sec)*1e6 + float64(ru.Utime.Usec+ru.Stime.Usec)
}

// sendStream sends n txs of `size` bytes from a to b as fast as Send admits
// and waits until b received them all.
func sendStream(a p2p.Peer, b *node, size, n int) throughputResult {
	lat := make([]int64, n)
	var got int64
	done := make(chan struct{})
	b.reactor.setHandler(func(_ p2p.Envelope, tx []byte) {
		now := nowNs()
		i := atomic.AddInt64(&got, 1)
		lat[i-1] = now - sentAt(tx)
		if int(i) == n {
			close(done)
		}
	})
	tx := newTx(size)
	cpu0 := cpuUs()
	start := nowNs()
	for i := 0; i < n; i++ {
		stamp(tx, uint64(i))
		if !a.Send(txMessage(tx)) {
			panic("send timed out")
		}
	}
	<-done
	secs := float64(nowNs()-start) / 1e9
	cpu := cpuUs() - cpu0
	b.reactor.setHandler(nil)
	return throughputResult{
		SizeBytes:       size,
		Messages:        n,
		Seconds:         secs,
		MsgsPerSecond:   float64(n) / secs,
		MBPerSecond:     float64(n) * float64(size) / secs / 1e6,
		LoadedLatency:   summarize(lat),
		CPUUsPerMessage: cpu / float64(n),
	}
}

func countFor(size int, targetBytes int64, minCount, maxCount int) int {
	n := int(targetBytes / int64(size))
	if n < minCount {
		n = minCount
	}
	if n > maxCount {
		n = maxCount
	}
	return n
}

func cmdThroughput(args []string) any {
	fs := flag.NewFlagSet("throughput", flag.ExitOnError)
	var s settings
	s.register(fs)
	sizes := fs.String("sizes", "256,4096,65536,1048576", "message sizes in bytes")
	target := fs.Int64("bytes", 64<<20, "bytes to send per size")
	minCount := fs.Int("min-count", 200, "fewest messages per size")
	maxCount := fs.Int("max-count", 200_000, "most messages per size")
	warmup := fs.Float64("warmup", 0.2, "fraction of the count sent first, unmeasured")
	must(fs.Parse(args))
	a, b := newNode(s, "a", true), newNode(s, "b", true)
	aToB, _ := connect(a, b)
	var results []throughputResult
	for _, size := range parseSizes(*sizes) {
		n := countFor(size, *target, *minCount, *maxCount)
		if w := int(float64(n) * *warmup); w > 0 {
			sendStream(aToB, b, size, w)
		}
		results = append(results, sendStream(aToB, b, size, n))
	}
	return map[string]any{"scenario": "throughput", "settings": s.json(), "results": results}
}

type latencyResult struct {
	SizeBytes int `json:"sizeBytes"`
	Samples   int `json:"samples"`
	percentiles
}

// pingPong sends one tx at a time from a to b; b records the one-way latency
// and answers with an 8-byte tx; a sends the next on that answer.
func pingPong(aToB p2p.Peer, a, b *node, size, samples, warmup int) latencyResult {
	total := samples + warmup
	lat := make([]int64, 0, samples)
	ack := newTx(8)
	b.reactor.setHandler(func(e p2p.Envelope, tx []byte) {
		now := nowNs()
		seq := int(binary.LittleEndian.Uint64(tx[8:]))
		if seq >= warmup {
			lat = append(lat, now-sentAt(tx))
		}
		if !e.Src.Send(txMessage(ack)) {
			panic("ack send failed")
		}
	})
	tx := newTx(size)
	var sent int
	done := make(chan struct{})
	sendNext := func() {
		stamp(tx, uint64(sent))
		sent++
		if !aToB.Send(txMessage(tx)) {
			panic("send failed")
		}
	}
	a.reactor.setHandler(func(_ p2p.Envelope, _ []byte) {
		if sent == total {
			close(done)
			return
		}
		sendNext()
	})
	sendNext()
	<-done
	a.reactor.setHandler(nil)
	b.reactor.setHandler(nil)
	return latencyResult{SizeBytes: size, Samples: len(lat), percentiles: summarize(lat)}
}

func cmdLatency(args []string) any {
	fs := flag.NewFlagSet("latency", flag.ExitOnError)
	var s settings
	s.register(fs)
	sizes := fs.String("sizes", "256,4096,65536,1048576", "message sizes in bytes (at least 16)")
	samples := fs.Int("samples", 2000, "measured round trips per size (fewer for large sizes, see -bytes)")
	target := fs.Int64("bytes", 256<<20, "caps samples × size")
	minSamples := fs.Int("min-samples", 50, "fewest samples per size")
	must(fs.Parse(args))
	a, b := newNode(s, "a", true), newNode(s, "b", true)
	aToB, _ := connect(a, b)
	var results []latencyResult
	for _, size := range parseSizes(*sizes) {
		n := countFor(size, *target, *minSamples, *samples)
		results = append(results, pingPong(aToB, a, b, size, n, n/10+10))
	}
	return map[string]any{"scenario": "latency", "settings": s.json(), "results": results}
}

// cmdFanout: one node broadcasts to `peers` nodes (all in this process).
func cmdFanout(args []string) any {
	fs := flag.NewFlagSet("fanout", flag.ExitOnError)
	var s settings
	s.register(fs)
	peers := fs.Int("peers", 50, "receiving nodes")
	sizes := fs.String("sizes", "256,4096", "message sizes in bytes")
	target := fs.Int64("bytes", 8<<20, "bytes broadcast per size (each delivered to every peer)")
	minCount := fs.Int("min-count", 100, "fewest broadcasts per size")
	maxCount := fs.Int("max-count", 20_000, "most broadcasts per size")
	must(fs.Parse(args))
	hub := newNode(s, "hub", true)
	leaves := make([]*node, *peers)
	for i := range leaves {
		leaves[i] = newNode(s, fmt.Sprintf("leaf%d", i), false)
	}
	var wg sync.WaitGroup
	for _, l := range leaves {
		wg.Add(1)
		go func(l *node) {
			defer wg.Done()
			must(l.sw.DialPeerWithAddress(hub.addr))
		}(l)
	}
	wg.Wait()
	for hub.sw.Peers().Size() < *peers {
		time.Sleep(time.Millisecond)
	}
	type fanoutResult struct {
		SizeBytes       int     `json:"sizeBytes"`
		Peers           int     `json:"peers"`
		Broadcasts      int     `json:"broadcasts"`
		Seconds         float64 `json:"seconds"`
		DeliveredPerSec float64 `json:"deliveredPerSecond"`
		MBPerSecond     float64 `json:"mbPerSecond"`
		CPUUsPerMessage float64 `json:"cpuUsPerDelivered"`
	}
	run := func(size, n int) fanoutResult {
		var got int64
		want := int64(n * *peers)
		done := make(chan struct{})
		for _, l := range leaves {
			l.reactor.setHandler(func(_ p2p.Envelope, _ []byte) {
				if atomic.AddInt64(&got, 1) == want {
					close(done)
				}
			})
		}
		tx := newTx(size)
		cpu0 := cpuUs()
		start := nowNs()
		for i := 0; i < n; i++ {
			stamp(tx, uint64(i))
			for ok := range hub.sw.Broadcast(txMessage(tx)) {
				if !ok {
					panic("broadcast send timed out")
				}
			}
		}
		<-done
		secs := float64(nowNs()-start) / 1e9
		cpu := cpuUs() - cpu0
		return fanoutResult{size, *peers, n, secs, float64(want) / secs, float64(want) * float64(size) / secs / 1e6, cpu / float64(want)}
	}
	var results []fanoutResult
	for _, size := range parseSizes(*sizes) {
		n := countFor(size, *target, *minCount, *maxCount)
		run(size, n/5+1)
		results = append(results, run(size, n))
	}
	return map[string]any{"scenario": "fanout", "settings": s.json(), "results": results}
}

// ---------------------------------------------------------------- connections

type memSample struct {
	RSSBytes        int64 `json:"rssBytes"`
	HeapInuseBytes  int64 `json:"heapInuseBytes"`
	StackInuseBytes int64 `json:"stackInuseBytes"`
	SysBytes        int64 `json:"sysBytes"`
	Goroutines      int   `json:"goroutines"`
}

func rss() int64 {
	b, err := os.ReadFile("/proc/self/statm")
	must(err)
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	must(err)
	return pages * int64(os.Getpagesize())
}

func sampleMemory() memSample {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return memSample{
		RSSBytes:        rss(),
		HeapInuseBytes:  int64(m.HeapInuse),
		StackInuseBytes: int64(m.StackInuse),
		SysBytes:        int64(m.Sys),
		Goroutines:      runtime.NumGoroutine(),
	}
}

// cmdConnections: a hub node in this process; `peers` dialer nodes in a
// child process (`reference dialers`) connect to it with bounded
// concurrency, in two halves. Reports the dialers' handshake rate and the
// hub's memory per idle peer: marginal (second half: memory growth that is
// not a one-time cost of the runtime) and average (all peers).
func cmdConnections(args []string) any {
	fs := flag.NewFlagSet("connections", flag.ExitOnError)
	var s settings
	s.register(fs)
	fs.Int("peers", 500, "peers connecting to the hub (dialed by the child)")
	concurrency := fs.Int("concurrency", 32, "dials in flight at once")
	settleMs := fs.Int("settle-ms", 1000, "idle time before the memory is sampled")
	must(fs.Parse(args))
	raiseFileLimit()
	hub := newNode(s, "hub", true)
	before := sampleMemory()

	hubCPU0 := cpuUs()
	child := startSelf("dialers", append(args, "-target", hub.addr.String()))
	type dialResult struct {
		Peers    int     `json:"peers"`
		Seconds  float64 `json:"seconds"`
		Failures int     `json:"failures"`
		CPUUs    float64 `json:"cpuUs"`
	}
	waitPeers := func(n int) {
		deadline := time.Now().Add(30 * time.Second)
		for hub.sw.Peers().Size() < n && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(time.Duration(*settleMs) * time.Millisecond)
	}
	var first, second dialResult
	must(child.dec.Decode(&first))
	waitPeers(first.Peers - first.Failures)
	hubCPU := cpuUs() - hubCPU0
	mid := sampleMemory()
	midPeers := hub.sw.Peers().Size()
	hubCPU0 = cpuUs()
	_, err := child.stdin.Write([]byte("next\n"))
	must(err)
	must(child.dec.Decode(&second))
	waitPeers(midPeers + second.Peers - second.Failures)
	hubCPU += cpuUs() - hubCPU0
	after := sampleMemory()
	connected := hub.sw.Peers().Size()
	child.stop()
	dialed := first.Peers + second.Peers - first.Failures - second.Failures
	per := func(a, b int64, n int) float64 { return float64(a-b) / float64(n) }
	return map[string]any{
		"scenario":            "connections",
		"settings":            s.json(),
		"peers":               connected,
		"concurrency":         *concurrency,
		"dialSeconds":         first.Seconds + second.Seconds,
		"handshakesPerSecond": float64(dialed) / (first.Seconds + second.Seconds),
		"dialFailures":        first.Failures + second.Failures,
		// Both processes' CPU time per handshake (the hub's includes a 5 ms polling loop).
		"cpuUsPerHandshake": (hubCPU + first.CPUUs + second.CPUUs) / float64(dialed),
		"memoryBefore":      before,
		"memoryMid":         mid,
		"memoryAfter":       after,
		"perPeerBytes": map[string]float64{
			"rss":                   per(after.RSSBytes, before.RSSBytes, connected),
			"rssMarginal":           per(after.RSSBytes, mid.RSSBytes, connected-midPeers),
			"heapPlusStack":         per(after.HeapInuseBytes+after.StackInuseBytes, before.HeapInuseBytes+before.StackInuseBytes, connected),
			"heapPlusStackMarginal": per(after.HeapInuseBytes+after.StackInuseBytes, mid.HeapInuseBytes+mid.StackInuseBytes, connected-midPeers),
			"sys":                   per(after.SysBytes, before.SysBytes, connected),
		},
	}
}

// cmdDialers is the other side of cmdConnections: it dials the first half of
// its peers, prints the figures, waits for a line on standard input, dials
// the second half, prints again, then keeps the connections open until its
// standard input closes.
func cmdDialers(args []string) any {
	fs := flag.NewFlagSet("dialers", flag.ExitOnError)
	var s settings
	s.register(fs)
	peers := fs.Int("peers", 500, "")
	concurrency := fs.Int("concurrency", 32, "")
	fs.Int("settle-ms", 0, "")
	target := fs.String("target", "", "hub address id@host:port")
	must(fs.Parse(args))
	raiseFileLimit()
	addr, err := p2p.NewNetAddressString(*target)
	must(err)
	nodes := make([]*node, *peers)
	for i := range nodes {
		nodes[i] = newNode(s, fmt.Sprintf("dialer%d", i), false)
	}
	dialAll := func(batch []*node) map[string]any {
		work := make(chan *node, len(batch))
		for _, n := range batch {
			work <- n
		}
		close(work)
		var failures int64
		var wg sync.WaitGroup
		cpu0 := cpuUs()
		start := nowNs()
		for i := 0; i < *concurrency; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range work {
					if err := n.sw.DialPeerWithAddress(addr); err != nil {
						atomic.AddInt64(&failures, 1)
						fmt.Fprintln(os.Stderr, "dial:", err)
					}
				}
			}()
		}
		wg.Wait()
		return map[string]any{"peers": len(batch), "seconds": float64(nowNs()-start) / 1e9, "failures": failures, "cpuUs": cpuUs() - cpu0}
	}
	enc := json.NewEncoder(os.Stdout)
	half := *peers / 2
	must(enc.Encode(dialAll(nodes[:half])))
	line := make([]byte, 64)
	_, _ = os.Stdin.Read(line) // "next"
	must(enc.Encode(dialAll(nodes[half:])))
	_, _ = os.Stdin.Read(line) // until the hub is done (EOF)
	os.Exit(0)
	return nil
}

// ---------------------------------------------------------------- main

func (s settings) json() map[string]any {
	return map[string]any{
		"flushThrottleMs":          s.flushMs,
		"rateBytesPerSecond":       s.rate,
		"sendQueueCapacity":        s.queue,
		"maxPacketMsgPayloadBytes": s.maxPayload,
		"recvMessageCapacityBytes": s.recvCap,
	}
}

func parseSizes(s string) []int {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		must(err)
		out = append(out, n)
	}
	return out
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: reference throughput|latency|connections|fanout [flags]")
		os.Exit(2)
	}
	commands := map[string]func([]string) any{
		"throughput":  cmdThroughput,
		"latency":     cmdLatency,
		"connections": cmdConnections,
		"dialers":     cmdDialers,
		"fanout":      cmdFanout,
	}
	cmd, ok := commands[os.Args[1]]
	if !ok {
		fmt.Fprintf(os.Stderr, "unknown subcommand %q\n", os.Args[1])
		os.Exit(2)
	}
	result := cmd(os.Args[2:])
	out := map[string]any{
		"implementation": "cometbft",
		"version":        "v0.38.25",
		"goVersion":      runtime.Version(),
		"gomaxprocs":     runtime.GOMAXPROCS(0),
		"result":         result,
	}
	must(json.NewEncoder(os.Stdout).Encode(out))
}
