package examples_test

// End-to-end tests of the Go examples, for CI: the example binaries run
// against real Switchboard nodes (and a real CometBFT v0.38 node), all
// started as child processes and killed when each test ends.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot walks up from the test directory to the directory holding server/bin/switchboard.js.
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

// lines collects a process's output line by line.
type lines struct {
	mu    sync.Mutex
	all   []string
	part  []byte
	added chan struct{}
}

func newLines() *lines { return &lines{added: make(chan struct{}, 1)} }

func (l *lines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.part = append(l.part, p...)
	for {
		i := bytes.IndexByte(l.part, '\n')
		if i < 0 {
			break
		}
		l.all = append(l.all, string(l.part[:i]))
		l.part = l.part[i+1:]
	}
	select {
	case l.added <- struct{}{}:
	default:
	}
	return len(p), nil
}

func (l *lines) snapshot() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

func (l *lines) tail(n int) string {
	s := l.snapshot()
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.Join(s, "\n")
}

// proc is a child process killed when the test ends; its output is shown if the test failed.
type proc struct {
	name     string
	cmd      *exec.Cmd
	out, err *lines
	exited   chan struct{}
}

func spawn(t *testing.T, name, dir string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(bin, args...), out: newLines(), err: newLines(), exited: make(chan struct{})}
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.err
	setPdeathsig(p.cmd)
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", name, err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("--- %s stdout ---\n%s\n--- %s stderr ---\n%s", name, p.out.tail(30), name, p.err.tail(40))
		}
	})
	return p
}

