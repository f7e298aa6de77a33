package clock

import (
	"testing"
	"time"
)

// TestReal_FollowsTimeNow: Real's times lie between two time.Now readings
// taken around them, by the monotonic clock (Before, Sub) and, with no
// step of the wall clock during the test, by the wall clock too.
func TestReal_FollowsTimeNow(t *testing.T) {
	for range 1000 {
		before := time.Now()
		got := Real{}.Now()
		after := time.Now()
		if got.Before(before) || after.Before(got) {
			t.Fatalf("Real.Now() = %v, not within [%v, %v]", got, before, after)
		}
		// The wall readings: Round(0) strips the monotonic one. Wall and
		// monotonic clocks may drift apart by NTP's slew over the
		// process's life; a millisecond is far more than this test sees.
		wall := got.Round(0)
		if d := wall.Sub(before.Round(0)); d < -time.Millisecond || d > after.Sub(before)+time.Millisecond {
			t.Fatalf("Real.Now() wall reading %v, %v after time.Now's", wall, d)
		}
	}
}

// TestVirtual_MovesOnlyWhenTold: a Virtual clock reads Epoch, then only
// what Set and Advance make it.
func TestVirtual_MovesOnlyWhenTold(t *testing.T) {
	v := NewVirtual()
	if got := v.Now(); !got.Equal(Epoch) {
		t.Fatalf("NewVirtual().Now() = %v, want %v", got, Epoch)
	}
	v.Advance(1500 * time.Millisecond)
	if got, want := v.Now(), Epoch.Add(1500*time.Millisecond); !got.Equal(want) {
		t.Fatalf("after Advance: %v, want %v", got, want)
	}
	at := Epoch.Add(time.Hour)
	v.Set(at)
	if got := v.Now(); !got.Equal(at) {
		t.Fatalf("after Set: %v, want %v", got, at)
	}
}
