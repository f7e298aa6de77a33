package tcp

import "time"

// instant is a point in time as the engine stores it: nanoseconds since
// instantBase plus instantOffset, 0 for none (a timer not armed). The
// offset keeps every instant the engine meets positive, so that none
// sorts before 0, as no time.Time sorts before the zero one. It takes 8 bytes where a
// time.Time takes 24, which matters for the dozen deadlines and stamps
// every connection keeps (issue 9). The engine's API still takes and
// returns time.Time: the conversions happen where a value is stored or
// read back. The engine never reads a clock (instantBase is only an
// origin): an instant follows the clock of the times passed in, the
// monotonic one when they carry it (time.Now), as time.Time's Sub and
// Add do, and the wall clock otherwise (a virtual clock).
type instant int64

// instantBase is the origin of instants.
var instantBase = time.Now()

// instantOffset is what instantBase reads as: 2^62 ns, about 146 years,
// so that the times of a virtual clock (clock.Epoch is in 2000) are
// positive too.
const instantOffset = 1 << 62

// instantOf converts t; the zero time.Time is 0.
func instantOf(t time.Time) instant {
	if t.IsZero() {
		return 0
	}
	if i := instant(t.Sub(instantBase)) + instantOffset; i > 0 {
		return i
	}
	return 1 // more than 146 years before instantBase: the earliest instant
}

// Time converts i back; 0 is the zero time.Time.
func (i instant) Time() time.Time {
	if i == 0 {
		return time.Time{}
	}
	return instantBase.Add(time.Duration(i - instantOffset))
}

// monoNano is now in nanoseconds since the Unix epoch, reckoned as the
// wall clock at instantBase advanced by the monotonic clock since, when
// now carries one (time.Now); a virtual clock's times, which carry none,
// read as they are. The engine's clocks kept as numbers (the TSval clock,
// the ISN's timer, the stamps of rate limits, quick ACKs and receive-buffer
// tuning) take it rather than now.UnixNano, so that a step of the wall
// clock, by NTP or an operator, moves none of them; and they still grow
// from one process to the next, as the wall clock does.
func monoNano(now time.Time) int64 {
	return instantBase.UnixNano() + int64(now.Sub(instantBase))
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
