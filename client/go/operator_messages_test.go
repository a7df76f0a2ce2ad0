package switchboard

// What a person running a reactor sees: a refusal names the reactor, the
// node and what to do; an unreachable node is reported instead of retried
// in silence (also without a Logger).

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	gatewayv1 "github.com/switchboard-p2p/switchboard/client/go/gen/switchboard/gateway/v1"
)

// logRecords is a slog.Handler that keeps every record.
type logRecords struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (l *logRecords) Enabled(context.Context, slog.Level) bool { return true }
func (l *logRecords) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.recs = append(l.recs, r.Clone())
	return nil
}
func (l *logRecords) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecords) WithGroup(string) slog.Handler      { return l }

// at returns the messages logged at level.
func (l *logRecords) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, r := range l.recs {
		if r.Level == level {
			out = append(out, r.Message)
		}
	}
	return out
}

func refusedWith(t *testing.T, name string, err error) *AttachError {
	t.Helper()
	f := newFakeNode(t)
	o := Options{Name: name}
	ch := attachAsync(t, f, o)
	s := f.next()
	s.register()
	s.fail(err, "ERROR_REASON_UNSPECIFIED")
	a := <-ch
	var ae *AttachError
	if !errors.As(a.err, &ae) {
		t.Fatalf("err = %v, want an *AttachError", a.err)
	}
	return ae
}

func TestATakenNameSaysWhichAndWhatToDo(t *testing.T) {
	ae := refusedWith(t, "app", status.Error(codes.AlreadyExists, `reactor "app" is attached on another stream`))
	want := `switchboard: reactor "app": the node at passthrough:///fake refused it: AlreadyExists: reactor "app" is attached on another stream: ` +
		`the name "app" is taken on that node (by another process, or by another Client in this one): stop that reactor, or give this one another name`
	if ae.Error() != want {
		t.Fatalf("Error() =\n%s\nwant\n%s", ae.Error(), want)
	}
	if ae.Message != `reactor "app" is attached on another stream` || ae.Reactor != "app" || !strings.HasPrefix(ae.Hint, `the name "app" is taken`) {
		t.Fatalf("fields: %+v", ae)
	}
}

func TestATakenChannelSaysWhatToDoAboutTheChannel(t *testing.T) {
	ae := refusedWith(t, "other", status.Error(codes.AlreadyExists, `channel 0x70 of reactor "other" is already owned by reactor "app"`))
	if want := `already owned by reactor "app": another reactor on that node holds that channel: give this reactor channel IDs of its own, or stop the other reactor`; !strings.HasSuffix(ae.Error(), want) {
		t.Fatalf("Error() = %s, want it to end with %s", ae.Error(), want)
	}
}

func TestAnAttachErrorMadeByHandKeepsItsFormat(t *testing.T) {
	ae := &AttachError{Code: codes.FailedPrecondition, Reason: ReasonNodeNotRunning, Message: "the node has started"}
	if want := "switchboard: attach refused: FailedPrecondition (ERROR_REASON_NODE_NOT_RUNNING): the node has started"; ae.Error() != want {
		t.Fatalf("Error() = %s, want %s", ae.Error(), want)
	}
}

