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

// block waits once for something to change: ch closed, deadline passed,
// ctx done or ready() true (any of them may be nil/zero; ready takes the
// locks it needs). The caller looks again; block returns an error only
// when waiting can never succeed. The driver does the waiting
// (driver.go).
func (s *Stack) block(ch chan struct{}, deadline time.Time, ctx context.Context, ready func() bool) error {
	return s.drv.block(ch, deadline, time.Time{}, ctx, ready)
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