// waitLine waits until pred accepts some stdout lines, for at most d.
func (p *proc) waitLines(t *testing.T, d time.Duration, what string, pred func([]string) bool) []string {
	t.Helper()
	deadline := time.After(d)
	for {
		if s := p.out.snapshot(); pred(s) {
			return s
		}
		select {
		case <-p.out.added:
		case <-time.After(50 * time.Millisecond):
		case <-p.exited:
			if s := p.out.snapshot(); pred(s) {
				return s
			}
			t.Fatalf("%s exited before %s", p.name, what)
		case <-deadline:
			t.Fatalf("%s: timed out after %v waiting for %s", p.name, d, what)
		}
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

// buildExamples builds the example binaries once per test binary.
var built struct {
	once sync.Once
	dir  string
	err  error
}

func exampleBin(t *testing.T, name string) string {
	t.Helper()
	built.once.Do(func() {
		built.dir, built.err = os.MkdirTemp("", "sb-go-examples-")
		if built.err != nil {
			return
		}
		for _, ex := range []string{"ping-pong", "blocksync-follower"} {
			out, err := exec.Command("go", "build", "-o", filepath.Join(built.dir, ex), "./"+ex).CombinedOutput()
			if err != nil {
				built.err = fmt.Errorf("go build ./%s: %v\n%s", ex, err, out)
				return
			}
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return filepath.Join(built.dir, name)
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// sbNode is a Switchboard node started with the CLI.
type sbNode struct {
	id      string
	p2pPort int
	grpc    string
}

var nodeIDLine = regexp.MustCompile(`node ID: ([0-9a-f]{40})`)

func startSwitchboard(t *testing.T, name, network, reactors string, flags ...string) (*sbNode, *proc) {
	t.Helper()
	root := repoRoot(t)
	script := filepath.Join(root, "server", "bin", "switchboard.js")
	home := filepath.Join(t.TempDir(), name)
	out, err := exec.Command("node", script, "init", "--home", home, "--network", network, "--moniker", name).CombinedOutput()
	if err != nil {
		t.Fatalf("switchboard init: %v\n%s", err, out)
	}
	m := nodeIDLine.FindSubmatch(out)
	if m == nil {
		t.Fatalf("switchboard init printed no node ID:\n%s", out)
	}
	ports := freePorts(t, 2)
	n := &sbNode{id: string(m[1]), p2pPort: ports[0], grpc: fmt.Sprintf("127.0.0.1:%d", ports[1])}
	args := append([]string{script, "start", "--home", home,
		"--p2p.laddr", fmt.Sprintf("tcp://127.0.0.1:%d", n.p2pPort),
		"--grpc.laddr", "tcp://" + n.grpc,
		"--grpc.reactors", reactors,
		"--p2p.allow_duplicate_ip", "true",
		"--p2p.pex", "false",
	}, flags...)
	return n, spawn(t, "switchboard "+name, root, "node", args...)
}

func (n *sbNode) addr() string { return fmt.Sprintf("%s@127.0.0.1:%d", n.id, n.p2pPort) }

// rttLines returns the ping-pong RTT lines about peer.
func rttLines(s []string, peer string) int {
	n := 0
	for _, l := range s {
		var r struct {
			Event string  `json:"event"`
			Peer  string  `json:"peer"`
			RTTMs float64 `json:"rtt_ms"`
		}
		if json.Unmarshal([]byte(l), &r) == nil && r.Event == "rtt" && r.Peer == peer && r.RTTMs >= 0 {
			n++
		}
	}
	return n
}

func TestPingPongBetweenTwoNodes(t *testing.T) {
	t.Parallel()
	b, _ := startSwitchboard(t, "b", "pingpong-net", "ping-pong")
	a, _ := startSwitchboard(t, "a", "pingpong-net", "ping-pong", "--p2p.persistent_peers", b.addr())
	bin := exampleBin(t, "ping-pong")
	pa := spawn(t, "ping-pong on A", "", bin, "--grpc", a.grpc)
	pb := spawn(t, "ping-pong on B", "", bin, "--grpc", b.grpc)
	pa.waitLines(t, 60*time.Second, "an RTT line about B", func(s []string) bool { return rttLines(s, b.id) > 0 })
	pb.waitLines(t, 60*time.Second, "an RTT line about A", func(s []string) bool { return rttLines(s, a.id) > 0 })
}

// cometBFT is a single-validator CometBFT node with the kvstore app.
type cometBFT struct {
	id      string
	chainID string
	p2pPort int
	rpc     string
	p       *proc
}

// setToml sets "section.key" (or "key" at the top) to a TOML literal.
func setToml(text string, values map[string]string) string {
	ls := strings.Split(text, "\n")
	section := ""
	header := regexp.MustCompile(`^\s*\[([^\]]+)\]`)
	assign := regexp.MustCompile(`^\s*([A-Za-z0-9_-]+)\s*=`)
	for i, l := range ls {
		if m := header.FindStringSubmatch(l); m != nil {
			section = strings.TrimSpace(m[1])
			continue
		}
		m := assign.FindStringSubmatch(l)
		if m == nil {
			continue
		}
		full := m[1]
		if section != "" {
			full = section + "." + m[1]
		}
		if v, ok := values[full]; ok {
			ls[i] = m[1] + " = " + v
			delete(values, full)
		}
	}
	for k := range values {
		panic("config.toml has no key " + k)
	}
	return strings.Join(ls, "\n")
}

func startCometBFT(t *testing.T) *cometBFT {
	t.Helper()
	bin := os.Getenv("COMETBFT_BIN")
	if bin == "" {
		bin = filepath.Join(repoRoot(t), ".cache", "bin", "cometbft")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("CometBFT binary not found at %s: run `bash scripts/install-cometbft.sh` at the repository root (installs v0.38 into .cache/bin) or set COMETBFT_BIN", bin)
	}
	home := filepath.Join(t.TempDir(), "cometbft")
	if out, err := exec.Command(bin, "init", "--home", home).CombinedOutput(); err != nil {
		t.Fatalf("cometbft init: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "show-node-id", "--home", home).Output()
	if err != nil {
		t.Fatalf("cometbft show-node-id: %v", err)
	}
	c := &cometBFT{id: strings.TrimSpace(string(out))}
	var genesis struct {
		ChainID string `json:"chain_id"`
	}
	g, err := os.ReadFile(filepath.Join(home, "config", "genesis.json"))
	if err == nil {
		err = json.Unmarshal(g, &genesis)
	}
	if err != nil || genesis.ChainID == "" {
		t.Fatalf("reading the chain ID from genesis.json: %v", err)
	}
	c.chainID = genesis.ChainID
	ports := freePorts(t, 2)
	c.p2pPort, c.rpc = ports[0], fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	cfgPath := filepath.Join(home, "config", "config.toml")
	cfg, err := os.ReadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	edited := setToml(string(cfg), map[string]string{
		"proxy_app":                `"kvstore"`,
		"moniker":                  `"cometbft-e2e"`,
		"rpc.laddr":                fmt.Sprintf(`"tcp://127.0.0.1:%d"`, ports[1]),
		"p2p.laddr":                fmt.Sprintf(`"tcp://127.0.0.1:%d"`, c.p2pPort),
		"p2p.allow_duplicate_ip":   "true",
		"p2p.addr_book_strict":     "false",
		"p2p.persistent_peers":     `""`,
		"consensus.timeout_commit": `"500ms"`,
	})
	if err := os.WriteFile(cfgPath, []byte(edited), 0o600); err != nil {
		t.Fatal(err)
	}
	c.p = spawn(t, "cometbft", "", bin, "start", "--home", home)
	c.waitHeight(t, 1)
	return c
}

// rpc GETs a CometBFT RPC method and decodes its result.
func (c *cometBFT) rpcCall(method string, result any) error {
	client := http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(c.rpc + "/" + method)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  json.RawMessage `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("%s: not JSON: %.200s", method, body)
	}
	if len(env.Error) > 0 {
		return fmt.Errorf("%s: %s", method, env.Error)
	}
	return json.Unmarshal(env.Result, result)
}

func (c *cometBFT) height() (int64, error) {
	var st struct {
		SyncInfo struct {
			LatestBlockHeight string `json:"latest_block_height"`
		} `json:"sync_info"`
	}
	if err := c.rpcCall("status", &st); err != nil {
		return 0, err
	}
	return strconv.ParseInt(st.SyncInfo.LatestBlockHeight, 10, 64)
}

func (c *cometBFT) waitHeight(t *testing.T, h int64) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		got, err := c.height()
		if err == nil && got >= h {
			return
		}
		select {
		case <-c.p.exited:
			t.Fatalf("cometbft exited while waiting for height %d", h)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("cometbft did not reach height %d in 60 s (last: %d, %v)", h, got, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// rpcBlock is what /block?height=H says about a block.
type rpcBlock struct {
	Block struct {
		Header struct {
			ChainID string `json:"chain_id"`
			Height  string `json:"height"`
			Time    string `json:"time"`
		} `json:"header"`
		Data struct {
			Txs []string `json:"txs"`
		} `json:"data"`
	} `json:"block"`
}

// followerLine is one line of the blocksync follower.
type followerLine struct {
	Height  int64  `json:"height"`
	ChainID string `json:"chain_id"`
	Time    string `json:"time"`
	NumTxs  int    `json:"num_txs"`
}

func parseFollower(t *testing.T, s []string) []followerLine {
	t.Helper()
	var out []followerLine
	for _, l := range s {
		var f followerLine
		if err := json.Unmarshal([]byte(l), &f); err != nil {
			t.Fatalf("follower printed a line that is not JSON: %q", l)
		}
		out = append(out, f)
	}
	return out
}

func TestBlocksyncFollowerMatchesCometBFT(t *testing.T) {
	t.Parallel()
	cmt := startCometBFT(t)
	// Some transactions, so that blocks carry some.
	for i := 0; i < 3; i++ {
		var res struct {
			Code int `json:"code"`
		}
		tx := hex.EncodeToString([]byte(fmt.Sprintf("go-e2e-%d=%d", i, time.Now().UnixNano())))
		if err := cmt.rpcCall("broadcast_tx_sync?tx=0x"+tx, &res); err != nil || res.Code != 0 {
			t.Fatalf("broadcast_tx_sync: %v (code %d)", err, res.Code)
		}
	}
	const n = 6
	cmt.waitHeight(t, n)

	sb, _ := startSwitchboard(t, "follower-node", cmt.chainID, "blocksync", "--p2p.persistent_peers", fmt.Sprintf("%s@127.0.0.1:%d", cmt.id, cmt.p2pPort))
	f := spawn(t, "blocksync-follower", "", exampleBin(t, "blocksync-follower"), "--grpc", sb.grpc)
	got := parseFollower(t, f.waitLines(t, 60*time.Second, fmt.Sprintf("blocks 1..%d", n), func(s []string) bool { return len(s) >= n }))

	txs := 0
	for i, line := range got[:n] {
		h := int64(i + 1)
		if line.Height != h {
			t.Fatalf("line %d is height %d, want %d (lines must start at 1 and go up by one)", i, line.Height, h)
		}
		var b rpcBlock
		if err := cmt.rpcCall(fmt.Sprintf("block?height=%d", h), &b); err != nil {
			t.Fatal(err)
		}
		want := followerLine{Height: h, ChainID: b.Block.Header.ChainID, Time: b.Block.Header.Time, NumTxs: len(b.Block.Data.Txs)}
		if b.Block.Header.Height != strconv.FormatInt(h, 10) {
			t.Fatalf("RPC /block?height=%d returned height %s", h, b.Block.Header.Height)
		}
		if line != want {
			t.Errorf("height %d: follower %+v, RPC %+v", h, line, want)
		}
		txs += want.NumTxs
	}
	if txs == 0 {
		t.Errorf("no transactions in blocks 1..%d: the comparison of num_txs proved nothing", n)
	}
	// It keeps up: blocks made after it caught up arrive too.
	latest, err := cmt.height()
	if err != nil {
		t.Fatal(err)
	}
	f.waitLines(t, 30*time.Second, fmt.Sprintf("height %d (a new block)", latest+2), func(s []string) bool {
		return len(s) > 0 && len(s) >= int(latest+2)
	})
}
