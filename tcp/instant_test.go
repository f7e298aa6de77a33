package tcp

import (
	"strings"
	"testing"
	"time"
)

// Instants convert both ways exactly, the zero time is the zero instant,
// and every time the engine meets (a virtual clock's in 2000, the real
// clock's) is a positive instant, after the "not armed" 0, as every
// time.Time is after the zero one.
func TestInstant_RoundTripAndOrder(t *testing.T) {
	if instantOf(time.Time{}) != 0 || !instant(0).Time().IsZero() {
		t.Fatalf("zero time: %d, %v", instantOf(time.Time{}), instant(0).Time())
	}
	now := time.Now()
	for _, at := range []time.Time{t0, t0.Add(105 * time.Millisecond), time.Unix(0, 0), now, now.Add(48 * time.Hour)} {
		i := instantOf(at)
		if i <= 0 {
			t.Errorf("%v: instant %d, not after 0", at, i)
		}
		if back := i.Time(); !back.Equal(at) {
			t.Errorf("%v: back as %v", at, back)
		}
	}
	if d := instantOf(t0.Add(5 * time.Millisecond)).Sub(instantOf(t0)); d != 5*time.Millisecond {
		t.Errorf("Sub: %v", d)
	}
	// A real time keeps its monotonic reading through the round trip:
	// comparisons with time.Now use the monotonic clock.
	if s := instantOf(now).Time().String(); !strings.Contains(s, " m=") {
		t.Errorf("%s: no monotonic reading", s)
	}
}