func TestAnUnreachableNodeIsReportedAtOnceThenPeriodicallyThenReached(t *testing.T) {
	f := newFakeNode(t)
	logs := &logRecords{}
	// A clock that advances 10 s per reading: failures at 0, 10, 20, ... 70 s, reached at 80 s.
	var mu sync.Mutex
	now := time.Unix(0, 0)
	clock := func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		at := now
		now = now.Add(10 * time.Second)
		return at
	}
	ch := attachAsync(t, f, Options{
		Logger:  slog.New(logs),
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 10 * time.Millisecond},
		clock:   clock,
	})
	const failures = 8
	for range failures {
		s := f.next()
		s.register()
		s.fail(status.Error(codes.Unavailable, "connection refused"), "")
	}
	s := f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", NextEventSeq: 1})
	must(t, ch) // the retries go on as before

	warns := logs.at(slog.LevelWarn)
	// At the first failure, then at most every 30 s: the failures at 0, 30 and 60 s.
	if len(warns) != 3 {
		t.Fatalf("%d warnings for %d failures 10 s apart, want 3: %q", len(warns), failures, warns)
	}
	first := regexp.MustCompile(`^reactor "app": cannot reach the node at passthrough:///fake \(Unavailable: connection refused\): ` +
		`check that the node is running and that passthrough:///fake is its grpc\.laddr; retrying in \d+ms, and until Attach's context ends; ` +
		`this is reported again every 30s while it lasts$`)
	if !first.MatchString(warns[0]) {
		t.Fatalf("first warning: %q", warns[0])
	}
	for i, want := range []string{"after 4 attempts in 30s", "after 7 attempts in 1m0s"} {
		later := regexp.MustCompile(`^reactor "app": still cannot reach the node at passthrough:///fake ` + want + ` \(Unavailable: connection refused\); retrying in \d+ms$`)
		if !later.MatchString(warns[i+1]) {
			t.Fatalf("warning %d: %q, want %q", i+2, warns[i+1], want)
		}
	}
	infos := logs.at(slog.LevelInfo)
	if want := `reactor "app": reached the node at passthrough:///fake after 8 failed attempts in 1m20s`; len(infos) != 1 || infos[0] != want {
		t.Fatalf("infos: %q, want %q", infos, want)
	}
}

func TestReattachingToAnUnreachableNodeIsReported(t *testing.T) {
	logs := &logRecords{}
	f, s, _, _ := start(t, Options{Logger: slog.New(logs), Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 5 * time.Millisecond}})
	s.fail(status.Error(codes.Unavailable, "cut"), "")
	for range 2 {
		s = f.next()
		s.register()
		s.fail(status.Error(codes.Unavailable, "down"), "")
	}
	s = f.next()
	s.register()
	s.registered(&gatewayv1.Registered{SessionToken: "tok", Resumed: true, NextEventSeq: 1})
	deadline := time.Now().Add(5 * time.Second)
	for len(logs.at(slog.LevelInfo)) == 0 || !strings.Contains(strings.Join(logs.at(slog.LevelInfo), "\n"), "reached") {
		if time.Now().After(deadline) {
			t.Fatalf("no 'reached' line: %q", logs.at(slog.LevelInfo))
		}
		time.Sleep(5 * time.Millisecond)
	}
	warns := logs.at(slog.LevelWarn)
	if len(warns) != 1 || !strings.HasPrefix(warns[0], `reactor "app": cannot reach the node at passthrough:///fake (Unavailable: down): check that`) {
		t.Fatalf("warnings: %q (the cut itself is not one; the first failed re-attach is)", warns)
	}
}

// Without Options.Logger the warning still reaches a person: slog.Default (stderr).
func TestWithoutALoggerTheUnreachableNodeIsReportedOnStderr(t *testing.T) {
	if os.Getenv("SB_GO_TEST_CHILD") == "unreachable" {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		_, err := Attach(ctx, "127.0.0.1:1", Options{Name: "app", Channels: []ChannelDescriptor{{ID: 0x70, Priority: 5}}, Backoff: Backoff{Initial: 50 * time.Millisecond}})
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v", err)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWithoutALoggerTheUnreachableNodeIsReportedOnStderr$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SB_GO_TEST_CHILD=unreachable")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	want := regexp.MustCompile(`(?m)WARN reactor "app": cannot reach the node at 127\.0\.0\.1:1 \(Unavailable: .*connection refused.*\): ` +
		`check that the node is running and that 127\.0\.0\.1:1 is its grpc\.laddr; retrying in \d+ms`)
	if !want.Match(out) {
		t.Fatalf("child's output has no warning:\n%s", out)
	}
	if n := strings.Count(string(out), "cannot reach"); n != 1 {
		t.Fatalf("%d warnings in 300 ms, want 1:\n%s", n, out)
	}
	if strings.Contains(string(out), "INFO") {
		t.Fatalf("Info lines without a Logger:\n%s", out)
	}
}
