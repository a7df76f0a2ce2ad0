package switchboard

// Test support for the conformance suite: real Switchboard nodes started
// with the CLI as child processes, a cuttable TCP proxy, an event recorder
// (the reactor-grammar check is in grammar_test.go).

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// repoRoot is the directory holding server/bin/switchboard.js, found by
// walking up from the test's directory.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "server", "bin", "switchboard.js")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("cannot find the repository root (server/bin/switchboard.js) above the test directory")
		}
		dir = parent
	}
}

// syncBuffer collects a process's output.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func tail(s string, lines int) string {
	parts := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(parts) > lines {
		parts = parts[len(parts)-lines:]
	}
	return strings.Join(parts, "\n")
}

// testNode is one `switchboard start` process.
type testNode struct {
	t       *testing.T
	name    string
	id      string
	p2pPort int
	grpc    string // 127.0.0.1:PORT
	cmd     *exec.Cmd
	out     *syncBuffer
	exited  chan struct{}
}

// nodeConfig is how a test node starts.
type nodeConfig struct {
	reactors        string      // --grpc.reactors (default "app")
	persistentPeers []*testNode // --p2p.persistent_peers
	extra           []string    // more flags
}

const testNetwork = "sb-conformance"

// TestMain removes the template home after the tests.
func TestMain(m *testing.M) {
	code := m.Run()
	if homeTemplate.dir != "" {
		_ = os.RemoveAll(filepath.Dir(homeTemplate.dir))
	}
	os.Exit(code)
}

// homeTemplate is a home made once by `switchboard init` (its config.toml);
// each node copies it and gets its own node key, which saves a node process
// per test node. Removed by TestMain.
var homeTemplate struct {
	once sync.Once
	dir  string
	err  error
}

func templateHome(t *testing.T, root string) string {
	t.Helper()
	homeTemplate.once.Do(func() {
		dir, err := os.MkdirTemp("", "sb-go-home-")
		if err != nil {
			homeTemplate.err = err
			return
		}
		homeTemplate.dir = filepath.Join(dir, "home")
		out, err := exec.Command("node", filepath.Join(root, "server", "bin", "switchboard.js"), "init", "--home", homeTemplate.dir, "--network", testNetwork, "--moniker", "template").CombinedOutput()
		if err != nil {
			homeTemplate.err = fmt.Errorf("switchboard init: %v\n%s", err, out)
		}
	})
	if homeTemplate.err != nil {
		t.Fatal(homeTemplate.err)
	}
	return homeTemplate.dir
}

// newHome copies the template's config and writes a fresh node key
// (CometBFT's node_key.json); it returns the node ID, hex of the first 20
// bytes of SHA-256 of the public key. R1 checks it against the node's own.
func newHome(t *testing.T, root, home string) string {
	t.Helper()
	cfg, err := os.ReadFile(filepath.Join(templateHome(t, root), "config", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key := fmt.Sprintf(`{"priv_key":{"type":"tendermint/PrivKeyEd25519","value":"%s"}}`, base64.StdEncoding.EncodeToString(priv))
	if err := os.MkdirAll(filepath.Join(home, "config"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "config.toml"), cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(home, "config", "node_key.json"), []byte(key), 0o600); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pub)
	return hex.EncodeToString(sum[:20])
}

// startNode starts a node with a fresh home on free loopback ports;
// t.Cleanup kills it (and prints its log when the test failed).
func startNode(t *testing.T, name string, cfg nodeConfig) *testNode {
	t.Helper()
	root := repoRoot(t)
	script := filepath.Join(root, "server", "bin", "switchboard.js")
	home := filepath.Join(t.TempDir(), name)
	id := newHome(t, root, home)
	ports := freePorts(t, 2)
	n := &testNode{t: t, name: name, id: id, p2pPort: ports[0], grpc: fmt.Sprintf("127.0.0.1:%d", ports[1]), out: &syncBuffer{}, exited: make(chan struct{})}
	reactors := cfg.reactors
	if reactors == "" {
		reactors = "app"
	}
	args := []string{script, "start", "--home", home,
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", n.p2pPort),
		"--grpc.laddr", "tcp://" + n.grpc,
		"--grpc.reactors", reactors,
		"--p2p.allow_duplicate_ip", "true",
		"--p2p.pex", "false",
		"--moniker", name,
	}
	if len(cfg.persistentPeers) > 0 {
		var addrs []string
		for _, p := range cfg.persistentPeers {
			addrs = append(addrs, p.addr())
		}
		args = append(args, "--p2p.persistent_peers", strings.Join(addrs, ","))
	}
	args = append(args, cfg.extra...)
	n.cmd = exec.Command("node", args...)
	n.cmd.Dir = root
	n.cmd.Stdout = n.out
	n.cmd.Stderr = n.out
	setPdeathsig(n.cmd)
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("starting node %s: %v", name, err)
	}
	go func() {
		_ = n.cmd.Wait()
		close(n.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-n.exited:
		default:
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
		if t.Failed() {
			t.Logf("--- node %s (%s) output ---\n%s", name, n.id, tail(n.out.String(), 60))
		}
	})
	return n
}

// addr is id@127.0.0.1:port, for dialing the node.
func (n *testNode) addr() string { return fmt.Sprintf("%s@127.0.0.1:%d", n.id, n.p2pPort) }

