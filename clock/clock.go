// Package clock gives synack its notion of time. The TCP engine never reads
// a clock: the stack reads one of these and passes "now" in. Production uses
// Real; simulations use a Virtual clock that only moves when told to.
package clock

import (
	"sync"
	"time"
)

// Clock tells the current time.
type Clock interface {
	Now() time.Time
}

// Real is the system's clock.
type Real struct{}

// realBase is the reading Real's times are reckoned from.
var realBase = time.Now()

// Now returns the current time: the wall clock at the process's start
// advanced by the monotonic clock since. It reads one clock where
// time.Now reads two (the wall and the monotonic one), which on a
// virtual machine's kvm-clock is 35 ns rather than 53, a few times per
// segment. Its times carry the monotonic reading, as time.Now's do, so
// they compare and subtract with time.Now's exactly; a step of the
// system's wall clock (NTP, an operator) does not move them, which is
// what the engine's timers and timestamps want anyway.
func (Real) Now() time.Time { return realBase.Add(time.Since(realBase)) }

// Epoch is where every Virtual clock starts: a fixed instant, so that runs
// under the virtual clock print the same times every time.
var Epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

// Virtual is a clock that moves only by Set and Advance. It is safe for
// concurrent use.
type Virtual struct {
	mu  sync.Mutex
	now time.Time
}

// NewVirtual returns a virtual clock reading Epoch.
func NewVirtual() *Virtual { return &Virtual{now: Epoch} }

// Now returns the clock's current reading.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Set moves the clock to t; it never moves backwards.
func (v *Virtual) Set(t time.Time) {
	v.mu.Lock()
	if t.After(v.now) {
		v.now = t
	}
	v.mu.Unlock()
}

// Advance moves the clock forward by d.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	if d > 0 {
		v.now = v.now.Add(d)
	}
	v.mu.Unlock()
}
