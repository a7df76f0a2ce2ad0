package switchboard

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"google.golang.org/grpc/codes"
)

// unreachable tells the person running the reactor that the node cannot be
// reached: at Warn on the first failed attempt, then at most every
// `every` while it lasts, with the next retry; at Info once it is reached.
type unreachable struct {
	log    *slog.Logger
	name   string
	target string
	every  time.Duration
	now    func() time.Time

	attempts int
	since    time.Time
	warned   time.Time // zero: not warned
}

func newUnreachable(log *slog.Logger, name, target string, every time.Duration, now func() time.Time) *unreachable {
	return &unreachable{log: log, name: name, target: target, every: every, now: now}
}

// isUnavailable says whether err is an attempt that found the node unreachable.
func isUnavailable(err error) bool {
	var ae *AttachError
	return errors.As(err, &ae) && ae.Code == codes.Unavailable
}

// failed records a failed attempt (err: Unavailable) and warns when due; retryIn is the next wait.
func (u *unreachable) failed(err error, retryIn time.Duration) {
	now := u.now()
	if u.attempts == 0 {
		u.since = now
	}
	u.attempts++
	if !u.warned.IsZero() && now.Sub(u.warned) < u.every {
		return
	}
	u.warned = now
	why := err.Error()
	var ae *AttachError
	if errors.As(err, &ae) {
		why = fmt.Sprintf("%s: %s", ae.Code, ae.Message)
	}
	retryIn = retryIn.Round(time.Millisecond)
	attrs := []any{"target", u.target, "attempt", u.attempts, "retry_in", retryIn}
	if u.attempts == 1 {
		u.log.Warn(fmt.Sprintf("reactor %q: cannot reach the node at %s (%s): %s; retrying in %s, and until Attach's context ends; this is reported again every %s while it lasts",
			u.name, u.target, why, attachHint(codes.Unavailable, "", u.name, u.target), retryIn, u.every), attrs...)
		return
	}
	u.log.Warn(fmt.Sprintf("reactor %q: still cannot reach the node at %s after %d attempts in %s (%s); retrying in %s",
		u.name, u.target, u.attempts, now.Sub(u.since).Round(time.Second), why, retryIn), attrs...)
}

// reached records a successful attempt, saying so if the node had been reported unreachable.
func (u *unreachable) reached() {
	if !u.warned.IsZero() {
		u.log.Info(fmt.Sprintf("reactor %q: reached the node at %s after %d failed attempts in %s",
			u.name, u.target, u.attempts, u.now().Sub(u.since).Round(time.Millisecond)), "target", u.target, "attempts", u.attempts)
	}
	u.attempts = 0
	u.warned = time.Time{}
}
