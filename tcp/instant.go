package tcp

import "time"

// instant is a point in time as the engine stores it: Unix nanoseconds of
// the time.Time its caller passed in, 0 for none (a timer not armed).
// It takes 8 bytes where a time.Time takes 24, which matters for the
// dozen deadlines and stamps every connection keeps (issue 9). The
// engine's API still takes and returns time.Time: the conversions happen
// where a value is stored or read back. The engine never reads a clock;
// like time.Time's wall clock, an instant follows the caller's clock.
type instant int64

// instantOf converts t; the zero time.Time is 0.
func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	return instant(t.UnixNano())
}

// Time converts i back; 0 is the zero time.Time.
func (i instant) Time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return time.Unix(0, int64(i))
}

// IsZero reports whether i is unset.
func (i instant) IsZero() bool { return i == 0 }

// Add is i + d.
func (i instant) Add(d time.Duration) instant { return i + instant(d) }

// Sub is i − j.
func (i instant) Sub(j instant) time.Duration { return time.Duration(i - j) }

// After and Before compare two instants.
func (i instant) After(j instant) bool  { return i > j }
func (i instant) Before(j instant) bool { return i < j }