// stop sends SIGTERM and waits for the process to exit.
func (n *testNode) stop() {
	n.t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.exited:
	case <-time.After(15 * time.Second):
		n.t.Fatalf("node %s ignored SIGTERM for 15 s", n.name)
	}
}

// handedOut remembers the ports given to this test binary, so that two
// tests running in parallel never get the same one (a node binds its p2p
// port only once its reactors attached, seconds after the port was picked).
var handedOut = struct {
	sync.Mutex
	ports map[int]bool
}{ports: map[int]bool{}}

// Ports are picked below Linux's ephemeral range (32768-60999 by default):
// a port picked there and released could be taken, during the seconds
// before the node binds it, as the local port of any outgoing connection
// on the machine (seen in CI as "address already in use").
const (
	firstTestPort = 20000
	lastTestPort  = 32000
)

// freePorts picks n loopback ports that are free now, outside the ephemeral
// range, and not handed out before to this test binary.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	var ports []int
	for attempt := 0; len(ports) < n; attempt++ {
		if attempt > 10000 {
			t.Fatalf("no free loopback port in %d-%d", firstTestPort, lastTestPort)
		}
		var b [2]byte
		if _, err := rand.Read(b[:]); err != nil {
			t.Fatal(err)
		}
		port := firstTestPort + (int(b[0])<<8|int(b[1]))%(lastTestPort-firstTestPort)
		if handedOut.ports[port] {
			continue
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			continue // in use
		}
		_ = l.Close()
		handedOut.ports[port] = true
		ports = append(ports, port)
	}
	return ports
}

// attachTo attaches a client to the node; Attach retries while the node's
// gateway comes up, for at most 30 s. The client lives until the test ends.
func attachTo(t *testing.T, target string, o Options) *Client {
	t.Helper()
	c, err := tryAttach(t, target, o)
	if err != nil {
		t.Fatalf("Attach %s to %s: %v", o.Name, target, err)
	}
	return c
}

func tryAttach(t *testing.T, target string, o Options) (*Client, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	watchdog := time.AfterFunc(30*time.Second, cancel)
	defer watchdog.Stop()
	if o.Backoff == (Backoff{}) {
		o.Backoff = Backoff{Initial: 50 * time.Millisecond, Max: 250 * time.Millisecond}
	}
	c, err := Attach(ctx, target, o)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = c.Close() })
	return c, nil
}

// appOptions is the scenarios' reactor: "app" on channel 0x70 (priority 5, send queue 100).
func appOptions() Options {
	return Options{Name: "app", Channels: []ChannelDescriptor{{ID: 0x70, Priority: 5, SendQueueCapacity: 100}}}
}

// recorder collects a client's events as the application would.
type recorder struct {
	mu     sync.Mutex
	events []Event
	closed chan struct{}
	c      *Client
}

// record starts taking c's events (as fast as they come).
func record(c *Client) *recorder { return recordWith(c, nil) }

// recordWith calls each before keeping an event (to consume slowly, or count).
func recordWith(c *Client, each func(Event)) *recorder {
	r := &recorder{closed: make(chan struct{}), c: c}
	go func() {
		defer close(r.closed)
		for ev := range c.Events() {
			if each != nil {
				each(ev)
			}
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
		}
	}()
	return r
}

func (r *recorder) snapshot() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

// waitFor polls until pred holds on the events so far (15 s at most).
func (r *recorder) waitFor(t *testing.T, what string, pred func([]Event) bool) []Event {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		evs := r.snapshot()
		if pred(evs) {
			return evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; events so far: %s", what, describeTrace(evs))
		}
		select {
		case <-r.closed:
			if evs := r.snapshot(); pred(evs) {
				return evs
			}
			t.Fatalf("events ended (Err: %v) before %s; events: %s", r.c.Err(), what, describeTrace(r.snapshot()))
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// waitClosed waits for Events to close.
func (r *recorder) waitClosed(t *testing.T) {
	t.Helper()
	select {
	case <-r.closed:
	case <-time.After(15 * time.Second):
		t.Fatalf("Events did not close; events: %s", describeTrace(r.snapshot()))
	}
}

func count[T Event](evs []Event) int {
	n := 0
	for _, e := range evs {
		if _, ok := e.(T); ok {
			n++
		}
	}
	return n
}

func first[T Event](evs []Event) (T, bool) {
	for _, e := range evs {
		if v, ok := e.(T); ok {
			return v, true
		}
	}
	var zero T
	return zero, false
}

func has[T Event](n int) func([]Event) bool {
	return func(evs []Event) bool { return count[T](evs) >= n }
}

// proxy forwards TCP connections to a target; the test can cut the
// connections going through it and refuse new ones.
type proxy struct {
	t       *testing.T
	ln      net.Listener
	target  string
	mu      sync.Mutex
	conns   map[net.Conn]struct{}
	refused bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{t: t, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		_ = ln.Close()
		p.cut()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		in, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		refused := p.refused
		p.mu.Unlock()
		if refused {
			_ = in.Close()
			continue
		}
		out, err := net.Dial("tcp", p.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		p.mu.Lock()
		p.conns[in], p.conns[out] = struct{}{}, struct{}{}
		p.mu.Unlock()
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
		}
		go pipe(out, in)
		go pipe(in, out)
	}
}

// cut closes every connection going through the proxy.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		_ = c.Close()
		delete(p.conns, c)
	}
}

// refuse makes the proxy close new connections at once (or not).
func (p *proxy) refuse(on bool) {
	p.mu.Lock()
	p.refused = on
	p.mu.Unlock()
}
