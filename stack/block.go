package stack

import (
	"context"
	"errors"
	"os"
	"sync"
	"syscall"
	"time"
)

// ErrNoProgress is returned (in a *net.OpError) by a blocking call in
// manual mode when the Runner reports that nothing is left to happen before
// the call could complete.
var ErrNoProgress = errors.New("stack: the simulation can make no progress")

// block waits once for something to change. In real-time mode that is ch
// being closed, deadline passing or ctx being done (any of them may be
// nil/zero). In manual mode it runs the world through the Runner until
// ready() — which takes the locks it needs — holds or the deadline
// passes. Either way the caller looks again; block returns an error only
// when waiting can never succeed.
func (s *Stack) block(ch chan struct{}, deadline time.Time, ctx context.Context, ready func() bool) error {
	return s.blockAt(ch, deadline, time.Time{}, ctx, ready)
}

// blockAt is block for a caller that has just read the clock (now; zero
// if it has not), so that a deadline's timer costs no second read.
func (s *Stack) blockAt(ch chan struct{}, deadline, now time.Time, ctx context.Context, ready func() bool) error {
	var done <-chan struct{}
	if ctx != nil {
		done = ctx.Done()
	}
	if s.runner == nil {
		if deadline.IsZero() {
			select {
			case <-ch:
			case <-done:
			}
			return nil
		}
		if now.IsZero() {
			now = s.clock.Now()
		}
		t := getTimer(deadline.Sub(now))
		select {
		case <-ch:
		case <-t.C:
		case <-done:
		}
		putTimer(t)
		return nil
	}
	cond := func() bool {
		if ctx != nil && ctx.Err() != nil {
			return true
		}
		return ready()
	}
	if s.runner.RunUntil(cond, deadline) || cond() {
		return nil
	}
	if !deadline.IsZero() && !s.clock.Now().Before(deadline) {
		return nil
	}
	return ErrNoProgress
}

// wrapErrno puts a bare errno into an *os.SyscallError named after op, as
// package net does; errors.Is(err, syscall.ECONNRESET) and the like hold
// either way.
func wrapErrno(op string, err error) error {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		return os.NewSyscallError(op, errno)
	}
	return err
}

// timers recycles the timers of blocking calls with a deadline, so that
// a blocked Read or Write allocates none. Since Go 1.23 a stopped timer's
// channel holds no stale value, so a recycled timer cannot fire early.
var timers sync.Pool

func getTimer(d time.Duration) *time.Timer {
	if t, ok := timers.Get().(*time.Timer); ok {
		t.Reset(d)
		return t
	}
	return time.NewTimer(d)
}

func putTimer(t *time.Timer) {
	t.Stop()
	timers.Put(t)
}
