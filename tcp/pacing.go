package tcp

import "time"

// Pacing (Config.Pacing) spreads segments over the round trip: after
// each segment the next may go only when the previous one has "left" at
// the pacing rate, cwnd/SRTT times 2 in slow start and 1.2 in congestion
// avoidance (Linux's ratios, so that the window can still grow). The
// engine keeps a next-send-time deadline; Deadline includes it.

// paced reports whether pacing holds the next segment back at now, and
// arms the pacing deadline if so.
func (t *TCB) paced(now time.Time) bool {
	if !t.cfg.Pacing || t.paceAt.IsZero() {
		return false
	}
	if !instantOf(now).Before(t.paceAt) {
		t.paceAt = 0
		return false
	}
	return true
}

// paceSent moves the next-send time past a segment of n bytes.
func (t *TCB) paceSent(n int, now time.Time) {
	if !t.cfg.Pacing || !t.hasRTT || t.srtt <= 0 {
		return
	}
	ratio := 1.2
	if t.cc.InSlowStart() {
		ratio = 2
	}
	rate := ratio * float64(t.cwnd()) / t.srtt.Seconds() // bytes per second
	gap := time.Duration(float64(n) / rate * float64(time.Second))
	start := instantOf(now)
	if t.paceAt.After(start) {
		start = t.paceAt
	}
	t.paceAt = start.Add(gap)
}
