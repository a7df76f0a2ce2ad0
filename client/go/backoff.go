package switchboard

import (
	"context"
	"math/rand"
	"time"
)

// backoffTimer yields the waits between attempts: Initial, growing by
// Multiplier up to Max, each randomised by ±Jitter; reset after success.
type backoffTimer struct {
	cfg  Backoff
	next time.Duration
}

func newBackoffTimer(cfg Backoff) *backoffTimer { return &backoffTimer{cfg: cfg, next: cfg.Initial} }

func (b *backoffTimer) reset() { b.next = b.cfg.Initial }

// wait returns the next wait and grows the one after.
func (b *backoffTimer) wait() time.Duration {
	d := b.next
	b.next = min(time.Duration(float64(b.next)*b.cfg.Multiplier), b.cfg.Max)
	if b.cfg.Jitter > 0 {
		d = time.Duration(float64(d) * (1 + b.cfg.Jitter*(2*rand.Float64()-1)))
	}
	return d
}

// sleep waits d or until ctx ends; false when ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
