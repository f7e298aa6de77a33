package tcp

import (
	"testing"
	"time"

	"github.com/synack/synack/clock"
)

// An active open takes Config.TSOffset as its TSval clock's offset (a
// stack sets one per pair of addresses); without one the offset comes
// from the ISS, per connection.
func TestTSOffset_ActiveOpenTakesConfig(t *testing.T) {
	cfg := Config{DisableSACK: true, DisableWScale: true, TSOffset: 7_000_000}
	h := active(t, cfg)
	v := uint32(h.now.UnixMilli()) + 7_000_000
	h.out(seg{flags: "S", seq: iss, win: 65535, opts: o(mss(1460), ts(v, 0))})
	cfg.TSOffset = 0
	h2 := active(t, cfg)
	if got, want := h2.tsval(), uint32(h2.now.UnixMilli())+tsOffsetFor(iss); got != want {
		t.Fatalf("TSval without TSOffset %d, want %d (from the ISS)", got, want)
	}
}

// The TSval clock follows the monotonic clock of times that carry one
// (time.Now), from the wall clock at instantBase, so a step of the wall
// clock cannot move it back; a virtual clock's times are read to the
// nanosecond, as their own milliseconds.
func TestTSClock_MonotonicFromWallBase(t *testing.T) {
	for _, v := range []time.Time{clock.Epoch, clock.Epoch.Add(999_999 * time.Nanosecond), clock.Epoch.Add(90*time.Minute + 1500*time.Microsecond)} {
		if got, want := tsClock(v), uint32(v.UnixMilli()); got != want {
			t.Errorf("tsClock(%v) = %d, want its UnixMilli %d", v, got, want)
		}
	}
	now := time.Now() // monotonic
	later := now.Add(1234 * time.Millisecond)
	if d := tsClock(later) - tsClock(now); d < 1233 || d > 1235 {
		t.Errorf("1234 ms later the TSval clock moved %d ms", d)
	}
	base := instantBase.UnixNano()
	want := uint32((base + int64(now.Sub(instantBase))) / int64(time.Millisecond))
	if got := tsClock(now); got != want {
		t.Errorf("tsClock(now) = %d, want instantBase's wall clock plus the monotonic time since, %d", got, want)
	}
	// With no wall-clock step since instantBase, the wall clock agrees
	// to the millisecond.
	if d := int32(tsClock(now) - uint32(now.UnixMilli())); d < -1 || d > 1 {
		t.Errorf("TSval clock %d ms off the wall clock", d)
	}
}

// monoNano reads a virtual time as it is, and a real one as the wall
// clock at instantBase plus the monotonic time since: two real times a
// second apart are a second apart in it, however the wall clock moved.
func TestMonoNano(t *testing.T) {
	v := clock.Epoch.Add(1234567 * time.Nanosecond)
	if got := monoNano(v); got != v.UnixNano() {
		t.Errorf("monoNano(virtual) = %d, want %d", got, v.UnixNano())
	}
	now := time.Now()
	if d := monoNano(now.Add(time.Second)) - monoNano(now); d != int64(time.Second) {
		t.Errorf("a second later monoNano moved %d ns", d)
	}
}
